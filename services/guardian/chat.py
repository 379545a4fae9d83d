"""The chat request schema the guardian enforces before anything reaches the orchestrator.

:func:`parse_chat` turns a body into a :class:`ChatRequest` or raises
:class:`~alice.errors.ValidationFailedError` whose detail names the first problem (``message: Field
required``) and whose ``errors`` list names them all. The message text never appears in an error.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from alice.errors import ValidationFailedError

DEFAULT_MAX_MESSAGE_CHARS = 4000
Route = Literal["tool", "micro", "planner", "deep"]


class ChatRequest(BaseModel):
    """``POST /api/chat``: unknown fields are refused, types are strict (no "true" for a bool)."""

    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)

    message: str = Field(min_length=1)
    session_id: str | None = Field(default=None, max_length=128)
    stream: bool = False
    force_route: Route | None = None

    @field_validator("message")
    @classmethod
    def _message_fits(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        context = info.context if isinstance(info.context, dict) else {}
        limit = int(context.get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS))
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value


def _describe(errors: list[Any]) -> list[dict[str, str]]:
    described = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        described.append({"loc": loc, "msg": msg})
    return described


def parse_chat(body: bytes, max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS) -> ChatRequest:
    """Validate a raw JSON body as a :class:`ChatRequest` (malformed JSON is a 422 too)."""
    try:
        return ChatRequest.model_validate_json(body, context={"max_message_chars": max_message_chars})
    except ValidationError as exc:
        errors = _describe(exc.errors(include_input=False, include_url=False))
        first = errors[0] if errors else {"loc": "body", "msg": "invalid"}
        raise ValidationFailedError(f"{first['loc']}: {first['msg']}", extra={"errors": errors}) from None
