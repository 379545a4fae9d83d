"""The answer cache with real parts: Redis, the NLU, the modelserver (smollm2:135m) and three orchestrators.

Orchestrators ``a`` and ``b`` share one Redis and one LLM, so a question answered by ``a`` is a hit on ``b``;
``down`` shares the Redis but its LLM is a closed port (the negative cache, and hits that need no LLM). The
last test stops Redis: the orchestrators keep answering (cache bypassed) and the cache works again when Redis
returns on the same port.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from alice.models import TEST_MODEL
from alice.signing import Claims, sign_request
from orchestrator import sse
from procs import Proc, free_port, start_redis, start_service, wait_http

pytestmark = pytest.mark.llm

SECRET = "cache-it-" + secrets.token_urlsafe(24)
USER = Claims(tenant="acme", role="user", key_id="k-user", tools=("*",))
OTHER = Claims(tenant="globex", role="user", key_id="k-other", tools=("*",))
ADMIN = Claims(tenant="acme", role="admin", key_id="k-admin", tools=("*",))


@dataclass
class Stack:
    log_dir: Path
    redis: Proc
    nlu: Proc
    a: Proc
    b: Proc
    down: Proc


def _env(nlu: Proc, redis_url: str, ollama_host: str) -> dict[str, str]:
    return {
        "ALICE_INTERNAL_SECRET": SECRET,
        "ALICE_LOG_FORMAT": "json",
        "ORCHESTRATOR_NLU_URL": nlu.url,
        "OLLAMA_HOST": ollama_host,
        "REDIS_URL": redis_url,
        "ORCHESTRATOR_MODEL": TEST_MODEL,
        "ORCHESTRATOR_NUM_PREDICT_MICRO": "12",
        "ORCHESTRATOR_NUM_PREDICT_DEEP": "12",
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("cache-logs")
    started: list[Proc] = []
    stack: Stack | None = None
    try:
        redis_proc = start_redis(log_dir)
        started.append(redis_proc)
        nlu = start_service("nlu", "nlu.app:create_app", log_dir, {"ALICE_LOG_FORMAT": "json"}, 240)
        started.append(nlu)
        model = start_service(
            "modelserver", "modelserver.app:create_app", log_dir, {"MODELSERVER_MODELS": TEST_MODEL}, 240
        )
        started.append(model)
        wait_http(nlu, "/ready", 300)
        procs = {}
        for name, host in (("a", model.url), ("b", model.url), ("down", f"http://127.0.0.1:{free_port()}")):
            procs[name] = start_service(
                f"orchestrator-{name}", "orchestrator.app:create_app", log_dir, _env(nlu, redis_proc.url, host)
            )
            started.append(procs[name])
        wait_http(procs["a"], "/ready", 240)
        stack = Stack(log_dir, redis_proc, nlu, procs["a"], procs["b"], procs["down"])
        yield stack
    finally:
        if stack is not None:  # a test may have restarted it: stop the one running now
            started.append(stack.redis)
        for proc in reversed(started):
            proc.stop()


def _signed(proc: Proc, method: str, path: str, payload: Any, claims: Claims = USER) -> httpx.Response:
    body = json.dumps(payload).encode() if payload is not None else b""
    headers = {"Content-Type": "application/json", **sign_request(SECRET.encode(), method, path, body, claims)}
    return httpx.request(method, proc.url + path, content=body, headers=headers, timeout=120)


def _chat(proc: Proc, message: str, claims: Claims = USER, **extra: Any) -> httpx.Response:
    return _signed(proc, "POST", "/api/chat", {"message": message, **extra}, claims)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_repeat_is_an_exact_hit_without_the_nlu_or_the_llm(stack: Stack) -> None:
    first = _chat(stack.a, "Vad är huvudstaden i Norge?")
    assert first.headers["x-cache"] == "miss"
    fresh = _ok(first)
    assert fresh["cache"]["hit"] is False
    again = _chat(stack.a, "vad är huvudstaden i Norge")  # case and punctuation do not matter
    hit = _ok(again)
    assert again.headers["x-cache"] == "hit" and again.headers["x-cache-kind"] == "exact"
    assert hit["cache"] == {"hit": True, "tier": 1, "kind": "exact", "similarity": None}
    assert hit["response"] == fresh["response"] and hit["route"] == fresh["route"]
    assert hit["intent"] == fresh["intent"] and hit["request_id"] != fresh["request_id"]


def test_a_streamed_answer_is_cached_and_a_cached_one_streams(stack: Stack) -> None:
    first = _chat(stack.a, "Berätta kort om Kiruna", stream=True)
    assert first.status_code == 200 and first.headers["x-cache"] == "miss", first.text
    fresh = json.loads(sse.parse(first.text)[-1][1])
    again = _chat(stack.b, "berätta kort om kiruna", stream=True)
    assert again.status_code == 200 and again.headers["x-cache"] == "hit", again.text
    events = sse.parse(again.text)
    assert [name for name, _ in events] == ["meta", "delta", "done"]
    meta, done = json.loads(events[0][1]), json.loads(events[-1][1])
    assert meta["cache"]["hit"] is True and meta["cache"]["kind"] == "exact"
    assert done["response"] == fresh["response"] == json.loads(events[1][1])["content"]


def test_replicas_share_hits_even_when_their_llm_is_down(stack: Stack) -> None:
    fresh = _ok(_chat(stack.a, "Hur många ben har en spindel?"))
    on_b = _ok(_chat(stack.b, "Hur många ben har en spindel?"))
    assert on_b["cache"]["hit"] is True and on_b["response"] == fresh["response"]
    # The orchestrator whose LLM is a closed port still answers what the cache holds.
    on_down = _ok(_chat(stack.down, "Hur många ben har en spindel?"))
    assert on_down["cache"]["kind"] == "exact" and on_down["response"] == fresh["response"]


def test_a_paraphrase_is_a_semantic_hit_on_another_replica(stack: Stack) -> None:
    fresh = _ok(_chat(stack.a, "Vad är huvudstaden i Frankrike?"))
    para = _chat(stack.b, "Vad är Frankrikes huvudstad?")
    body = _ok(para)
    assert body["cache"]["hit"] is True and body["cache"]["kind"] == "semantic", body
    assert para.headers["x-cache-kind"] == "semantic" and body["response"] == fresh["response"]
    assert 0.8 < body["cache"]["similarity"] <= 1.0
    # The paraphrase's own key now points at the entry: its repeat is an exact hit.
    assert _ok(_chat(stack.b, "Vad är Frankrikes huvudstad?"))["cache"]["kind"] == "exact"


def test_different_key_entities_never_share_an_answer(stack: Stack) -> None:
    _ok(_chat(stack.a, "Berätta kort om Göteborg"))
    other_city = _ok(_chat(stack.a, "Berätta kort om Uppsala"))
    assert other_city["cache"]["hit"] is False


def test_tenants_never_see_each_others_answers(stack: Stack) -> None:
    _ok(_chat(stack.a, "Vad betyder ordet lagom?"))
    assert _ok(_chat(stack.a, "Vad betyder ordet lagom?", OTHER))["cache"]["hit"] is False


def test_live_intents_are_never_cached(stack: Stack) -> None:
    for _ in range(2):
        body = _ok(_chat(stack.a, "Vad är klockan nu?"))
        assert body["intent"] == "time.now" and body["route"] == "tool" and body["cache"]["hit"] is False


def test_a_thumbs_down_drops_the_answer(stack: Stack) -> None:
    _ok(_chat(stack.a, "Vad är fotosyntes?"))
    hit = _ok(_chat(stack.a, "Vad är fotosyntes?"))
    assert hit["cache"]["hit"] is True
    rated = _signed(stack.b, "POST", "/api/feedback", {"request_id": hit["request_id"], "rating": "down"})
    assert rated.status_code == 200, rated.text
    assert rated.json()["invalidated"] is True and rated.json()["cache_kind"] == "exact"
    assert _ok(_chat(stack.a, "Vad är fotosyntes?"))["cache"]["hit"] is False
    # Another tenant cannot rate acme's answers; an unknown request id is a 404 problem.
    foreign = _signed(stack.a, "POST", "/api/feedback", {"request_id": hit["request_id"], "rating": "down"}, OTHER)
    assert foreign.status_code == 404 and foreign.headers["content-type"].startswith("application/problem+json")
    bad = _signed(stack.a, "POST", "/api/feedback", {"request_id": hit["request_id"], "rating": "meh"})
    assert bad.status_code == 422


def test_an_upstream_failure_is_remembered_briefly_per_tenant(stack: Stack) -> None:
    question = f"Skriv en dikt om en katt som heter {uuid.uuid4().hex[:6]}"
    first = _chat(stack.down, question)
    assert first.status_code == 503 and "remembered" not in first.json()["detail"]
    second = _chat(stack.down, question)
    assert second.status_code == 503 and "remembered" in second.json()["detail"]
    assert 1 <= int(second.headers["retry-after"]) <= 5
    other = _chat(stack.down, question, OTHER)  # never replayed to another tenant
    assert other.status_code == 503 and "remembered" not in other.json()["detail"]


def test_admin_monitoring_invalidation_and_flush(stack: Stack) -> None:
    _ok(_chat(stack.a, "Vem skrev Röda rummet?"))
    assert _signed(stack.a, "GET", "/api/monitoring/cache", None).status_code == 403  # a user is not an admin
    seen = _signed(stack.a, "GET", "/api/monitoring/cache", None, ADMIN)
    stats = _ok(seen)
    assert stats["entries"] >= 1 and stats["available"] is True
    assert stats["replica_lookups"]["exact"]["hit"] >= 1
    assert stats["counters"]["stored"] >= 1 and stats["hits"]["exact"] >= 1 and stats["hits"]["semantic"] >= 1
    assert stats["hits_by_level"]["hits_L1"] >= 1 and stats["replica_lookups"]["hits_by_level"]["L1"] >= 1
    gone = _ok(_signed(stack.a, "POST", "/api/cache/invalidate", {"tenant": "globex"}, ADMIN))
    assert gone["removed"] >= 1
    assert _ok(_chat(stack.a, "Vem skrev Röda rummet?"))["cache"]["hit"] is True  # acme's entries stay
    assert _signed(stack.a, "POST", "/api/cache/invalidate", {}, ADMIN).status_code == 422
    flushed = _ok(_signed(stack.a, "POST", "/api/cache/flush", {}, ADMIN))
    assert flushed["removed"] >= 1
    assert _ok(_chat(stack.a, "Vem skrev Röda rummet?"))["cache"]["hit"] is False


def test_a_stopped_redis_is_bypassed_and_the_cache_returns_with_it(stack: Stack) -> None:
    stack.redis.stop()
    for _ in range(2):
        response = _chat(stack.a, "Vad heter Sveriges längsta flod?")
        assert response.status_code == 200, response.text
        assert response.json()["cache"]["hit"] is False
    stack.redis = start_redis(stack.log_dir, stack.redis.port, "redis-again")
    deadline = time.monotonic() + 30  # the cache tries Redis again after its back-off (1, 2, 3, 5 ... s)
    hit = False
    while not hit and time.monotonic() < deadline:
        response = _chat(stack.a, "Vad heter Sveriges längsta flod?")
        assert response.status_code == 200, response.text
        hit = response.json()["cache"]["hit"]
        time.sleep(0.5)
    assert hit, "the cache did not come back after Redis returned"
    assert redis.Redis.from_url(stack.redis.url).keys("alice:cache:e:*")


def test_an_answer_made_under_brownout_is_not_cached(stack: Stack) -> None:
    from dataclasses import replace

    degraded = replace(USER, load="brownout")
    first = _ok(_chat(stack.a, "Vad är huvudstaden i Danmark?", degraded))
    assert first["route"] == "micro" and first["route_reason"].endswith("_unavailable")  # deep was shed
    later = _chat(stack.a, "Vad är huvudstaden i Danmark?")  # load back to normal: asked afresh, not the small answer
    assert later.headers["x-cache"] == "miss" and _ok(later)["route"] == "deep"
