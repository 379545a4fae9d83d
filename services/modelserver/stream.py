"""Tokens from the model's worker thread to the event loop, and NDJSON framing for streamed replies.

The worker thread pushes :data:`Event` objects with :meth:`TokenStream.push`, which hands them to the loop with
``call_soon_threadsafe``; the request handler iterates :meth:`TokenStream.events`. Leaving that iteration
early (client gone, handler cancelled) sets the stream's cancel flag, which the worker checks after every
token, so generation stops within one token.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from modelserver.meter import GenerationStats

NDJSON_MEDIA_TYPE = "application/x-ndjson"


@dataclass(frozen=True)
class Delta:
    """A piece of generated text (one or a few tokens)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """Generation ended; ``reason`` is Ollama's ``done_reason`` (stop, length, cancelled)."""

    reason: str
    stats: GenerationStats


@dataclass(frozen=True)
class Failed:
    """Generation failed in the worker; ``message`` is safe to show to the client."""

    message: str


Event = Delta | Finished | Failed


class TokenStream:
    """A one-way channel from one worker thread to one consumer on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._cancel = threading.Event()
        self.future: Future[None] | None = None

    @property
    def cancelled(self) -> bool:
        """True once the consumer has gone away (checked by the worker after every token)."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop the generation: a queued job never starts, a running one stops after its next token."""
        self._cancel.set()
        if self.future is not None:
            self.future.cancel()  # only succeeds while the job is still waiting for the worker

    def push(self, event: Event) -> None:
        """Called from the worker thread."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._cancel.set()

    async def events(self) -> AsyncIterator[Event]:
        """Events until :class:`Finished` or :class:`Failed`; leaving early cancels the generation."""
        try:
            while True:
                event = await self._queue.get()
                yield event
                if not isinstance(event, Delta):
                    return
        finally:
            self.cancel()


def ndjson_line(obj: dict[str, Any]) -> bytes:
    """One NDJSON record: compact JSON, UTF-8, newline-terminated (JSON escapes any newline inside)."""
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


async def ndjson_stream(
    stream: TokenStream,
    on_delta: Callable[[str], dict[str, Any]],
    on_finished: Callable[[Finished], dict[str, Any]],
) -> AsyncIterator[bytes]:
    """Frame events as Ollama streams them: one object per delta, a final ``done`` object, or ``{"error"}``."""
    try:
        async for event in stream.events():
            if isinstance(event, Delta):
                yield ndjson_line(on_delta(event.text))
            elif isinstance(event, Finished):
                yield ndjson_line(on_finished(event))
            else:
                yield ndjson_line({"error": event.message})
    finally:
        stream.cancel()  # the client went away: stop generating


async def collect(stream: TokenStream) -> tuple[str, Finished | Failed]:
    """The whole text and the terminal event, for ``stream: false``."""
    parts: list[str] = []
    try:
        async for event in stream.events():
            if isinstance(event, Delta):
                parts.append(event.text)
            else:
                return "".join(parts), event
    finally:
        stream.cancel()
    raise RuntimeError("token stream ended without a terminal event")
