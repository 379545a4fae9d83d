"""The micro route's schema answer: parsed, cut-off answers kept, anything else refused."""

from __future__ import annotations

import pytest

from orchestrator.micro import MICRO_SCHEMA, parse_answer, repair_messages


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ('{"svar": "Hej!"}', "Hej!"),
        ('  {"svar": " Hej där! "}\n', "Hej där!"),
        ('{"svar": "Hej! Jag kan hj', "Hej! Jag kan hj"),  # the token budget ran out inside the string
        ('{"svar": "Hon sa \\"hej\\', 'Hon sa "hej'),
        ("Hej! (inte JSON)", None),
        ("{}", None),
        ('{"svar": ""}', None),
        ('{"svar": "a", "extra": 1}', None),
        ('{"answer": "Hej"}', None),
    ],
)
def test_parse_answer(raw: str, text: str | None) -> None:
    assert parse_answer(raw) == text


def test_the_schema_and_the_repair_request() -> None:
    assert MICRO_SCHEMA["required"] == ["svar"] and MICRO_SCHEMA["additionalProperties"] is False
    messages = repair_messages([{"role": "user", "content": "hej"}], "trasigt")
    assert [m["role"] for m in messages] == ["user", "assistant", "user"] and messages[1]["content"] == "trasigt"
