"""Through Caddy with the LLM backend down: LLM routes answer 503 problem+json with Retry-After, in Swedish."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.e2e]


def test_chat_is_503_with_retry_after(mesh_without_llm):
    m = mesh_without_llm
    r = httpx.post(
        m.url + "/api/chat",
        json={"message": "Berätta om Stockholm."},
        headers={"Authorization": f"Bearer {m.key}"},
        timeout=60,
    )
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) >= 1
    body = r.json()
    assert body["code"] == "dependency_down" and "Språkmodellen" in body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]


def test_streaming_chat_is_503_too(mesh_without_llm):
    m = mesh_without_llm
    r = httpx.post(
        m.url + "/api/chat",
        json={"message": "Hej!", "stream": True},
        headers={"Authorization": f"Bearer {m.key}"},
        timeout=60,
    )
    assert r.status_code == 503 and "retry-after" in r.headers


def test_orchestrator_reports_degraded_not_down(mesh_without_llm):
    ready = httpx.get(mesh_without_llm.service_url("orchestrator") + "/ready", timeout=10).json()
    assert ready["status"] == "degraded" and ready["checks"]["llm"] == "fail"
