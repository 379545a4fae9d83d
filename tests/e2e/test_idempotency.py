"""``Idempotency-Key`` through Caddy and the guardian to the orchestrator (a real mesh started by ``alice up``):
a retry gets the first answer, a reused key with another body is refused, a streamed answer is replayed whole."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.llm]


def _post(mesh, body: dict[str, object], key: str | None) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Authorization": f"Bearer {mesh.key}"}
    if key is not None:
        headers["Idempotency-Key"] = key.encode()  # bytes: a non-ASCII key goes out as UTF-8
    return httpx.post(mesh.url + "/api/chat", json=body, headers=headers, timeout=120)


def test_a_retry_gets_the_first_answer_and_a_reused_key_is_refused(mesh):
    key = f"e2e-{uuid.uuid4().hex}"
    first = _post(mesh, {"message": "Berätta kort om älgar."}, key)
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    again = _post(mesh, {"message": "Berätta kort om älgar."}, key)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # the same answer, not a second generation
    assert again.headers["x-route"] == first.headers["x-route"]
    other = _post(mesh, {"message": "Berätta kort om vargar."}, key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    fresh = _post(mesh, {"message": "Berätta kort om älgar."}, None)
    assert fresh.status_code == 200 and "idempotent-replayed" not in fresh.headers


def test_a_streamed_answer_is_replayed_whole(mesh):
    key = f"e2e-{uuid.uuid4().hex}"
    body = {"message": "vad är klockan", "stream": True}
    first = _post(mesh, body, key)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/event-stream")
    assert "event: done" in first.text
    again = _post(mesh, body, key)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.text == first.text and again.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize("key", ["has space", "x" * 256, "åäö"])
def test_a_malformed_key_is_422(mesh, key):
    refused = _post(mesh, {"message": "hej"}, key)
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
