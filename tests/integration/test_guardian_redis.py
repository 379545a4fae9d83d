"""The guardian's Redis state on a real redis-server: rate limits (the Lua script alone, and through the real
guardian process in front of a closed port: an admitted chat request then gets 503 from the missing
orchestrator, a limited one 429 before that) and the audit trail (stream and file)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from stdnum import luhn

from guardian.audit import STREAM, AuditEntry, RedisAuditSink
from guardian.keys import KeyStore
from guardian.ratelimit import Limit, RedisLimiter
from procs import Proc, free_port, start_redis, start_service


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ratelimit-logs")


@pytest.fixture(scope="module")
def redis_proc(log_dir: Path) -> Iterator[Proc]:
    proc = start_redis(log_dir)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def redis(redis_proc: Proc) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_proc.url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_exactly_the_limit_passes_under_concurrency(redis: Redis) -> None:
    limiter = RedisLimiter(redis, prefix="it:exact")
    scopes = [("key:k1", Limit(7, 60))]
    decisions = await asyncio.gather(*(limiter.hit(scopes) for _ in range(40)))
    assert sum(d.admitted for d in decisions) == 7
    assert sorted(d.remaining for d in decisions if d.admitted) == [0, 1, 2, 3, 4, 5, 6]
    refused = [d for d in decisions if not d.admitted]
    assert all(d.limit == 7 and d.remaining == 0 and 0 < d.reset_s <= 60 for d in refused)


async def test_a_refusal_counts_in_no_scope_and_the_tenant_limit_spans_its_keys(redis: Redis) -> None:
    limiter = RedisLimiter(redis, prefix="it:scopes")
    tenant = ("tenant:acme", Limit(5, 60))
    first = [("key:a", Limit(3, 60)), tenant]
    second = [("key:b", Limit(3, 60)), tenant]
    a = [await limiter.hit(first) for _ in range(4)]
    assert [d.admitted for d in a] == [True, True, True, False]  # key a's own limit
    b = [await limiter.hit(second) for _ in range(3)]
    # the tenant had 3 from key a (the refused 4th was not counted), so key b gets the tenant's last 2
    assert [d.admitted for d in b] == [True, True, False]
    assert b[1].remaining == 0 and b[0].limit == 5  # the tightest scope's numbers


async def test_the_window_ends(redis: Redis) -> None:
    limiter = RedisLimiter(redis, prefix="it:window")
    scopes = [("key:w", Limit(1, 1))]
    first = await limiter.hit(scopes)
    assert first.admitted
    if not (await limiter.hit(scopes)).admitted:  # same one-second window (unless it just turned)
        time.sleep(first.reset_s + 0.05)
    assert (await limiter.hit(scopes)).admitted


def _guardian_env(store: KeyStore, limits: str, redis_url: str) -> dict[str, str]:
    """A guardian in front of a closed port (admitted requests get 503), with ``limits`` counted in ``redis_url``."""
    return {
        "ALICE_INTERNAL_SECRET": "ratelimit-it-secret-0123456789",
        "ALICE_LOG_FORMAT": "json",
        "GUARDIAN_KEYS_FILE": str(store.path),
        "GUARDIAN_UPSTREAM_URL": f"http://127.0.0.1:{free_port()}",
        "GUARDIAN_API_KEYS": "",
        "GUARDIAN_RATE_LIMITS": limits,
        "REDIS_URL": redis_url,
    }


@pytest.fixture(scope="module")
def guardian(
    log_dir: Path, redis_proc: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proc, str, str]]:
    """The guardian and two user keys of tenant acme (one per test: each key has its own limit)."""
    store = KeyStore(tmp_path_factory.mktemp("ratelimit-keys") / "keys.json")
    key, _ = store.create("acme", "user")
    other, _ = store.create("acme", "user")
    env = _guardian_env(store, "user=5/min", redis_proc.url) | {"GUARDIAN_AUDIT_FILE": str(log_dir / "audit.jsonl")}
    proc = start_service("guardian-ratelimit", "guardian.app:create_app", log_dir, env)
    try:
        yield proc, key, other
    finally:
        proc.stop()


def test_parallel_requests_through_the_guardian_get_exactly_the_limit(guardian: tuple[Proc, str, str]) -> None:
    proc, key, _ = guardian

    def send(_: int) -> httpx.Response:
        return httpx.post(
            proc.url + "/api/chat", json={"message": "hej"}, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(send, range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(429) == 7 and statuses.count(503) == 5, statuses  # 503: admitted, orchestrator down
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert limited.json()["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["ratelimit-limit"] == "5" and limited.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(limited.headers["ratelimit-reset"]) <= 60
    admitted = [r for r in responses if r.status_code == 503]  # counted, then the orchestrator was down
    assert sorted(r.headers["ratelimit-remaining"] for r in admitted) == ["0", "1", "2", "3", "4"]
    metrics = httpx.get(proc.url + "/metrics", timeout=10).text
    assert 'alice_guardian_ratelimit_total{outcome="limited"} 7.0' in metrics


def test_every_decision_has_an_audit_entry_without_personal_data(
    guardian: tuple[Proc, str, str], redis_proc: Proc, log_dir: Path
) -> None:
    proc, _, key = guardian
    ten = "850709238" + luhn.calc_check_digit("850709238")
    sent = {
        "redact": ({"message": f"mitt personnummer är {ten}"}, {"Authorization": f"Bearer {key}"}),
        "deny-key": ({"message": "hej"}, {"Authorization": "Bearer alice_nope0000_" + "x" * 43}),
        "deny-schema": ({"text": "hej"}, {"Authorization": f"Bearer {key}"}),
    }
    own = {"Authorization": f"Bearer {key}"}
    sent.update({f"allow-{i}": ({"message": "hej"}, own) for i in range(4)})  # the 4th is over the key's 5/min
    ids = {}
    for name, (body, headers) in sent.items():
        rid = f"audit-{name}-{time.time_ns()}"
        httpx.post(proc.url + "/api/chat", json=body, headers={**headers, "X-Request-ID": rid}, timeout=30)
        ids[name] = rid

    async def read() -> list[AuditEntry]:
        client = Redis.from_url(redis_proc.url)
        try:
            rows = await client.xrange(STREAM)
        finally:
            await client.aclose()
        return [AuditEntry.from_fields(fields) for _id, fields in rows]

    entries = {e.request_id: e for e in asyncio.run(read())}
    redacted, bad_key, bad_schema = (entries[ids[n]] for n in ("redact", "deny-key", "deny-schema"))
    # forwarded after redaction (the orchestrator is down: 503), the kinds and counts only
    assert (redacted.decision, redacted.reason, redacted.status, redacted.pii) == (
        "redact",
        "ok",
        503,
        {"PERSONNUMMER": 1},
    )
    assert (bad_key.decision, bad_key.reason, bad_key.status, bad_key.tenant) == ("deny", "unauthenticated", 401, None)
    assert (bad_schema.decision, bad_schema.reason, bad_schema.tenant) == ("deny", "validation_failed", "acme")
    allowed = [entries[ids[f"allow-{i}"]] for i in range(4)]
    assert [(e.decision, e.reason, e.status) for e in allowed] == [("allow", "ok", 503)] * 3 + [
        ("limit", "rate_limited", 429)
    ]
    assert all(e.route == "/api/chat" for e in entries.values())
    trail = (log_dir / "audit.jsonl").read_text(encoding="utf-8")
    assert all(rid in trail for rid in ids.values())  # the file sink has them too
    for text in (trail, *(proc_log.read_text(errors="replace") for proc_log in log_dir.glob("*.log"))):
        assert ten not in text and key not in text


def test_alice_audit_tail_prints_the_newest_entries(guardian: tuple[Proc, str, str], redis_proc: Proc) -> None:
    from typer.testing import CliRunner

    from alice.cli import app

    proc, _, _ = guardian
    rid = f"audit-tail-{time.time_ns()}"
    httpx.post(proc.url + "/api/chat", json={"message": "hej"}, headers={"X-Request-ID": rid}, timeout=30)
    result = CliRunner().invoke(app, ["audit", "tail", "--n", "2", "--redis-url", redis_proc.url])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 2 and lines[-1]["request_id"] == rid and lines[-1]["decision"] == "deny"


def test_the_guardian_cost_bench_times_every_step(redis_proc: Proc) -> None:
    from alice.cli.guardbench import bench_guardian

    result = bench_guardian(30, redis_proc.url)
    assert set(result["steps"]) == {"auth", "rate_limit", "schema", "injection", "pii", "tools"}
    assert result["n"] == 30 and result["total"]["p95_ms"] >= result["baseline"]["p95_ms"] > 0


def test_with_redis_gone_the_guardian_limits_locally_and_stops_waiting_on_redis(
    log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    store = KeyStore(tmp_path_factory.mktemp("fallback-keys") / "keys.json")
    key, _ = store.create("acme", "user")
    env = _guardian_env(store, "user=4/min", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    proc = start_service("guardian-redis-down", "guardian.app:create_app", log_dir, env)
    try:
        statuses = [
            httpx.post(
                proc.url + "/api/chat", json={"message": "hej"}, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ).status_code
            for _ in range(7)
        ]
        assert statuses.count(429) == 3 and statuses.count(503) == 4, statuses  # the same 4/min, counted here
        state = httpx.get(proc.url + "/guardian/state", timeout=10).json()
        (redis,) = state["breakers"]
        assert redis["name"] == "redis" and redis["state"] in ("open", "half_open") and redis["opened_total"] >= 1
        metrics = httpx.get(proc.url + "/metrics", timeout=10).text
        assert 'alice_guardian_ratelimit_total{outcome="unavailable"} 7.0' in metrics
    finally:
        proc.stop()


async def test_the_audit_stream_keeps_about_max_entries_whatever_its_retention(redis: Redis) -> None:
    stream = f"it:audit:cap:{time.time_ns()}"
    sink = RedisAuditSink(redis, retention_s=90 * 86400, stream=stream, max_entries=500)
    now = time.time()
    for i in range(3000):
        await sink.write(AuditEntry(now + i / 1000, f"req-{i}", "/api/chat", "allow", "ok", 200, "t", "k"))
    length = await redis.xlen(stream)
    # approximate trimming removes whole nodes (100 entries by default): about the cap, never the 3,000
    assert 500 <= length <= 700
    newest = await sink.tail(1)
    assert newest[0].request_id == "req-2999"
    await redis.delete(stream)


async def test_without_a_cap_the_audit_stream_is_trimmed_by_age_only(redis: Redis) -> None:
    stream = f"it:audit:age:{time.time_ns()}"
    sink = RedisAuditSink(redis, retention_s=1, stream=stream)
    for i in range(300):
        await sink.write(AuditEntry(time.time(), f"old-{i}", "/api/chat", "allow", "ok", 200))
    assert await redis.xlen(stream) == 300
    await asyncio.sleep(1.2)  # stream ids are the server's clock: the first 300 are now older than 1 s
    for i in range(300):
        await sink.write(AuditEntry(time.time(), f"new-{i}", "/api/chat", "allow", "ok", 200))
    length = await redis.xlen(stream)
    assert 300 <= length < 600  # the old entries left in whole nodes as new ones arrived
    await redis.delete(stream)
