"""Property-based fuzzing of the real guardian process (hypothesis, a bounded number of examples).

Random bodies (bytes, any JSON, chat-shaped objects with odd fields and text), random or missing keys and
content types, on every public route. The orchestrator behind it is a closed port, so whatever the guardian
lets through ends as its own 503 ``dependency_down``: every answer here is the guardian's. Properties: no 500,
no stack trace, every error is problem+json with a code, and a 5xx is only ``dependency_down`` or ``overloaded``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardian.keys import KeyStore
from procs import Proc, free_port, start_service

ROUTES = ["/api/chat", "/api/chat", "/api/chat", "/api/feedback", "/api/cache/flush", "/api/cache/invalidate"]
GET_ROUTES = ["/api/status", "/api/monitoring/cache", "/api/drafts/abcdefgh1234", "/guardian/state"]


@pytest.fixture(scope="module")
def guardian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, str, str]]:
    log_dir = tmp_path_factory.mktemp("fuzz-logs")
    store = KeyStore(tmp_path_factory.mktemp("fuzz-keys") / "keys.json")
    user, _ = store.create("acme", "user")
    admin, _ = store.create("acme", "admin")
    env = {
        "ALICE_INTERNAL_SECRET": "fuzz-it-secret-0123456789abcdef",
        "ALICE_LOG_FORMAT": "json",
        "GUARDIAN_KEYS_FILE": str(store.path),
        "GUARDIAN_UPSTREAM_URL": f"http://127.0.0.1:{free_port()}",
        "GUARDIAN_API_KEYS": "",
        "GUARDIAN_MAX_BODY_BYTES": "4096",
    }
    proc = start_service("guardian-fuzz", "guardian.app:create_app", log_dir, env)
    try:
        yield proc, user, admin
    finally:
        proc.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
chat_fields = st.fixed_dictionaries(
    {"message": st.one_of(st.text(max_size=300), json_values)},
    optional={
        "stream": json_values,
        "force_route": st.sampled_from(["tool", "micro", "planner", "deep", "DEEP", ""]) | json_values,
        "session_id": json_values,
    },
)
chat_bodies = st.builds(
    lambda fields, extra: {**extra, **fields},
    chat_fields,
    st.dictionaries(st.text(max_size=8), json_values, max_size=2),
)
bodies = st.one_of(
    chat_bodies.map(lambda b: json.dumps(b).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.just(b"{" * 200),
)


def _check(response: httpx.Response) -> None:
    assert response.status_code != 500, response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), response.text
        body = response.json()
        assert body["status"] == response.status_code and body["code"]
        if response.status_code >= 500:
            assert body["code"] in {"dependency_down", "overloaded"}, body


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    route=st.sampled_from(ROUTES),
    body=bodies,
    who=st.sampled_from(["user", "admin", "none", "junk"]),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; charset=latin-1"]),
)
def test_posts_never_crash_the_guardian(
    guardian: tuple[Proc, str, str], route: str, body: bytes, who: str, content_type: str
) -> None:
    proc, user, admin = guardian
    headers = {"Content-Type": content_type} if content_type else {}
    if who in ("user", "admin"):
        headers["Authorization"] = f"Bearer {user if who == 'user' else admin}"
    elif who == "junk":
        headers["Authorization"] = "Bearer alice_" + "x" * 20
    _check(httpx.post(proc.url + route, content=body, headers=headers, timeout=30))


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(route=st.sampled_from(GET_ROUTES), suffix=st.text(max_size=30), auth=st.text(max_size=60))
def test_gets_with_odd_paths_and_headers_never_crash(
    guardian: tuple[Proc, str, str], route: str, suffix: str, auth: str
) -> None:
    proc, _, _ = guardian
    headers = {"Authorization": auth} if auth.isascii() and auth.isprintable() else {}
    path = route + "/" + quote(suffix, safe="") if suffix else route
    _check(httpx.get(proc.url + path, headers=headers, timeout=30))
