"""Predictive cache warming with real parts: Redis, the NLU, the modelserver (smollm2:135m) and an orchestrator with
telemetry and warming on (interval 1 s), reading a next-intent model trained by the product's own training code.

A real chat records telemetry (the redacted question only for a cacheable intent, never the session id itself);
after the cache is flushed, a greeting makes the session active, the warmer predicts a question as next and
answers it into the cache; the user's question then hits the warmed entry, and the warmer's ledger counts the
warm-up as used.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from alice.models import TEST_MODEL
from alice.signing import Claims, sign_request
from orchestrator.warming.sessions import Event
from orchestrator.warming.training import train
from procs import Proc, start_redis, start_service, wait_http

pytestmark = pytest.mark.llm

SECRET = "warming-it-" + secrets.token_urlsafe(24)
TENANT = "it-warm"
USER = Claims(tenant=TENANT, role="user", key_id="k-warm", tools=("*",))
ADMIN = Claims(tenant=TENANT, role="admin", key_id="k-admin", tools=("*",))
QUESTION = "Vad är en fjord?"


@dataclass
class Stack:
    redis: Proc
    orchestrator: Proc


def _model(folder: Path) -> None:
    """A model trained on telemetry where a greeting or small talk is followed by a question (info.query)."""
    rng = random.Random(5)
    events = []
    start = time.time() - 30 * 86400
    for n in range(120):
        ts = start + n * 3 * 3600 + rng.uniform(0, 3000)
        first = "greeting.hello" if n % 2 else "smalltalk"
        events += [Event(ts, TENANT, f"s{n}", first), Event(ts + 45, TENANT, f"s{n}", "info.query")]
    model, report = train(events)
    assert report["held_out"]["forest"]["top1"] == 1.0
    model.save(folder)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("warming-logs")
    model_dir = tmp_path_factory.mktemp("warming-model")
    _model(model_dir)
    started: list[Proc] = []
    try:
        redis_proc = start_redis(log_dir)
        started.append(redis_proc)
        nlu = start_service("nlu", "nlu.app:create_app", log_dir, {"ALICE_LOG_FORMAT": "json"}, 240)
        started.append(nlu)
        llm = start_service(
            "modelserver", "modelserver.app:create_app", log_dir, {"MODELSERVER_MODELS": TEST_MODEL}, 240
        )
        started.append(llm)
        wait_http(nlu, "/ready", 300)
        env = {
            "ALICE_INTERNAL_SECRET": SECRET,
            "ALICE_LOG_FORMAT": "json",
            "ORCHESTRATOR_NLU_URL": nlu.url,
            "OLLAMA_HOST": llm.url,
            "REDIS_URL": redis_proc.url,
            "ORCHESTRATOR_MODEL": TEST_MODEL,
            "ORCHESTRATOR_NUM_PREDICT_MICRO": "12",
            "ORCHESTRATOR_NUM_PREDICT_DEEP": "12",
            "ORCHESTRATOR_WARMING_ENABLED": "true",
            "ORCHESTRATOR_WARMING_INTERVAL_S": "1",
            "ORCHESTRATOR_WARMING_MODEL_DIR": str(model_dir),
        }
        orchestrator = start_service("orchestrator", "orchestrator.app:create_app", log_dir, env)
        started.append(orchestrator)
        wait_http(orchestrator, "/ready", 240)
        yield Stack(redis_proc, orchestrator)
    finally:
        for proc in reversed(started):
            proc.stop()


def _post(stack: Stack, path: str, body: dict[str, Any], claims: Claims = USER) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **sign_request(SECRET.encode(), "POST", path, raw, claims)}
    return httpx.post(stack.orchestrator.url + path, content=raw, headers=headers, timeout=120)


def _chat(stack: Stack, message: str, session: str) -> dict[str, Any]:
    response = _post(stack, "/api/chat", {"message": message, "session_id": session})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _events(client: redis.Redis) -> list[dict[str, str]]:
    raw: Any = client.xrange(f"alice:telemetry:ev:{TENANT}")
    return [{k.decode(): v.decode() for k, v in data.items()} for _id, data in raw]


def _until(check: Callable[[], Any], timeout_s: float = 90) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout_s} s")


def _counters(client: redis.Redis) -> dict[str, int]:
    raw: Any = client.hgetall("alice:warming:counters")
    return {k.decode(): int(v) for k, v in raw.items()}


def test_chats_are_recorded_and_a_warmed_answer_is_hit(stack: Stack) -> None:
    client = redis.Redis.from_url(stack.redis.url)
    first = _chat(stack, QUESTION, "session-one")
    assert first["intent"] == "info.query" and not first["cache"]["hit"]
    clock = _chat(stack, "vad är klockan", "session-one")
    assert clock["intent"] == "time.now"
    events = _events(client)
    assert [e["i"] for e in events] == ["info.query", "time.now"]
    assert events[0]["q"] == QUESTION and "q" not in events[1]  # no text kept for a live-data intent
    assert all(e["s"] != "session-one" and len(e["s"]) == 24 for e in events)  # a hash, not the client's id

    flushed = _post(stack, "/api/cache/flush", {}, ADMIN)
    assert flushed.status_code == 200, flushed.text
    warmed_before = _counters(client).get("warmed", 0)
    greeting = _chat(stack, "Hej!", "session-two")
    assert greeting["intent"] in ("greeting.hello", "smalltalk")
    _until(lambda: _counters(client).get("warmed", 0) > warmed_before)

    asked = _chat(stack, QUESTION, "session-two")
    assert asked["cache"]["hit"] and asked["cache"]["kind"] == "exact"
    counters = _until(lambda: (c := _counters(client)).get("used", 0) >= 1 and c)
    assert counters["used"] >= 1
    assert len(_events(client)) == 4  # the warm-ups were not recorded as traffic

    def metrics() -> str:
        return httpx.get(stack.orchestrator.url + "/metrics", timeout=10).text

    text = _until(lambda: 'alice_warming_settled_total{outcome="used"} 1.0' in (m := metrics()) and m)
    assert 'alice_warming_candidates_total{outcome="warmed"}' in text
