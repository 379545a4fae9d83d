"""What every tool is: a name, a pydantic argument model (its JSON schema is what an LLM planner fills), a
timeout, arguments read from the NLU's entities, and an async ``run`` that returns a :class:`ToolResult` with a
Swedish answer.

A tool never raises for a failure the user should hear about (a weather service that does not answer, a timer
that does not exist): it returns ``ToolResult(ok=False, answer=<Swedish explanation>, error=<code>)``. It raises
:class:`ToolArgumentsError` only when its arguments are invalid (the planner may repair them). Tools hold no
state of their own: what must outlive a request (timers, memories, drafts) lives in Redis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel

STOCKHOLM = ZoneInfo("Europe/Stockholm")


class ToolArgumentsError(ValueError):
    """The arguments do not fit the tool's schema (the message says which and why, in English, for logs)."""


@dataclass(frozen=True)
class ToolContext:
    """Who asks and what the NLU read: the tool's view of the request."""

    tenant: str
    user: str
    text: str
    now: datetime
    entities: Sequence[Mapping[str, Any]] = ()
    embedding: Sequence[float] | None = None
    request_id: str | None = None

    def entity_values(self, kind: str) -> list[Any]:
        """The values of the entities of one type, in text order."""
        return [e.get("value") for e in self.entities if e.get("type") == kind]


@dataclass(frozen=True)
class Attachment:
    """A file the answer links to (an .ics calendar draft, an .eml e-mail draft)."""

    url: str
    filename: str
    media_type: str


@dataclass(frozen=True)
class ToolResult:
    """What a tool did: its arguments, typed data, the Swedish answer, and whether it succeeded."""

    name: str
    args: dict[str, Any]
    data: dict[str, Any]
    answer: str
    ok: bool = True
    error: str | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


class Tool(Protocol):
    """One tool. ``Args`` is a pydantic model; ``args_from_context`` returns None when a required argument is
    missing from the message (the router then asks the planner or the user)."""

    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    timeout_s: ClassVar[float]

    def args_from_context(self, ctx: ToolContext) -> BaseModel | None: ...

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult: ...


def now_in_stockholm() -> datetime:
    """The current time in Europe/Stockholm (the default zone of every tool)."""
    return datetime.now(STOCKHOLM)


def json_schema(tool: Tool) -> dict[str, Any]:
    """The function description a planner LLM sees: name, description, JSON schema of the arguments."""
    return {"name": tool.name, "description": tool.description, "parameters": tool.Args.model_json_schema()}
