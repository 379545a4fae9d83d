"""Request and response models of the NLU HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

MAX_TEXT_CHARS = 2000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text must contain something other than whitespace")
    return value


class ParseRequest(BaseModel):
    """One text to parse."""

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    include_embedding: bool | None = Field(default=None, description="Default from NLU_INCLUDE_EMBEDDING")

    _check_text = field_validator("text")(_not_blank)


class BatchParseRequest(BaseModel):
    """Several texts parsed in one embedding batch (at most ``NLU_MAX_BATCH``)."""

    texts: list[str] = Field(min_length=1, max_length=1024)
    include_embedding: bool | None = None

    @field_validator("texts")
    @classmethod
    def _check_texts(cls, values: list[str]) -> list[str]:
        for value in values:
            if not 1 <= len(value) <= MAX_TEXT_CHARS:
                raise ValueError(f"each text must be 1..{MAX_TEXT_CHARS} characters")
            _not_blank(value)
        return values


class IntentScore(BaseModel):
    label: str
    confidence: float


class Entity(BaseModel):
    """One entity with character offsets (``text == input[start:end]``); see ``nlu.entities``."""

    type: str
    value: int | float | str | None
    text: str
    start: int
    end: int
    expression: str | None = Field(default=None, description="normalised arithmetic, for type 'expression'")


class Timings(BaseModel):
    embed: float
    classify: float
    total: float


class ParseResponse(BaseModel):
    """Intent, the three next-best intents, entities, route hint and (optionally) the sentence embedding."""

    intent: IntentScore
    alternatives: list[IntentScore]
    entities: list[Entity]
    route_hint: str
    embedding: list[float] | None = None
    model_version: str
    timings_ms: Timings


class BatchParseResponse(BaseModel):
    results: list[ParseResponse]
    model_version: str
    timings_ms: Timings


class IntentInfo(BaseModel):
    label: str
    description: str
    route_hint: str
    trained: bool


class IntentsResponse(BaseModel):
    intents: list[IntentInfo]
    model_version: str | None
    min_confidence: float | None
    min_margin: float | None
