"""The guardian's feedback, monitoring and cache routes as real processes, and the orchestrator without Redis.

A guardian in front of a closed port shows what the guardian decides on its own: 401, 403 for a user on an
admin route, 422 for a body that is not a JSON object, and 503 for what it admitted and tried to forward.
A guardian in front of the real orchestrator shows that what it forwards is signed so the orchestrator
accepts it, and that stopping the orchestrator's Redis does not stop it answering.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from guardian.keys import generate_key
from procs import Proc, free_port, start_redis, start_service

SECRET = "guardian-admin-it-0123456789abcdef"
PROBLEM = "application/problem+json"


@dataclass
class Keys:
    user: dict[str, str]
    admin: dict[str, str]
    inline: str


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guardian-admin-logs")


@pytest.fixture(scope="module")
def keys() -> Keys:
    (_, user), (_, admin) = generate_key(), generate_key()
    return Keys(
        {"Authorization": f"Bearer {user}"}, {"Authorization": f"Bearer {admin}"}, f"{user}:acme:user,{admin}:ops:admin"
    )


def _guardian(name: str, log_dir: Path, keys: Keys, upstream_url: str) -> Proc:
    env = {
        "ALICE_INTERNAL_SECRET": SECRET,
        "ALICE_LOG_FORMAT": "json",
        "GUARDIAN_KEYS_FILE": str(log_dir / "no-keys.json"),
        "GUARDIAN_API_KEYS": keys.inline,
        "GUARDIAN_UPSTREAM_URL": upstream_url,
    }
    return start_service(name, "guardian.app:create_app", log_dir, env)


@pytest.fixture(scope="module")
def alone(log_dir: Path, keys: Keys) -> Iterator[Proc]:
    """A guardian whose orchestrator is a closed port: whatever it admits ends as 503."""
    proc = _guardian("guardian-alone", log_dir, keys, f"http://127.0.0.1:{free_port()}")
    try:
        yield proc
    finally:
        proc.stop()


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


ADMIN_ROUTES = [
    ("GET", "/api/monitoring/cache", None),
    ("POST", "/api/cache/invalidate", {}),
    ("POST", "/api/cache/flush", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_no_key_and_user_keys(
    alone: Proc, keys: Keys, method: str, path: str, body: dict[str, str] | None
) -> None:
    assert_problem(httpx.request(method, alone.url + path, json=body), 401, "unauthenticated")
    assert_problem(httpx.request(method, alone.url + path, json=body, headers=keys.user), 403, "forbidden")
    # admitted: forwarded to the closed port, so the orchestrator's absence is what the admin sees
    assert_problem(httpx.request(method, alone.url + path, json=body, headers=keys.admin), 503, "dependency_down")


def test_role_refusals_are_counted(alone: Proc, keys: Keys) -> None:
    httpx.post(alone.url + "/api/cache/flush", headers=keys.user)
    metrics = httpx.get(alone.url + "/metrics").text
    assert 'alice_guardian_auth_failures_total{reason="role"}' in metrics


@pytest.mark.parametrize("body", [b"", b"{", b"[1, 2]", b"rating=up"])
def test_feedback_must_be_a_json_object(alone: Proc, keys: Keys, body: bytes) -> None:
    response = httpx.post(alone.url + "/api/feedback", content=body, headers=keys.user)
    assert_problem(response, 422, "validation_failed")


def test_feedback_from_a_user_is_forwarded(alone: Proc, keys: Keys) -> None:
    response = httpx.post(alone.url + "/api/feedback", json={"request_id": "r", "rating": "up"}, headers=keys.user)
    assert_problem(response, 503, "dependency_down")


def test_an_oversized_cache_body_is_413(alone: Proc, keys: Keys) -> None:
    response = httpx.post(alone.url + "/api/cache/invalidate", json={"tenant": "x" * 20_000}, headers=keys.admin)
    assert_problem(response, 413, "payload_too_large")


# --- in front of the real orchestrator, with a Redis that goes away and comes back ------------------------


@dataclass
class Stack:
    redis: Proc
    orchestrator: Proc
    guardian: Proc


@pytest.fixture(scope="module")
def stack(log_dir: Path, keys: Keys) -> Iterator[Stack]:
    redis = start_redis(log_dir)
    procs = [redis]
    try:
        env = {"ALICE_INTERNAL_SECRET": SECRET, "ALICE_LOG_FORMAT": "json", "REDIS_URL": redis.url}
        procs.append(start_service("orchestrator-admin", "orchestrator.app:create_app", log_dir, env))
        procs.append(_guardian("guardian-admin", log_dir, keys, procs[-1].url))
        yield Stack(*procs)
    finally:
        for proc in reversed(procs):
            proc.stop()


def test_admin_requests_reach_the_orchestrator_signed(stack: Stack, keys: Keys) -> None:
    response = httpx.post(stack.guardian.url + "/api/cache/flush", json={}, headers=keys.admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"removed": 0}
    empty = httpx.post(stack.guardian.url + "/api/cache/flush", headers=keys.admin)
    assert empty.status_code == 200, empty.text
    monitoring = httpx.get(stack.guardian.url + "/api/monitoring/cache", headers=keys.admin)
    assert monitoring.status_code == 200 and monitoring.json()["available"] is True, monitoring.text


def test_requests_are_answered_while_redis_is_stopped_and_after_it_returns(
    stack: Stack, keys: Keys, log_dir: Path
) -> None:
    status = stack.guardian.url + "/api/status"
    assert httpx.get(status, headers=keys.user).status_code == 200
    stack.redis.stop()
    for _ in range(3):
        response = httpx.get(status, headers=keys.user, timeout=10)
        assert response.status_code == 200, response.text
    ready = httpx.get(stack.orchestrator.url + "/ready").json()  # not ready here anyway: no NLU runs
    assert ready["checks"]["redis"] == "fail" and "redis" not in ready.get("detail", "")  # optional now
    back = start_redis(log_dir, stack.redis.port, "redis-again")
    stack.redis = back
    try:
        deadline = time.monotonic() + 20  # the store probes Redis again after its back-off (1, 2, 3 ... s)
        while "nonce_store_recovered" not in stack.orchestrator.log_text() and time.monotonic() < deadline:
            assert httpx.get(status, headers=keys.user, timeout=10).status_code == 200
            time.sleep(0.5)
        log = stack.orchestrator.log_text()
        assert log.count("nonce_store_degraded") == 1
        assert "nonce_store_recovered" in log
        assert httpx.get(stack.orchestrator.url + "/ready").json()["checks"]["redis"] == "ok"
        assert httpx.get(status, headers=keys.user).status_code == 200
        assert redis.Redis.from_url(back.url).keys("alice:nonce:*")  # nonces are shared through Redis again
    finally:
        back.stop()
