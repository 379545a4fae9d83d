"""The micro route's structured answer: the LLM must return ``{"svar": "..."}`` (a JSON schema handed to Ollama's
``format``), validated with pydantic; one repair attempt, then the caller moves on to the next route.

A small model asked for free text drifts (English, lists, role-play); a schema-constrained answer is short and
checkable, and a broken one is caught instead of shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.llm import Message

MAX_ANSWER_CHARS: Final = 600
#: The start of a schema answer whose string never closed: the token budget ran out inside it.
_CUT_OFF: Final = re.compile(r'\s*\{\s*"svar"\s*:\s*"((?:[^"\\]|\\.)*\\?)\Z', re.DOTALL)


class MicroAnswer(BaseModel):
    """What the micro route's LLM must return."""

    model_config = ConfigDict(extra="forbid")

    svar: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS, description="Det korta svaret, på svenska.")


MICRO_SCHEMA: Final[dict[str, Any]] = MicroAnswer.model_json_schema()

REPAIR_PROMPT: Final = (
    'Ditt förra svar följde inte formatet. Svara igen, endast med JSON av formen {"svar": "<kort svar på svenska>"}.'
)


def parse_answer(raw: str) -> str | None:
    """The answer text from the LLM's JSON, or None when it does not fit :class:`MicroAnswer`.

    An answer cut off by the token budget (``{"svar": "Hej! Jag kan hjä``) keeps the text it has, as a free-text
    answer cut off at the same budget would."""
    try:
        text = MicroAnswer.model_validate_json(raw.strip()).svar.strip()
    except ValidationError:
        return _cut_off(raw)
    return text or None


def _cut_off(raw: str) -> str | None:
    match = _CUT_OFF.match(raw)
    if match is None:
        return None
    body = match.group(1).rstrip("\\")
    try:
        text = json.loads(f'"{body}"')
    except json.JSONDecodeError:
        return None
    return text.strip() or None if isinstance(text, str) else None


def repair_messages(messages: Sequence[Message], raw: str) -> list[Message]:
    """The conversation again, with the broken answer and a request to follow the format."""
    return [*messages, {"role": "assistant", "content": raw[:2000]}, {"role": "user", "content": REPAIR_PROMPT}]
