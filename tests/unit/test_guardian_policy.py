"""The policy pipeline and its authentication and schema steps (guardian.policy)."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from alice.errors import UnauthenticatedError, ValidationFailedError
from alice.signing import Claims
from guardian.keys import KeyStore
from guardian.policy import (
    Authenticate,
    GuardRequest,
    Pipeline,
    ValidateChat,
    chat_pipeline,
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
