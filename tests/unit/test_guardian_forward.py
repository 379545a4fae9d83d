"""The guardian's feedback, monitoring and cache routes, in process, in front of a stand-in orchestrator.

The guardian is the real app with its real lifespan (keys, pipelines, metrics); only its orchestrator client
is swapped for one that talks ASGI to a small app which checks the guardian's signature the way the real
orchestrator does and records what reached it. So a test here sees both what the client got back and
exactly what crossed the hop (method, path, body, claims), or that nothing did.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from alice.errors import SignatureError
from alice.signing import Claims, verify_request
from guardian.app import create_app
from guardian.keys import generate_key
from guardian.settings import GuardianSettings
from guardian.upstream import Upstream

SECRET = "guardian-forward-unit-secret-0123456789"
PROBLEM = "application/problem+json"


@dataclass
class Received:
    method: str
    path: str
    body: bytes
    claims: Claims
    headers: dict[str, str]


@dataclass
class Orchestrator:
    """What reached the stand-in orchestrator, in order."""

    received: list[Received] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{rest:path}", methods=["GET", "POST"], response_model=None)
        async def anything(request: Request, rest: str) -> Response:
            body = await request.body()
            query = request.url.query
            path = request.url.path + (f"?{query}" if query else "")
            headers = dict(request.headers)
            try:
                verified = verify_request(SECRET.encode(), request.method, path, body, headers, 30)
            except SignatureError as exc:
                return JSONResponse({"code": "invalid_signature", "detail": exc.detail}, 403, media_type=PROBLEM)
            self.received.append(Received(request.method, path, body, verified.claims, headers))
            if rest == "api/monitoring/nosuch":
                problem = {"type": "about:blank", "status": 404, "code": "not_found", "detail": "No view 'nosuch'."}
                return JSONResponse(problem, 404, media_type=PROBLEM)
            return JSONResponse({"ok": True, "path": path}, headers={"x-cache": "bypass", "set-cookie": "a=b"})

        return app


@dataclass
class Guardian:
    client: httpx.AsyncClient
    orchestrator: Orchestrator
    app: FastAPI
    user: dict[str, str]
    admin: dict[str, str]

    def refusals(self, reason: str) -> float:
        value = self.app.state.registry.get_sample_value("alice_guardian_auth_failures_total", {"reason": reason})
        return float(value or 0.0)


@pytest.fixture
async def guardian(tmp_path: Path) -> AsyncIterator[Guardian]:
    (_, user_key), (_, admin_key) = generate_key(), generate_key()
    settings = GuardianSettings(
        internal_secret=SECRET,
        api_keys=f"{user_key}:acme:user,{admin_key}:ops:admin",
        keys_file=tmp_path / "keys.json",
        log_format="json",
        log_level="WARNING",
        http_transport="httpx",
    )
    app = create_app(settings)
    orchestrator = Orchestrator()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=orchestrator.app()), base_url="http://orch") as up,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://guardian") as client,
    ):
        upstream = Upstream(up, SECRET.encode(), app.state.guardian_metrics, retry_after_s=2)
        app.state.gateway = dataclasses.replace(app.state.gateway, upstream=upstream)
        yield Guardian(
            client,
            orchestrator,
            app,
            user={"Authorization": f"Bearer {user_key}"},
            admin={"X-API-Key": admin_key},
        )


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


ADMIN_ROUTES = [
    ("GET", "/api/monitoring/cache", b""),
    ("POST", "/api/cache/invalidate", b'{"tenant": "acme"}'),
    ("POST", "/api/cache/flush", b""),
]


async def test_feedback_from_a_user_is_signed_and_forwarded_as_sent(guardian: Guardian) -> None:
    body = json.dumps({"request_id": "r-1", "rating": "up", "comment": "Tack, det stämde!"}).encode()
    response = await guardian.client.post("/api/feedback", content=body, headers=guardian.user)
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "path": "/api/feedback"}
    assert response.headers["x-cache"] == "bypass" and "set-cookie" not in response.headers
    [seen] = guardian.orchestrator.received
    assert (seen.method, seen.path, seen.body) == ("POST", "/api/feedback", body)
    assert (seen.claims.tenant, seen.claims.role) == ("acme", "user")
    assert seen.headers["content-type"] == "application/json"
    assert "authorization" not in seen.headers and "x-api-key" not in seen.headers


async def test_feedback_from_an_admin_is_forwarded_too(guardian: Guardian) -> None:
    response = await guardian.client.post(
        "/api/feedback", json={"request_id": "r", "rating": "down"}, headers=guardian.admin
    )
    assert response.status_code == 200
    assert guardian.orchestrator.received[0].claims.role == "admin"


@pytest.mark.parametrize(("method", "path", "body"), [("POST", "/api/feedback", b"{}"), *ADMIN_ROUTES])
async def test_no_key_is_401_and_nothing_is_forwarded(guardian: Guardian, method: str, path: str, body: bytes) -> None:
    response = await guardian.client.request(method, path, content=body)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert guardian.orchestrator.received == []


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_a_user_key_on_an_admin_route_is_403(guardian: Guardian, method: str, path: str, body: bytes) -> None:
    response = await guardian.client.request(method, path, content=body, headers=guardian.user)
    problem = assert_problem(response, 403, "forbidden")
    assert "admin" in problem["detail"]
    assert guardian.orchestrator.received == []
    assert guardian.refusals("role") == 1


async def test_a_user_is_refused_before_the_body_is_read(guardian: Guardian) -> None:
    huge = b"{" + b" " * 100_000 + b"}"
    response = await guardian.client.post("/api/cache/invalidate", content=huge, headers=guardian.user)
    assert_problem(response, 403, "forbidden")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/monitoring/cache?window=60", b""),
        ("POST", "/api/cache/invalidate", b'{"tenant": "acme", "intent": "time.now", "policy_version": "3"}'),
        ("POST", "/api/cache/flush", b""),
        ("POST", "/api/cache/flush", b"{}"),
    ],
)
async def test_an_admin_key_is_forwarded_with_its_claims(
    guardian: Guardian, method: str, path: str, body: bytes
) -> None:
    response = await guardian.client.request(method, path, content=body, headers=guardian.admin)
    assert response.status_code == 200, response.text
    [seen] = guardian.orchestrator.received
    assert (seen.method, seen.path, seen.body) == (method, path, body)
    assert (seen.claims.tenant, seen.claims.role) == ("ops", "admin")


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        ("/api/feedback", b"", "body: Invalid JSON"),
        ("/api/feedback", b'{"rating": ', "body: Invalid JSON"),
        ("/api/feedback", b"[]", "body: must be a JSON object"),
        ("/api/feedback", b'"up"', "body: must be a JSON object"),
        ("/api/feedback", b'{"rating": NaN}', "body: Invalid JSON"),
        ("/api/feedback", b"\xff\xfe", "body: Invalid JSON"),
        ("/api/feedback", b"[" * 1000 + b"]" * 1000, "body: Invalid JSON"),
        ("/api/cache/invalidate", b"", "body: Invalid JSON"),
        ("/api/cache/invalidate", b"tenant=acme", "body: Invalid JSON"),
        ("/api/cache/flush", b"null", "body: must be a JSON object"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_422_and_not_forwarded(
    guardian: Guardian, path: str, body: bytes, detail: str
) -> None:
    headers = guardian.user if path == "/api/feedback" else guardian.admin
    response = await guardian.client.post(path, content=body, headers=headers)
    problem = assert_problem(response, 422, "validation_failed")
    assert str(problem["detail"]).startswith(detail)
    assert problem["errors"][0]["loc"] == "body"
    assert guardian.orchestrator.received == []


async def test_bodies_over_the_small_limit_are_413(guardian: Guardian) -> None:
    comment = "x" * 16_384
    response = await guardian.client.post(
        "/api/feedback", json={"request_id": "r", "rating": "up", "comment": comment}, headers=guardian.user
    )
    problem = assert_problem(response, 413, "payload_too_large")
    assert problem["limit"] == 16_384
    assert guardian.orchestrator.received == []


@pytest.mark.parametrize("name", ["Cache", "cache%20x", "%2E%2E", "_x", "c" * 65])
async def test_odd_monitoring_names_are_404_and_not_forwarded(guardian: Guardian, name: str) -> None:
    response = await guardian.client.get(f"/api/monitoring/{name}", headers=guardian.admin)
    assert_problem(response, 404, "not_found")
    assert guardian.orchestrator.received == []


async def test_the_orchestrators_problem_is_relayed_unchanged(guardian: Guardian) -> None:
    response = await guardian.client.get("/api/monitoring/nosuch", headers=guardian.admin)
    problem = assert_problem(response, 404, "not_found")
    assert problem["detail"] == "No view 'nosuch'."
    assert len(guardian.orchestrator.received) == 1


async def test_the_new_routes_are_counted_per_path(guardian: Guardian) -> None:
    await guardian.client.post("/api/cache/flush", headers=guardian.admin)
    count = guardian.app.state.registry.get_sample_value(
        "alice_guardian_forwarded_total", {"path": "/api/cache/flush", "status": "200"}
    )
    assert count == 1


async def test_a_draft_download_is_forwarded_for_any_key_and_odd_ids_are_404(guardian: Guardian) -> None:
    response = await guardian.client.get("/api/drafts/abcDEF12_-34", headers=guardian.user)
    assert response.status_code == 200, response.text
    [seen] = guardian.orchestrator.received
    assert (seen.method, seen.path, seen.claims.tenant) == ("GET", "/api/drafts/abcDEF12_-34", "acme")
    for odd in ("short", "has.dot.in.it.x", "a" * 65):
        assert_problem(await guardian.client.get(f"/api/drafts/{odd}", headers=guardian.user), 404, "not_found")
    assert_problem(await guardian.client.get("/api/drafts/abcDEF12_-34"), 401, "unauthenticated")
    assert len(guardian.orchestrator.received) == 1


async def test_chat_claims_carry_the_roles_tools(guardian: Guardian) -> None:
    response = await guardian.client.post("/api/chat", json={"message": "Hej"}, headers=guardian.user)
    assert response.status_code == 200, response.text
    assert guardian.orchestrator.received[0].claims.tools == ("*",)
