"""The chat schema the guardian enforces (guardian.chat)."""

from __future__ import annotations

import json

import pytest

from alice.errors import ValidationFailedError
from guardian.chat import parse_chat


def failure(body: bytes | str, max_chars: int = 4000) -> ValidationFailedError:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(ValidationFailedError) as caught:
        parse_chat(raw, max_chars)
    assert caught.value.status == 422
    return caught.value


def test_minimal_and_full_requests() -> None:
    minimal = parse_chat(b'{"message": "Hej"}')
    assert (minimal.message, minimal.session_id, minimal.stream, minimal.force_route) == ("Hej", None, False, None)
    full = parse_chat(
        json.dumps({"message": "Vad är klockan?", "session_id": "s1", "stream": True, "force_route": "deep"}).encode()
    )
    assert (full.session_id, full.stream, full.force_route) == ("s1", True, "deep")


def test_missing_message_names_the_field() -> None:
    assert failure("{}").detail == "message: Field required"


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_blank_message_is_refused(message: str) -> None:
    assert failure(json.dumps({"message": message})).detail.startswith("message: ")


def test_message_length_limit_comes_from_settings() -> None:
    parse_chat(json.dumps({"message": "x" * 10}).encode(), 10)
    error = failure(json.dumps({"message": "x" * 11}), 10)
    assert error.detail == "message: must be at most 10 characters"


def test_unknown_fields_are_refused() -> None:
    assert failure('{"message": "hej", "model": "gpt"}').detail == "model: Extra inputs are not permitted"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "hej", "session_id": "s" * 129}, "session_id"),
        ({"message": "hej", "stream": "true"}, "stream"),
        ({"message": "hej", "force_route": "gpu"}, "force_route"),
        ({"message": 42}, "message"),
    ],
)
def test_field_types_and_bounds(body: dict[str, object], field: str) -> None:
    assert failure(json.dumps(body)).detail.startswith(f"{field}: ")


@pytest.mark.parametrize("body", ["{", "", "not json", '{"message": "hej",}'])
def test_malformed_json_is_422(body: str) -> None:
    assert failure(body).detail.startswith("body: Invalid JSON")


def test_a_json_array_is_not_a_chat_request() -> None:
    assert failure('["hej"]').detail.startswith("body: ")


def test_errors_list_every_problem_and_never_echo_the_message() -> None:
    error = failure(json.dumps({"message": "hemligt personnummer " * 300, "extra": 1}), 100)
    locs = [e["loc"] for e in error.extra["errors"]]
    assert locs == ["message", "extra"]
    assert "hemligt" not in json.dumps(error.extra) + error.detail
