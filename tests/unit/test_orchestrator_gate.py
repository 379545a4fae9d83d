"""The signature gate (pure) and, in process, the gate and request validation in front of the handlers.

The app is built with its real lifespan; nothing it depends on is reached, because every request here stops
at the gate, at validation, or at ``/api/status`` (which needs neither the NLU nor the LLM).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from alice.errors import SignatureError
from alice.signing import Claims, MemoryNonceStore, sign_request
from orchestrator.app import create_app
from orchestrator.gate import NONCE_PREFIX, RedisNonceStore, SignatureGate, signed_path
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


# --- the Redis nonce store, with Redis up, down and back -------------------------------------------------


class FakeRedis:
    """Just ``SET ... NX EX`` of ``redis.asyncio.Redis``; ``down`` makes it fail as a stopped server does."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.down = False
        self.calls = 0

    async def set(self, name: str, value: int, *, nx: bool, ex: int) -> bool | None:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        assert nx and ex >= 1
        if name in self.keys:
            return None
        self.keys[name] = ex
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _redis_store(redis: FakeRedis, clock: Clock) -> RedisNonceStore:
    return RedisNonceStore(cast(Redis, redis), clock=clock, backoff=lambda probes: float(2 ** (probes - 1)))


async def test_redis_store_records_nonces_with_a_ttl() -> None:
    redis = FakeRedis()
    store = _redis_store(redis, Clock())
    assert await store.add("n1", 59.5) is True
    assert await store.add("n1", 59.5) is False
    assert redis.keys == {NONCE_PREFIX + "n1": 60}
    assert not store.degraded


async def test_redis_down_degrades_to_per_process_replay_protection() -> None:
    redis, clock = FakeRedis(), Clock()
    store = _redis_store(redis, clock)
    redis.down = True
    with capture_logs() as logs:
        assert await store.add("n1", 60) is True  # answered, not a 503
        assert await store.add("n1", 60) is False  # a replay is still refused by this process
        assert await store.add("n2", 60) is True
    assert store.degraded
    own = [e for e in logs if e["event"].startswith("nonce_store")]  # the breaker logs its own transitions too
    assert [e["event"] for e in own] == ["nonce_store_degraded"]  # once per outage, not per request
    assert own[0]["log_level"] == "warning" and own[0]["error_type"] == "ConnectionError"


async def test_redis_is_skipped_during_the_back_off_then_probed_again() -> None:
    redis, clock = FakeRedis(), Clock()
    store = _redis_store(redis, clock)
    redis.down = True
    await store.add("a", 60)
    await store.add("b", 60)
    assert redis.calls == 1  # the second request did not wait on Redis
    clock.now += 1.0  # the first back-off (1 s) is over: one probe, which fails
    await store.add("c", 60)
    await store.add("d", 60)
    assert redis.calls == 2
    clock.now += 1.5  # the back-off doubled to 2 s
    await store.add("e", 60)
    assert redis.calls == 2
    clock.now += 0.5
    with capture_logs() as logs:
        await store.add("f", 60)
    assert redis.calls == 3 and not [e for e in logs if e["event"].startswith("nonce_store")]  # the same outage


async def test_the_store_recovers_when_redis_returns() -> None:
    redis, clock = FakeRedis(), Clock()
    store = _redis_store(redis, clock)
    redis.down = True
    await store.add("during", 60)
    redis.down = False
    clock.now += 1.0
    with capture_logs() as logs:
        assert await store.add("after", 60) is True
    own = [e for e in logs if e["event"].startswith("nonce_store")]
    assert [e["event"] for e in own] == ["nonce_store_recovered"]
    assert own[0]["outage_s"] == 1.0
    assert not store.degraded
    assert NONCE_PREFIX + "after" in redis.keys
    assert await store.add("after", 60) is False  # Redis refuses the replay again


async def test_nonces_of_the_outage_stay_refused_here_after_recovery() -> None:
    redis, clock = FakeRedis(), Clock()
    store = _redis_store(redis, clock)
    redis.down = True
    assert await store.add("during", 60) is True
    redis.down = False
    clock.now += 1.0
    assert await store.add("during", 60) is False  # Redis never saw it; this process did
    clock.now += 61.0
    assert await store.add("later", 60) is True


async def test_a_new_outage_warns_again() -> None:
    redis, clock = FakeRedis(), Clock()
    store = _redis_store(redis, clock)
    with capture_logs() as logs:
        redis.down = True
        await store.add("a", 60)
        redis.down = False
        clock.now += 1.0
        await store.add("b", 60)
        redis.down = True
        await store.add("c", 60)
    own = [e["event"] for e in logs if e["event"].startswith("nonce_store")]
    assert own == ["nonce_store_degraded", "nonce_store_recovered", "nonce_store_degraded"]


async def test_requests_waiting_on_redis_when_it_fails_count_as_one_failure() -> None:
    redis, clock = FakeRedis(), Clock()
    store = _redis_store(redis, clock)
    gate = asyncio.Event()
    original = redis.set

    async def slow_set(name: str, value: int, *, nx: bool, ex: int) -> bool | None:
        await gate.wait()
        return await original(name, value, nx=nx, ex=ex)

    redis.set = slow_set  # type: ignore[method-assign]
    redis.down = True
    waiting = [asyncio.create_task(store.add(f"n{i}", 60)) for i in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [True] * 5
    clock.now += 1.0  # the back-off is the first one (1 s), not the fifth
    redis.down = False
    assert await store.add("x", 60) is True
    assert not store.degraded


async def test_one_request_at_a_time_probes_redis_during_an_outage() -> None:
    redis, clock = FakeRedis(), Clock()
    store = _redis_store(redis, clock)
    redis.down = True
    await store.add("a", 60)
    clock.now += 1.0
    gate = asyncio.Event()
    original = redis.set

    async def slow_set(name: str, value: int, *, nx: bool, ex: int) -> bool | None:
        await gate.wait()
        return await original(name, value, nx=nx, ex=ex)

    redis.set = slow_set  # type: ignore[method-assign]
    probe = asyncio.create_task(store.add("probe", 60))
    await asyncio.sleep(0)
    assert await store.add("b", 60) is True  # answered from the fallback while the probe waits
    gate.set()
    assert await probe is True
    assert redis.calls == 2  # the first failure and the probe; "b" never waited on Redis


async def test_the_gate_answers_with_redis_down() -> None:
    redis = FakeRedis()
    redis.down = True
    gate = SignatureGate(SECRET, _redis_store(redis, Clock()), max_skew_s=30)
    headers = sign_request(SECRET, "GET", "/api/status", b"", CLAIMS)
    assert await gate.check("GET", "/api/status", b"", headers) == CLAIMS
    with pytest.raises(SignatureError, match="Replayed"):
        await gate.check("GET", "/api/status", b"", headers)


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
