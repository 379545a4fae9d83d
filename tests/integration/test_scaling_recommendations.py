"""The real orchestrator serves ``/api/scaling/recommendations`` from what it measured, through the guardian.

Real processes: the NLU, a modelserver with the test model, the orchestrator and the guardian in front. Chats go
through the guardian; the orchestrator times its NLU parses and LLM generations from the client side, and the
scaler reads them: the counts match the chats sent, and two clients keeping the one-at-a-time modelserver busy
make it recommend more modelserver replicas. ``alice scale`` reads the live recommendations and prints a valid
Kubernetes scale patch for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import kubernetes_validate
import pytest

from alice.models import TEST_MODEL
from guardian.keys import generate_key
from procs import REPO, Proc, start_service, wait_http

pytestmark = pytest.mark.llm

SECRET = "scaling-it-0123456789abcdef-secret"
PATH = "/api/scaling/recommendations"
PROBLEM = "application/problem+json"


@dataclass
class Stack:
    nlu: Proc
    modelserver: Proc
    orchestrator: Proc
    guardian: Proc
    admin: dict[str, str]
    user: dict[str, str]
    admin_key: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("scaling-logs")
    (_, user), (_, admin) = generate_key(), generate_key()
    procs: list[Proc] = []
    try:
        procs.append(start_service("nlu", "nlu.app:create_app", log_dir, {"ALICE_LOG_FORMAT": "json"}, 240))
        model_env = {"MODELSERVER_MODELS": TEST_MODEL}
        procs.append(start_service("modelserver", "modelserver.app:create_app", log_dir, model_env))
        wait_http(procs[0], "/ready", 300)
        wait_http(procs[1], "/ready", 240)
        orchestrator_env = {
            "ALICE_INTERNAL_SECRET": SECRET,
            "ALICE_LOG_FORMAT": "json",
            "ORCHESTRATOR_NLU_URL": procs[0].url,
            "OLLAMA_HOST": procs[1].url,
            "ORCHESTRATOR_MODEL": TEST_MODEL,
            "ORCHESTRATOR_NUM_PREDICT_MICRO": "16",
            "ORCHESTRATOR_NUM_PREDICT_DEEP": "16",
            "FIB_SCALER_MIN_SAMPLES": "3",
        }
        procs.append(start_service("orchestrator", "orchestrator.app:create_app", log_dir, orchestrator_env))
        guardian_env = {
            "ALICE_INTERNAL_SECRET": SECRET,
            "ALICE_LOG_FORMAT": "json",
            "GUARDIAN_KEYS_FILE": str(log_dir / "no-keys.json"),
            "GUARDIAN_API_KEYS": f"{user}:acme:user,{admin}:ops:admin",
            "GUARDIAN_UPSTREAM_URL": procs[2].url,
        }
        procs.append(start_service("guardian", "guardian.app:create_app", log_dir, guardian_env))
        yield Stack(*procs, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {user}"}, admin)
    finally:
        for proc in reversed(procs):
            proc.stop()


def _services(stack: Stack, **params: float) -> dict[str, dict[str, object]]:
    response = httpx.get(stack.guardian.url + PATH, params=params, headers=stack.admin, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["policy"]["cooldowns_s"] == {"up": 180, "down": 480, "emergency": 60}
    return {s["service"]: s for s in body["services"]}


def _chat(stack: Stack, message: str, route: str | None = None) -> httpx.Response:
    body: dict[str, object] = {"message": message}
    if route:
        body["force_route"] = route
    return httpx.post(stack.guardian.url + "/api/chat", json=body, headers=stack.admin, timeout=120)


def test_admins_only_and_bad_windows_are_problems(stack: Stack) -> None:
    assert httpx.get(stack.guardian.url + PATH).status_code == 401
    forbidden = httpx.get(stack.guardian.url + PATH, headers=stack.user)
    assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith(PROBLEM)
    unsigned = httpx.get(stack.orchestrator.url + PATH)  # not through the guardian: refused
    assert unsigned.status_code == 403 and unsigned.json()["code"] == "invalid_signature"
    for bad in ("5", "abc", "100000"):
        response = httpx.get(stack.guardian.url + PATH, params={"window_s": bad}, headers=stack.admin)
        assert response.status_code == 422 and response.headers["content-type"].startswith(PROBLEM), response.text
        assert "Traceback" not in response.text


def test_recommendations_follow_what_the_orchestrator_measured(stack: Stack) -> None:
    before = _services(stack, window_s=900)
    assert set(before) == {"orchestrator", "nlu", "modelserver"}
    for _ in range(6):
        assert _chat(stack, "vad är klockan").status_code == 200  # a tool answer: one NLU parse each
    assert _chat(stack, "Skriv en mening om hösten.", route="deep").status_code == 200
    after = _services(stack, window_s=900)
    nlu, llm, own = after["nlu"]["load"], after["modelserver"]["load"], after["orchestrator"]["load"]
    assert isinstance(nlu, dict) and isinstance(llm, dict) and isinstance(own, dict)
    assert nlu["requests"] - before["nlu"]["load"]["requests"] >= 6  # type: ignore[index]
    assert llm["requests"] - before["modelserver"]["load"]["requests"] >= 1  # type: ignore[index]
    assert nlu["p95_ms"] > 0 and llm["p95_ms"] > 0 and nlu["utilisations"]["busy"] > 0
    assert own["requests"] >= 7 and "cpu" in own["utilisations"] and own["p95_ms"] > 0
    for service in after.values():
        assert 0.0 <= service["confidence"] <= 1.0  # type: ignore[operator]
        assert service["current"] == 1


def test_a_busy_modelserver_gets_more_replicas_and_alice_scale_prints_the_patch(stack: Stack) -> None:
    stop = time.monotonic() + 12

    def client(topic: str) -> None:  # two clients on a server that generates one answer at a time
        n = 0
        while time.monotonic() < stop:
            n += 1
            _chat(stack, f"Skriv en mening om {topic} nummer {n}.", route="deep")

    threads = [threading.Thread(target=client, args=(t,)) for t in ("havet", "snö")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    llm = _services(stack, window_s=10)["modelserver"]
    assert llm["action"] in ("up", "emergency"), llm
    assert llm["recommended"] > llm["current"] and llm["signal"] == "busy"  # type: ignore[operator]
    env = {**os.environ, "ALICE_URL": stack.guardian.url, "ALICE_API_KEY": stack.admin_key}
    cmd = [sys.executable, "-m", "alice.cli", "scale", "--backend", "kubernetes", "--service", "modelserver"]
    cmd += ["--window-s", "15"]
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)  # noqa: S603
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stderr
    patch = json.loads(lines[0])
    assert patch["method"] == "PATCH" and patch["deployment"] == "alice-modelserver"
    assert patch["body"]["spec"]["replicas"] >= 2
    kubernetes_validate.validate(patch["body"], "1.30", strict=True)
