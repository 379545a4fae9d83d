"""The signature gate (pure) and, in process, the gate and request validation in front of the handlers.

The app is built with its real lifespan; nothing it depends on is reached, because every request here stops
at the gate, at validation, or at ``/api/status`` (which needs neither the NLU nor the LLM).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from alice.errors import SignatureError
from alice.signing import Claims, MemoryNonceStore, sign_request
from orchestrator.app import create_app
from orchestrator.gate import SignatureGate, signed_path
from orchestrator.settings import OrchestratorSettings

SECRET = b"unit-test-internal-secret-0123456789"
CLAIMS = Claims(tenant="acme", role="user", key_id="k1", tools=("time.now",))


def _gate(store: MemoryNonceStore | None = None) -> SignatureGate:
    return SignatureGate(SECRET, store or MemoryNonceStore(), max_skew_s=30)


async def test_valid_signature_gives_the_claims() -> None:
    headers = sign_request(SECRET, "POST", "/api/chat", b"{}", CLAIMS)
    assert await _gate().check("POST", "/api/chat", b"{}", headers) == CLAIMS


async def test_replayed_nonce_is_refused() -> None:
    gate = _gate()
    headers = sign_request(SECRET, "POST", "/api/chat", b"{}", CLAIMS)
    await gate.check("POST", "/api/chat", b"{}", headers)
    with pytest.raises(SignatureError, match="Replayed"):
        await gate.check("POST", "/api/chat", b"{}", headers)


async def test_nonce_is_forgotten_after_twice_the_skew() -> None:
    clock = [0.0]
    gate = _gate(MemoryNonceStore(clock=lambda: clock[0]))
    now = time.time()
    headers = sign_request(SECRET, "GET", "/api/status", b"", CLAIMS, now=now)
    await gate.check("GET", "/api/status", b"", headers, now=now)
    clock[0] = 59.0
    with pytest.raises(SignatureError):
        await gate.check("GET", "/api/status", b"", headers, now=now)
    clock[0] = 61.0  # past 2 x 30 s; the skew check alone now guards the old timestamp
    assert await gate.check("GET", "/api/status", b"", headers, now=now) == CLAIMS


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/api/chat", b'{"message":"hej!"}'), ("GET", "/api/chat", b"{}"), ("POST", "/api/chat?x=1", b"{}")],
)
async def test_anything_changed_in_transit_is_refused(method: str, path: str, body: bytes) -> None:
    headers = sign_request(SECRET, "POST", "/api/chat", b"{}", CLAIMS)
    with pytest.raises(SignatureError):
        await _gate().check(method, path, body, headers)


async def test_wrong_secret_stale_timestamp_and_missing_headers_are_refused() -> None:
    gate = _gate()
    with pytest.raises(SignatureError):
        await gate.check(
            "GET", "/api/status", b"", sign_request(b"another-secret-0123456789", "GET", "/api/status", b"", CLAIMS)
        )
    with pytest.raises(SignatureError, match="skew"):
        await gate.check(
            "GET", "/api/status", b"", sign_request(SECRET, "GET", "/api/status", b"", CLAIMS, now=time.time() - 120)
        )
    with pytest.raises(SignatureError, match="Missing"):
        await gate.check("GET", "/api/status", b"", {})


def test_signed_path_includes_the_query() -> None:
    assert signed_path("/api/status", "") == "/api/status"
    assert signed_path("/api/status", "a=1&b=2") == "/api/status?a=1&b=2"


# --- in process, through the app ---------------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = OrchestratorSettings(
        internal_secret=SECRET.decode(),
        nlu_url="http://127.0.0.1:9",
        ollama_host="http://127.0.0.1:9",
        redis_url=None,
        max_message_chars=50,
        log_format="json",
        log_level="WARNING",
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def _signed(method: str, path: str, body: bytes = b"") -> dict[str, str]:
    return sign_request(SECRET, method, path, body, CLAIMS)


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["code"] == code and body["status"] == status and body["request_id"]
    return body


async def test_status_needs_a_signature(client: httpx.AsyncClient) -> None:
    ok = await client.get("/api/status", headers=_signed("GET", "/api/status"))
    assert ok.status_code == 200
    assert ok.json()["tenant"] == "acme" and ok.json()["service"] == "orchestrator"
    _assert_problem(await client.get("/api/status"), 403, "invalid_signature")


async def test_status_with_a_query_is_signed_with_it(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/status?probe=1", headers=_signed("GET", "/api/status?probe=1"))).status_code == 200
    _assert_problem(
        await client.get("/api/status?probe=1", headers=_signed("GET", "/api/status")), 403, "invalid_signature"
    )


async def test_replay_through_the_app_is_refused(client: httpx.AsyncClient) -> None:
    headers = _signed("GET", "/api/status")
    assert (await client.get("/api/status", headers=headers)).status_code == 200
    body = _assert_problem(await client.get("/api/status", headers=headers), 403, "invalid_signature")
    assert "Replayed" in str(body["detail"])


async def test_ops_endpoints_need_no_signature(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200


async def test_gate_comes_before_body_validation(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"})
    _assert_problem(response, 403, "invalid_signature")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"{}",
        b'{"message": ""}',
        b'{"message": "   \\n "}',
        json.dumps({"message": "x" * 51}).encode(),
        b'{"message": "hej", "force_route": "turbo"}',
        b'{"message": "hej", "stream": "maybe"}',
        b'{"message": "hej", "unexpected": 1}',
        b'{"message": 42}',
    ],
)
async def test_invalid_chat_bodies_are_422_problems(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/api/chat", content=body, headers={**_signed("POST", "/api/chat", body), "content-type": "application/json"}
    )
    problem = _assert_problem(response, 422, "validation_failed")
    assert problem["errors"]


async def test_a_huge_body_is_413(client: httpx.AsyncClient) -> None:
    body = json.dumps({"message": "x" * 10_000}).encode()
    response = await client.post("/api/chat", content=body, headers=_signed("POST", "/api/chat", body))
    _assert_problem(response, 413, "payload_too_large")


async def test_openapi_is_signed_and_documents_the_chat_body(client: httpx.AsyncClient) -> None:
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert (await client.get(path)).status_code in (403, 404)
    response = await client.get("/openapi.json", headers=_signed("GET", "/openapi.json"))
    schema = response.json()
    body = schema["paths"]["/api/chat"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "message" in body["properties"]
