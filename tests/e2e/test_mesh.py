"""Through Caddy, the way a user calls Alice: a real mesh started by ``alice up`` with a real GGUF model."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import httpx
import pytest

from alice.signing import Claims, sign_request

pytestmark = [pytest.mark.e2e, pytest.mark.llm]

SERVICES = ("guardian", "orchestrator", "nlu", "modelserver")


def auth(mesh) -> dict[str, str]:
    return {"Authorization": f"Bearer {mesh.key}"}


def test_chat_through_caddy(mesh):
    rid = f"e2e-{uuid.uuid4().hex}"
    r = httpx.post(
        mesh.url + "/api/chat",
        json={"message": "Hej Alice! Vad kan du hjälpa mig med?"},
        headers={**auth(mesh), "X-Request-ID": rid},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["response"].strip()
    assert body["model"] == "smollm2:135m"
    assert body["route"] in {"tool", "micro", "planner", "deep"}
    assert body["intent"] == "greeting.hello"
    assert body["request_id"] == rid and r.headers["x-request-id"] == rid
    assert r.headers["x-route"] == body["route"]
    assert {"hit", "tier", "kind"} <= body["cache"].keys()


def test_repeats_and_paraphrases_come_from_the_cache_through_caddy(mesh):
    def ask(message: str) -> httpx.Response:
        response = httpx.post(mesh.url + "/api/chat", json={"message": message}, headers=auth(mesh), timeout=120)
        assert response.status_code == 200, response.text
        return response

    first = ask("Vad är huvudstaden i Spanien?")
    assert first.headers["x-cache"] == "miss" and first.json()["cache"]["hit"] is False
    repeat = ask("vad är huvudstaden i spanien")
    assert (repeat.headers["x-cache"], repeat.headers["x-cache-kind"], repeat.headers["x-cache-tier"]) == (
        "hit",
        "exact",
        "L1",
    )
    assert repeat.json()["cache"] == {"hit": True, "tier": 1, "kind": "exact", "similarity": None}
    assert repeat.json()["response"] == first.json()["response"]
    paraphrase = ask("Vad är Spaniens huvudstad?")
    assert paraphrase.headers["x-cache"] == "hit" and paraphrase.json()["cache"]["kind"] == "semantic"
    assert paraphrase.json()["response"] == first.json()["response"]
    rated = httpx.post(
        mesh.url + "/api/feedback",
        json={"request_id": paraphrase.json()["request_id"], "rating": "down"},
        headers=auth(mesh),
        timeout=30,
    )
    assert rated.status_code == 200 and rated.json()["invalidated"] is True, rated.text
    assert ask("Vad är huvudstaden i Spanien?").headers["x-cache"] == "miss"


def test_request_id_in_every_service_log(mesh):
    rid = f"trace-{uuid.uuid4().hex}"
    r = httpx.post(
        mesh.url + "/api/chat",  # an open question (a unique one: no cache hit), so the LLM is asked too
        json={"message": f"Berätta något kort om talet {uuid.uuid4().int % 1000}."},
        headers={**auth(mesh), "X-Request-ID": rid},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    time.sleep(0.5)
    for service in SERVICES:
        lines = [json.loads(line) for line in mesh.log(service).splitlines() if rid in line]
        assert lines, f"request id missing from the {service} log"
        assert all(line.get("request_id") == rid for line in lines if "request_id" in line)
    assert rid in mesh.log("caddy"), "request id missing from Caddy's access log"


def test_streaming_arrives_in_several_chunks(mesh):
    events: list[tuple[str, str]] = []
    arrivals: list[float] = []
    with httpx.stream(
        "POST",
        mesh.url + "/api/chat",
        json={"message": "Berätta om Stockholm.", "stream": True, "force_route": "deep"},  # the LLM's own tokens
        headers=auth(mesh),
        timeout=120,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                events.append((event, line[5:].strip()))
                arrivals.append(time.monotonic())
    kinds = [e for e, _ in events]
    assert kinds[0] == "meta" and kinds[-1] == "done"
    deltas = [json.loads(d)["content"] for e, d in events if e == "delta"]
    assert len(deltas) >= 3
    done = json.loads(events[-1][1])
    assert done["response"] == "".join(deltas)
    assert arrivals[-1] - arrivals[1] > 0, "deltas arrived all at once"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer alice_nope_notakey"}, {"Authorization": "Basic x"}])
def test_missing_or_wrong_key_is_401(mesh, headers):
    r = httpx.post(mesh.url + "/api/chat", json={"message": "hej"}, headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "unauthenticated"


def test_malformed_json_is_422(mesh):
    r = httpx.post(
        mesh.url + "/api/chat",
        content=b'{"message": "hej"',
        headers={**auth(mesh), "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and "Traceback" not in r.text


def test_missing_message_is_422(mesh):
    r = httpx.post(mesh.url + "/api/chat", json={"session_id": "x"}, headers=auth(mesh), timeout=10)
    assert r.status_code == 422 and "message" in r.json()["detail"]


def test_body_over_limit_is_413(mesh):
    r = httpx.post(mesh.url + "/api/chat", json={"message": "a" * 200_000}, headers=auth(mesh), timeout=10)
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


def test_direct_unsigned_call_to_orchestrator_refused(mesh):
    r = httpx.post(mesh.service_url("orchestrator") + "/api/chat", json={"message": "hej"}, timeout=10)
    assert r.status_code == 403
    assert r.json()["code"] == "invalid_signature"


def test_replayed_signed_call_refused(mesh):
    headers = sign_request(mesh.secret.encode(), "GET", "/api/status", b"", Claims("dev", "admin", "replay"))
    url = mesh.service_url("orchestrator") + "/api/status"
    first = httpx.get(url, headers=headers, timeout=10)
    assert first.status_code == 200, first.text
    second = httpx.get(url, headers=headers, timeout=10)
    assert second.status_code == 403 and second.json()["code"] == "invalid_signature"


def test_every_metrics_endpoint_passes_promtool(mesh):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (apt-get install prometheus)"
    for service in SERVICES:
        text = httpx.get(mesh.service_url(service) + "/metrics", timeout=10).text
        assert "alice_http_requests_total" in text
        proc = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
        assert proc.returncode == 0, f"{service}: {proc.stdout.decode()} {proc.stderr.decode()}"


def test_health_and_ready_everywhere(mesh):
    for service in SERVICES:
        assert httpx.get(mesh.service_url(service) + "/health", timeout=5).json()["status"] == "ok"
        assert httpx.get(mesh.service_url(service) + "/ready", timeout=10).status_code == 200


def test_a_personnummer_never_reaches_a_service_log_or_the_memory(mesh):
    from stdnum import luhn

    nine = f"7{uuid.uuid4().int % 10}0312{uuid.uuid4().int % 900 + 100}"  # 1970s, 12 March, a fresh serial
    ten = nine + luhn.calc_check_digit(nine)
    pnr = f"{ten[:6]}-{ten[6:]}"
    stored = httpx.post(
        mesh.url + "/api/chat",
        json={"message": f"kom ihåg att mitt personnummer är {pnr}"},
        headers=auth(mesh),
        timeout=120,
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["tools"][0]["name"] == "memory.store"
    recalled = httpx.post(
        mesh.url + "/api/chat", json={"message": "vad är mitt personnummer?"}, headers=auth(mesh), timeout=120
    )
    assert recalled.status_code == 200, recalled.text
    assert ten not in recalled.text.replace("-", "") and "[PERSONNUMMER_1]" in recalled.text
    time.sleep(0.5)
    for service in (*SERVICES, "caddy"):
        assert pnr not in mesh.log(service) and ten not in mesh.log(service), f"personnummer in the {service} log"
