"""The policy pipeline and its authentication and schema steps (guardian.policy)."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from alice.errors import ForbiddenError, NotFoundError, UnauthenticatedError, ValidationFailedError
from alice.signing import Claims
from guardian.keys import KeyRecord, KeyStore
from guardian.policy import (
    MONITORING_PATH,
    Authenticate,
    GrantTools,
    GuardRequest,
    MatchPath,
    Pipeline,
    RequireRole,
    ValidateChat,
    ValidateJsonObject,
    admin_write_pipeline,
    chat_pipeline,
    parse_tool_grants,
    presented_key,
)


@pytest.fixture
def store_and_key(tmp_path: Path) -> tuple[KeyStore, str]:
    store = KeyStore(tmp_path / "keys.json")
    key, _ = store.create("acme", "admin")
    store.load()
    return store, key


def request(headers: dict[str, str], body: bytes = b"") -> GuardRequest:
    return GuardRequest(method="POST", path="/api/chat", headers=headers, body=body)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"authorization": "Bearer k1"}, "k1"),
        ({"authorization": "bearer   k1 "}, "k1"),
        ({"x-api-key": "k2"}, "k2"),
        ({"authorization": "Bearer k1", "x-api-key": "k2"}, "k1"),
        ({"authorization": "Basic abc"}, "Basic abc"),
        ({"authorization": "Bearer"}, ""),
        ({"x-api-key": "  "}, None),
    ],
)
def test_presented_key(headers: dict[str, str], expected: str | None) -> None:
    assert presented_key(headers) == expected


async def test_authenticate_attaches_the_key_and_binds_log_fields(store_and_key: tuple[KeyStore, str]) -> None:
    store, key = store_and_key
    structlog.contextvars.clear_contextvars()
    guarded = request({"authorization": f"Bearer {key}"})
    await Authenticate(store)(guarded)
    assert guarded.key is not None and guarded.key.tenant == "acme"
    bound = structlog.contextvars.get_contextvars()
    assert bound == {"tenant": "acme", "key_id": guarded.key.id}
    assert guarded.claims() == Claims("acme", "admin", guarded.key.id, ())
    structlog.contextvars.clear_contextvars()


@pytest.mark.parametrize(
    ("headers", "reason", "challenge"),
    [
        ({}, "missing", 'Bearer realm="alice"'),
        ({"authorization": "Bearer nope"}, "malformed", 'Bearer realm="alice", error="invalid_token"'),
        ({"x-api-key": "alice_zzzzzzzz_" + "x" * 43}, "unknown_id", 'Bearer realm="alice", error="invalid_token"'),
    ],
)
async def test_authenticate_refuses_with_401_and_a_reason(
    store_and_key: tuple[KeyStore, str], headers: dict[str, str], reason: str, challenge: str
) -> None:
    store, _ = store_and_key
    reasons: list[str] = []
    guarded = request(headers)
    with pytest.raises(UnauthenticatedError) as caught:
        await Authenticate(store, reasons.append)(guarded)
    assert reasons == [reason]
    assert caught.value.status == 401
    assert caught.value.headers == {"WWW-Authenticate": challenge}
    assert guarded.key is None
    structlog.contextvars.clear_contextvars()


async def test_revoked_key_is_refused_and_never_named_in_the_answer(store_and_key: tuple[KeyStore, str]) -> None:
    store, key = store_and_key
    record = store.authenticate(key)
    assert record is not None
    store.revoke(record.id)
    store.load()
    reasons: list[str] = []
    with pytest.raises(UnauthenticatedError) as caught:
        await Authenticate(store, reasons.append)(request({"x-api-key": key}))
    assert reasons == ["revoked"]
    assert caught.value.detail == "Invalid or revoked API key."
    structlog.contextvars.clear_contextvars()


def test_claims_need_authentication() -> None:
    with pytest.raises(UnauthenticatedError):
        request({}).claims()


async def test_validate_chat_sets_the_parsed_request() -> None:
    guarded = request({}, b'{"message": "Hej Alice"}')
    await ValidateChat(4000)(guarded)
    assert guarded.chat is not None and guarded.chat.message == "Hej Alice"
    with pytest.raises(ValidationFailedError):
        await ValidateChat(3)(request({}, b'{"message": "Hej Alice"}'))


async def test_pipeline_runs_phases_in_order_and_stops_at_a_refusal() -> None:
    seen: list[str] = []

    def step(name: str, refuse: bool = False) -> object:
        async def run(_request: GuardRequest) -> None:
            seen.append(name)
            if refuse:
                raise ValidationFailedError(name)

        return run

    pipeline = Pipeline(admission=(step("a1"), step("a2")), content=(step("c1", refuse=True), step("c2")))  # type: ignore[arg-type]
    guarded = request({})
    await pipeline.admit(guarded)
    assert seen == ["a1", "a2"]
    with pytest.raises(ValidationFailedError):
        await pipeline.inspect(guarded)
    assert seen == ["a1", "a2", "c1"]


async def test_chat_pipeline_authenticates_before_reading_the_body(store_and_key: tuple[KeyStore, str]) -> None:
    store, key = store_and_key
    pipeline = chat_pipeline(store, 4000, lambda _r: None)
    guarded = request({"authorization": f"Bearer {key}"})
    await pipeline.admit(guarded)
    guarded.body = b'{"message": "Hej"}'
    await pipeline.inspect(guarded)
    assert guarded.key is not None and guarded.chat is not None
    structlog.contextvars.clear_contextvars()


def keyed(role: str) -> GuardRequest:
    guarded = request({})
    guarded.key = KeyRecord("k1", "hash", "acme", role, created_at="now")
    return guarded


async def test_require_role_lets_the_role_through() -> None:
    reasons: list[str] = []
    await RequireRole("admin", reasons.append)(keyed("admin"))
    assert reasons == []


async def test_require_role_refuses_other_roles_with_403_forbidden() -> None:
    reasons: list[str] = []
    structlog.contextvars.clear_contextvars()
    with pytest.raises(ForbiddenError) as caught:
        await RequireRole("admin", reasons.append)(keyed("user"))
    assert (caught.value.status, caught.value.code) == (403, "forbidden")
    assert reasons == ["role"]
    assert structlog.contextvars.get_contextvars() == {"auth_failure": "role"}
    structlog.contextvars.clear_contextvars()


async def test_require_role_without_authentication_is_401() -> None:
    with pytest.raises(UnauthenticatedError):
        await RequireRole("admin")(request({}))


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("/api/monitoring/cache", True),
        ("/api/monitoring/circuit-breakers", True),
        ("/api/monitoring/slo?window=60", True),
        ("/api/scaling/recommendations", True),
        ("/api/scaling/recommendations?window_s=120", True),
        ("/api/scaling/recommendations/nlu", False),
        ("/api/scaling/other", False),
        ("/api/monitoring/", False),
        ("/api/monitoring/..", False),
        ("/api/monitoring/Cache", False),
        ("/api/monitoring/cache x", False),
        ("/api/monitoring/cache/extra", False),
        ("/api/monitoring/" + "c" * 65, False),
    ],
)
async def test_match_path(path: str, ok: bool) -> None:
    step = MatchPath(MONITORING_PATH)
    guarded = GuardRequest(method="GET", path=path, headers={})
    if ok:
        await step(guarded)
    else:
        with pytest.raises(NotFoundError):
            await step(guarded)


@pytest.mark.parametrize("body", [b"{}", b' {"tenant": "acme"} ', b'{"a": [1, {"b": null}]}'])
async def test_validate_json_object_accepts_objects_and_leaves_the_body_alone(body: bytes) -> None:
    guarded = request({}, body)
    await ValidateJsonObject()(guarded)
    assert guarded.body == body


@pytest.mark.parametrize("body", [b"", b"  ", b"{", b"[]", b"1", b"null", b'{"x": Infinity}', b"[" * 500])
async def test_validate_json_object_refuses_everything_else(body: bytes) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        await ValidateJsonObject()(request({}, body))
    assert caught.value.extra["errors"][0]["loc"] == "body"


async def test_validate_json_object_may_allow_an_empty_body() -> None:
    await ValidateJsonObject(allow_empty=True)(request({}, b""))
    await ValidateJsonObject(allow_empty=True)(request({}, b"\n"))
    with pytest.raises(ValidationFailedError):
        await ValidateJsonObject(allow_empty=True)(request({}, b"[]"))


async def test_admin_pipeline_refuses_a_user_before_the_body(store_and_key: tuple[KeyStore, str]) -> None:
    store, admin_key = store_and_key
    user_key, _ = store.create("acme", "user")
    store.load()
    pipeline = admin_write_pipeline(store, lambda _r: None)
    with pytest.raises(ForbiddenError):
        await pipeline.admit(request({"authorization": f"Bearer {user_key}"}))
    guarded = request({"authorization": f"Bearer {admin_key}"}, b'{"tenant": "acme"}')
    await pipeline.admit(guarded)
    await pipeline.inspect(guarded)
    assert guarded.claims().role == "admin"
    structlog.contextvars.clear_contextvars()


def test_tool_grants_parse_and_refuse_malformed_specs() -> None:
    assert parse_tool_grants("user=time.now, math.calculate; admin=*") == {
        "user": ("time.now", "math.calculate"),
        "admin": ("*",),
    }
    assert parse_tool_grants("") == {}
    with pytest.raises(ValueError, match="user=time.now"):
        parse_tool_grants("user")


async def test_grant_tools_signs_the_roles_tools_and_none_for_an_unnamed_role() -> None:
    grants = parse_tool_grants("user=time.now;admin=*")
    user, admin = keyed("user"), keyed("admin")
    await GrantTools(grants)(user)
    await GrantTools(grants)(admin)
    assert user.claims().tools == ("time.now",) and admin.claims().tools == ("*",)
    stranger = keyed("user")
    await GrantTools({"admin": ("*",)})(stranger)
    assert stranger.claims().tools == ()
    with pytest.raises(UnauthenticatedError):
        await GrantTools(grants)(request({}))


def test_a_yaml_tool_policy_loads_or_stops_start_up(tmp_path: Path) -> None:
    from alice.errors import ConfigError
    from guardian.policy import load_tool_policy

    example = Path(__file__).resolve().parents[2] / "config" / "tool_policy.example.yaml"
    grants = load_tool_policy(example)
    assert grants["admin"] == ("*",) and "time.now" in grants["user"] and "home.control" not in grants["user"]
    for text, problem in (
        ("roles: [user]", "roles"),
        ("roles:\n  user: time.now", "list of tool names"),
        ("{{{", "not YAML"),
    ):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=problem):
            load_tool_policy(bad)
    with pytest.raises(ConfigError, match="No such file"):
        load_tool_policy(tmp_path / "missing.yaml")
