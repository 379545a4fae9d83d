"""The φ load balancer with two real modelservers: shares follow the weights, traffic leaves a killed backend
and comes back when it returns; the orchestrator wires it from ORCHESTRATOR_LLM_BACKENDS and shows it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from alice.breaker import BreakerState
from alice.fibonacci import load_fibonacci_config, phi_weights
from alice.models import TEST_MODEL
from alice.signing import Claims, sign_request
from orchestrator.balancer import Backend, BalancedLlm
from orchestrator.llm import OllamaLlm, llm_breaker
from procs import Proc, free_port, start, start_service, uvicorn_command, wait_http

pytestmark = pytest.mark.llm

SECRET = "balancer-it-" + secrets.token_urlsafe(24)
ADMIN = Claims(tenant="it", role="admin", key_id="it-admin", tools=("*",))
HELLO = [{"role": "user", "content": "Säg hej."}]


def _modelserver(log_dir: Path, name: str, port: int) -> Proc:
    cmd = uvicorn_command("modelserver.app:create_app", port)
    proc = start(name, cmd, port, log_dir, {"MODELSERVER_MODELS": TEST_MODEL})
    wait_http(proc, "/ready", 240)
    return proc


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[int], list[Proc]]]:
    log_dir = tmp_path_factory.mktemp("balancer-logs")
    ports = [free_port(), free_port()]
    procs = [_modelserver(log_dir, f"modelserver-{i}", p) for i, p in enumerate(ports)]
    try:
        yield log_dir, ports, procs
    finally:
        for proc in procs:
            proc.stop()


def _balancer(ports: list[int]) -> BalancedLlm:
    weights = phi_weights(2, load_fibonacci_config())
    backends = []
    for i, (port, weight) in enumerate(zip(ports, weights, strict=True)):
        host = f"http://127.0.0.1:{port}"
        adapter = OllamaLlm(ollama.AsyncClient(host=host), TEST_MODEL, 60, 5, breaker=llm_breaker(f"llm-{i}"))
        backends.append(Backend(host, adapter, weight))
    return BalancedLlm(backends, TEST_MODEL)


async def test_shares_follow_the_weights_and_traffic_leaves_a_killed_backend(
    servers: tuple[Path, list[int], list[Proc]],
) -> None:
    log_dir, ports, procs = servers
    balancer = _balancer(ports)
    for _ in range(10_000):
        balancer.pick()
    share = balancer.backends[0].picks / 10_000
    assert abs(share - 0.7236) <= 0.02

    async def answers(n: int) -> list[str]:
        return [(await balancer.complete(HELLO, 4, 0.0)).text for _ in range(n)]

    assert all(await answers(4))
    procs[0].stop()  # the primary dies
    before = [b.picks for b in balancer.backends]
    assert all(await answers(8))  # every call still answered: the failing primary hands over
    moved = [b.picks - p for b, p in zip(balancer.backends, before, strict=True)]
    assert balancer.backends[0].llm.breaker.state is not BreakerState.CLOSED
    assert moved[1] == 8 and moved[0] <= 5  # a few tries on the primary until its breaker opened, then none
    procs[0] = _modelserver(log_dir, "modelserver-0-again", ports[0])


def test_the_orchestrator_balances_over_its_backends_and_shows_it(
    servers: tuple[Path, list[int], list[Proc]],
) -> None:
    log_dir, ports, _ = servers
    env = {
        "ALICE_INTERNAL_SECRET": SECRET,
        "ALICE_LOG_FORMAT": "json",
        "ORCHESTRATOR_NLU_URL": f"http://127.0.0.1:{free_port()}",  # no NLU: every chat goes to the LLM
        "ORCHESTRATOR_LLM_BACKENDS": ",".join(f"http://127.0.0.1:{p}" for p in ports),
        "ENABLE_PHI_LOAD_BALANCER": "true",
        "ORCHESTRATOR_MODEL": TEST_MODEL,
        "ORCHESTRATOR_NUM_PREDICT_DEEP": "4",
        "ORCHESTRATOR_NUM_PREDICT_MICRO": "4",
        "ORCHESTRATOR_CACHE_ENABLED": "false",
    }
    orch = start_service("orchestrator-balanced", "orchestrator.app:create_app", log_dir, env)
    try:
        for i in range(6):
            body = json.dumps({"message": f"Berätta något kort om nummer {i}."}).encode()
            headers = sign_request(SECRET.encode(), "POST", "/api/chat", body, ADMIN)
            headers["Content-Type"] = "application/json"
            answered = httpx.post(orch.url + "/api/chat", content=body, headers=headers, timeout=120)
            assert answered.status_code == 200, answered.text
        path = "/api/orchestrator/load-balancer"
        view = httpx.get(orch.url + path, headers=sign_request(SECRET.encode(), "GET", path, b"", ADMIN), timeout=10)
        assert view.status_code == 200, view.text
        (balancer,) = view.json()["balancers"]
        assert view.json()["enabled"] is True and len(balancer["backends"]) == 2
        assert [b["expected_share"] for b in balancer["backends"]] == [0.7236, 0.2764]
        assert sum(b["picks"] for b in balancer["backends"]) >= 6 and balancer["backends"][1]["picks"] >= 1
    finally:
        orch.stop()
