import pytest

from alice.errors import SignatureError
from alice.signing import Claims, MemoryNonceStore, sign_request, verify_request

SECRET = b"0123456789abcdef-test-secret"
CLAIMS = Claims(tenant="t1", role="user", key_id="k1", tools=("time.now",))


def test_roundtrip():
    h = sign_request(SECRET, "POST", "/api/chat", b'{"message":"hej"}', CLAIMS, now=1000)
    v = verify_request(SECRET, "POST", "/api/chat", b'{"message":"hej"}', h, max_skew_s=30, now=1010)
    assert v.claims == CLAIMS


@pytest.mark.parametrize(
    "change",
    [
        {"body": b'{"message":"hej!"}'},
        {"path": "/api/status"},
        {"method": "GET"},
        {"secret": b"another-secret-of-enough-length"},
    ],
)
def test_any_change_breaks_signature(change):
    h = sign_request(SECRET, "POST", "/api/chat", b'{"message":"hej"}', CLAIMS, now=1000)
    args = {"secret": SECRET, "method": "POST", "path": "/api/chat", "body": b'{"message":"hej"}'} | change
    with pytest.raises(SignatureError):
        verify_request(args["secret"], args["method"], args["path"], args["body"], h, max_skew_s=30, now=1000)


def test_tampered_claims_rejected():
    h = sign_request(SECRET, "GET", "/api/status", b"", CLAIMS, now=1000)
    h["X-Alice-Claims"] = Claims(tenant="t2", role="admin", key_id="k1").encode()
    with pytest.raises(SignatureError, match="Invalid"):
        verify_request(SECRET, "GET", "/api/status", b"", h, max_skew_s=30, now=1000)


def test_skew_and_missing():
    h = sign_request(SECRET, "GET", "/api/status", b"", CLAIMS, now=1000)
    with pytest.raises(SignatureError, match="skew"):
        verify_request(SECRET, "GET", "/api/status", b"", h, max_skew_s=30, now=1031)
    with pytest.raises(SignatureError, match="Missing"):
        verify_request(SECRET, "GET", "/api/status", b"", {}, max_skew_s=30, now=1000)


async def test_nonce_store_detects_replay():
    clock = [0.0]
    store = MemoryNonceStore(clock=lambda: clock[0])
    assert await store.add("n1", 60)
    assert not await store.add("n1", 60)
    clock[0] = 61
    assert await store.add("n1", 60)
