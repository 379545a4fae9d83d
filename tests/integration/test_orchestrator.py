"""The real orchestrator process with a real Redis, the real NLU and the real modelserver (smollm2:135m).

Requests are signed the way the guardian signs them (:func:`alice.signing.sign_request`). A second
orchestrator, pointed at a closed port for its LLM, shows the 503 path.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from alice.models import TEST_MODEL
from alice.signing import Claims, sign_request
from orchestrator import sse
from procs import Proc, free_port, start_redis, start_service, wait_http

pytestmark = pytest.mark.llm

SECRET = "orchestrator-it-" + secrets.token_urlsafe(24)
CLAIMS = Claims(tenant="it-tenant", role="user", key_id="it-key", tools=())
PROBLEM = "application/problem+json"


@dataclass
class Stack:
    redis: Proc
    nlu: Proc
    modelserver: Proc
    orchestrator: Proc
    llm_down: Proc


def _orchestrator_env(nlu: Proc, redis_proc: Proc, ollama_host: str) -> dict[str, str]:
    return {
        "ALICE_INTERNAL_SECRET": SECRET,
        "ALICE_LOG_FORMAT": "json",
        "ALICE_LOG_LEVEL": "INFO",
        "ORCHESTRATOR_NLU_URL": nlu.url,
        "OLLAMA_HOST": ollama_host,
        "REDIS_URL": redis_proc.url,
        "ORCHESTRATOR_MODEL": TEST_MODEL,
        "ORCHESTRATOR_NUM_PREDICT_MICRO": "16",
        "ORCHESTRATOR_NUM_PREDICT_DEEP": "16",
    }


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, NLU, modelserver, and two orchestrators (one with its LLM on a closed port)."""
    log_dir = tmp_path_factory.mktemp("orchestrator-logs")
    started: list[Proc] = []
    try:
        redis_proc = start_redis(log_dir)
        started.append(redis_proc)
        nlu = start_service("nlu", "nlu.app:create_app", log_dir, {"ALICE_LOG_FORMAT": "json"}, 240)
        started.append(nlu)
        model = start_service(
            "modelserver", "modelserver.app:create_app", log_dir, {"MODELSERVER_MODELS": TEST_MODEL}, 240
        )
        started.append(model)
        # The NLU trains (or loads) its model in the background; chats before that go on without an intent.
        wait_http(nlu, "/ready", 300)
        orch = start_service(
            "orchestrator", "orchestrator.app:create_app", log_dir, _orchestrator_env(nlu, redis_proc, model.url)
        )
        started.append(orch)
        down = start_service(
            "orchestrator-llm-down",
            "orchestrator.app:create_app",
            log_dir,
            _orchestrator_env(nlu, redis_proc, f"http://127.0.0.1:{free_port()}"),
        )
        started.append(down)
        wait_http(orch, "/ready", 240)
        yield Stack(redis_proc, nlu, model, orch, down)
    finally:
        for proc in reversed(started):
            proc.stop()


def _post(
    proc: Proc, body: bytes, headers: dict[str, str] | None = None, signed: bool = True, timeout: float = 120
) -> httpx.Response:
    sig = sign_request(SECRET.encode(), "POST", "/api/chat", body, CLAIMS) if signed else {}
    return httpx.post(
        proc.url + "/api/chat",
        content=body,
        timeout=timeout,
        headers={"Content-Type": "application/json", **sig, **(headers or {})},
    )


def _chat_body(message: str, **extra: object) -> bytes:
    return json.dumps({"message": message, **extra}).encode()


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["code"] == code and body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def _log_lines(proc: Proc, request_id: str) -> list[dict[str, object]]:
    lines = []
    for raw in proc.log_text().splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("request_id") == request_id:
            lines.append(line)
    return lines


def test_ready_checks_redis_nlu_and_llm(stack: Stack) -> None:
    ready = httpx.get(stack.orchestrator.url + "/ready", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"redis": "ok", "nlu": "ok", "llm": "ok"}


