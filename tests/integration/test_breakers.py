"""The circuit breakers with real processes: a real orchestrator, NLU, modelserver and Redis. The NLU is stopped
and started again on the same port; a second orchestrator's LLM is a closed port.

- NLU down: every chat is still answered (the LLM answers without an intent, the fallback rules keep clock
  questions on their tool); after five failures the NLU breaker opens, so requests stop waiting on the dead NLU;
  when the NLU returns the breaker closes within 13 s.
- LLM down: LLM routes answer 503 with the Swedish message and Retry-After (``circuit_open`` once the breaker
  opened), the tool routes keep answering.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from alice.models import TEST_MODEL
from alice.signing import Claims, sign_request
from procs import Proc, free_port, start, start_redis, start_service, uvicorn_command, wait_http

pytestmark = pytest.mark.llm

SECRET = "breakers-it-" + secrets.token_urlsafe(24)
USER = Claims(tenant="it", role="user", key_id="it-user", tools=("*",))
ADMIN = Claims(tenant="it", role="admin", key_id="it-admin", tools=())


@dataclass
class Stack:
    log_dir: Path
    nlu_port: int
    orchestrator: Proc
    llm_down: Proc
    procs: list[Proc] = field(default_factory=list)
    nlu: Proc | None = None

    def start_nlu(self) -> None:
        cmd = uvicorn_command("nlu.app:create_app", self.nlu_port)
        self.nlu = start("nlu", cmd, self.nlu_port, self.log_dir, {"ALICE_LOG_FORMAT": "json"})
        wait_http(self.nlu, "/ready", 300)

    def stop_nlu(self) -> None:
        assert self.nlu is not None
        self.nlu.stop()
        self.nlu = None


def _env(nlu_port: int, redis_url: str, ollama_host: str) -> dict[str, str]:
    return {
        "ALICE_INTERNAL_SECRET": SECRET,
        "ALICE_LOG_FORMAT": "json",
        "ORCHESTRATOR_NLU_URL": f"http://127.0.0.1:{nlu_port}",
        "ORCHESTRATOR_NLU_TIMEOUT_S": "2",
        "OLLAMA_HOST": ollama_host,
        "REDIS_URL": redis_url,
        "ORCHESTRATOR_MODEL": TEST_MODEL,
        "ORCHESTRATOR_NUM_PREDICT_MICRO": "8",
        "ORCHESTRATOR_NUM_PREDICT_DEEP": "8",
        "ORCHESTRATOR_CACHE_ENABLED": "false",
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("breakers-logs")
    procs: list[Proc] = []
    made: Stack | None = None
    try:
        redis_proc = start_redis(log_dir)
        procs.append(redis_proc)
        model = start_service(
            "modelserver", "modelserver.app:create_app", log_dir, {"MODELSERVER_MODELS": TEST_MODEL}, 240
        )
        procs.append(model)
        nlu_port = free_port()
        orch = start_service(
            "orchestrator", "orchestrator.app:create_app", log_dir, _env(nlu_port, redis_proc.url, model.url)
        )
        procs.append(orch)
        down = start_service(
            "orchestrator-llm-down",
            "orchestrator.app:create_app",
            log_dir,
            _env(nlu_port, redis_proc.url, f"http://127.0.0.1:{free_port()}"),
        )
        procs.append(down)
        made = Stack(log_dir, nlu_port, orch, down, procs)
        made.start_nlu()
        yield made
    finally:
        if made is not None and made.nlu is not None:
            made.nlu.stop()
        for proc in reversed(procs):
            proc.stop()


def _chat(proc: Proc, message: str) -> httpx.Response:
    body = json.dumps({"message": message}).encode()
    headers = sign_request(SECRET.encode(), "POST", "/api/chat", body, USER)
    return httpx.post(
        proc.url + "/api/chat", content=body, timeout=120, headers={"Content-Type": "application/json", **headers}
    )


def _breaker(proc: Proc, name: str) -> dict[str, object]:
    path = "/api/monitoring/circuit-breakers"
    headers = sign_request(SECRET.encode(), "GET", path, b"", ADMIN)
    response = httpx.get(proc.url + path, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    (found,) = [b for b in response.json()["breakers"] if b["name"] == name]
    return found


def _route(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.headers["x-route"]


def test_the_nlu_breaker_opens_while_it_is_down_and_closes_when_it_returns(stack: Stack) -> None:
    assert _route(_chat(stack.orchestrator, "vad är klockan")) == "tool"
    assert _breaker(stack.orchestrator, "nlu")["state"] == "closed"
    stack.stop_nlu()
    try:
        for _ in range(6):
            answered = _chat(stack.orchestrator, "berätta något kort om hösten")
            assert answered.status_code == 200, answered.text  # the LLM answers without the NLU
        # the orchestrator's rules still send an unmistakable clock question to its tool
        assert _route(_chat(stack.orchestrator, "vad är klockan")) == "tool"
        nlu = _breaker(stack.orchestrator, "nlu")
        # open, or half-open once its first 1 s is up (each failed trial re-opens it for the next Fibonacci time)
        assert nlu["state"] in ("open", "half_open") and nlu["opened_total"] not in (0, None)
    finally:
        stack.start_nlu()
    returned = time.monotonic()
    while _breaker(stack.orchestrator, "nlu")["state"] != "closed":
        assert time.monotonic() - returned < 13, "the NLU breaker did not close within 13 s"
        _chat(stack.orchestrator, "vad är klockan")
        time.sleep(0.2)
    assert _route(_chat(stack.orchestrator, "vad är klockan")) == "tool"  # intents are back


def test_with_the_llm_down_tools_answer_and_llm_routes_get_a_swedish_503(stack: Stack) -> None:
    codes = []
    for _ in range(7):
        refused = _chat(stack.llm_down, "berätta en saga om en drake")
        assert refused.status_code == 503 and "retry-after" in refused.headers
        body = refused.json()
        assert "Språkmodellen" in body["detail"]
        codes.append(body["code"])
    assert codes[0] == "dependency_down" and codes[-1] == "circuit_open"
    assert _breaker(stack.llm_down, "llm")["state"] == "open"
    tool = _chat(stack.llm_down, "vad är klockan")
    assert _route(tool) == "tool"


def _admin_get(proc: Proc, path: str) -> dict[str, object]:
    headers = sign_request(SECRET.encode(), "GET", path, b"", ADMIN)
    response = httpx.get(proc.url + path, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_the_performance_and_slo_views_count_the_traffic(stack: Stack) -> None:
    for _ in range(3):
        assert _route(_chat(stack.orchestrator, "vad är klockan")) == "tool"
    performance = _admin_get(stack.orchestrator, "/api/monitoring/performance")
    tool = performance["windows"]["60s"]["tool"]
    assert tool["count"] >= 3 and tool["p95_ms"] > 0 and tool["success_rate"] == 1.0
    slo = _admin_get(stack.orchestrator, "/api/monitoring/slo?window_s=60")
    assert slo["routes"]["tool"]["latency"] in ("ok", "warning", "critical")
    assert slo["targets"]["p95_warning_ms"] == 144 and slo["cache"]["target"] == 0.7
    assert slo["status"] in ("ok", "warning", "critical")