def test_signed_chat_answers_and_ids_propagate(stack: Stack) -> None:
    rid = "it-" + uuid.uuid4().hex
    response = _post(stack.orchestrator, _chat_body("Hej!"), {"X-Request-ID": rid})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"].strip()
    assert body["intent"] in ("greeting.hello", "smalltalk") and body["route"] == "micro"
    assert body["model"] == TEST_MODEL and 0 < body["confidence"] <= 1
    assert body["cache"] == {"hit": False, "tier": None, "kind": None, "similarity": None} and body["tools"] == []
    assert body["request_id"] == rid
    assert response.headers["x-request-id"] == rid
    assert (response.headers["x-route"], response.headers["x-intent"], response.headers["x-cache"]) == (
        "micro",
        body["intent"],
        "miss",
    )
    deadline = time.monotonic() + 5  # the request line is written after the answer has gone out
    access: list[dict[str, object]] = []
    while not access and time.monotonic() < deadline:
        access = [line for line in _log_lines(stack.orchestrator, rid) if line.get("event") == "request"]
        time.sleep(0.05)
    assert access and access[0]["route"] == "micro" and access[0]["cache"] == "miss"
    assert access[0]["model"] == TEST_MODEL and access[0]["status"] == 200
    assert "Hej!" not in stack.orchestrator.log_text()
    assert _log_lines(stack.nlu, rid), "the NLU's log has no line with the request id"


def test_force_route_reports_what_answered(stack: Stack) -> None:
    response = _post(stack.orchestrator, _chat_body("Hej!", force_route="planner"))
    assert response.status_code == 200, response.text
    assert (response.json()["route"], response.json()["route_reason"]) in {
        ("planner", "forced"),  # the step model answered
        ("deep", "forced:planner_no_tool"),  # it had nothing to say: deep answered
    }


def test_stream_sends_meta_deltas_done(stack: Stack) -> None:
    body = _chat_body("Berätta om Stockholm.", stream=True, force_route="deep")  # the LLM's own tokens
    response = _post(stack.orchestrator, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
    events = sse.parse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "done"
    deltas = [json.loads(data)["content"] for name, data in events if name == "delta"]
    assert len(deltas) >= 2
    done = json.loads(events[-1][1])
    assert done["response"] == "".join(deltas).strip() and done["model"] == TEST_MODEL
    assert json.loads(events[0][1])["request_id"] == response.headers["x-request-id"] == done["request_id"]
    metrics = httpx.get(stack.orchestrator.url + "/metrics", timeout=10).text
    assert 'outcome="ok"' in metrics and "alice_chat_requests_total{" in metrics
    assert "alice_llm_time_to_first_token_seconds_count{" in metrics
    assert 'kind="completion"' in metrics


def test_unsigned_bad_and_replayed_requests_are_403(stack: Stack) -> None:
    body = _chat_body("Hej!")
    _problem(_post(stack.orchestrator, body, signed=False), 403, "invalid_signature")
    tampered = sign_request(b"not-the-secret-0123456789", "POST", "/api/chat", body, CLAIMS)
    _problem(_post(stack.orchestrator, body, tampered, signed=False), 403, "invalid_signature")
    headers = sign_request(SECRET.encode(), "GET", "/api/status", b"", CLAIMS)
    first = httpx.get(stack.orchestrator.url + "/api/status", headers=headers, timeout=10)
    assert first.status_code == 200 and first.json()["tenant"] == "it-tenant"
    replay = httpx.get(stack.orchestrator.url + "/api/status", headers=headers, timeout=10)
    _problem(replay, 403, "invalid_signature")


def test_replay_is_refused_by_another_replica_through_redis(stack: Stack) -> None:
    headers = sign_request(SECRET.encode(), "GET", "/api/status", b"", CLAIMS)
    assert httpx.get(stack.orchestrator.url + "/api/status", headers=headers, timeout=10).status_code == 200
    _problem(httpx.get(stack.llm_down.url + "/api/status", headers=headers, timeout=10), 403, "invalid_signature")
    client = redis.Redis.from_url(stack.redis.url)
    try:
        ttl = client.ttl("alice:nonce:" + headers["X-Alice-Nonce"])
    finally:
        client.close()
    assert 0 < ttl <= 60


def test_malformed_json_is_422(stack: Stack) -> None:
    _problem(_post(stack.orchestrator, b'{"message": "Hej"'), 422, "validation_failed")
    _problem(_post(stack.orchestrator, _chat_body("   ")), 422, "validation_failed")


def test_llm_down_is_503_with_retry_after(stack: Stack) -> None:
    # A question nobody asked before: "Hej!" may already be cached by the healthy orchestrator (same Redis).
    question = f"Hej! Kan du rimma på {uuid.uuid4().hex[:8]}?"
    response = _post(stack.llm_down, _chat_body(question), timeout=30)
    body = _problem(response, 503, "dependency_down")
    assert int(response.headers["retry-after"]) >= 1
    assert "Språkmodellen" in str(body["detail"])
    streamed = _post(stack.llm_down, _chat_body(question, stream=True), timeout=30)
    _problem(streamed, 503, "dependency_down")
    ready = httpx.get(stack.llm_down.url + "/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "degraded" and ready.json()["checks"]["llm"] == "fail"
