"""The chat flow: NLU → route → LLM, as plain async code (no FastAPI) so later issues can slot in the cache,
the breaker and the tools between its steps.

Both entry points bind the canonical log fields (``route``, ``intent``, ``cache``, ``model``) for the access
middleware's ``request`` line. User text is never logged, only its length.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from alice.errors import ServiceError
from alice.requestid import current_request_id
from orchestrator.llm import Llm, LlmChunk, Message
from orchestrator.metrics import ChatMetrics
from orchestrator.nlu import Nlu, NluResult
from orchestrator.prompts import system_prompt
from orchestrator.router import RouteDecision, choose_route
from orchestrator.schemas import ChatRequest, ChatResponse

log = structlog.get_logger("orchestrator.chat")

Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Generation:
    """How the LLM is asked: tokens per route and temperature."""

    num_predict_micro: int = 128
    num_predict_deep: int = 384
    temperature: float = 0.3

    def num_predict(self, route: str) -> int:
        """The token budget of the route that answers."""
        return self.num_predict_micro if route == "micro" else self.num_predict_deep


@dataclass(frozen=True)
class Plan:
    """What the orchestrator decided for one message before it calls the LLM."""

    message: str
    nlu: NluResult | None
    decision: RouteDecision
    started: float

    @property
    def intent(self) -> str | None:
        return self.nlu.intent if self.nlu else None

    @property
    def confidence(self) -> float | None:
        return self.nlu.confidence if self.nlu else None

    def messages(self) -> list[Message]:
        """The chat messages for the LLM: the route's Swedish system prompt and the user's message."""
        return [
            {"role": "system", "content": system_prompt(self.decision.route)},
            {"role": "user", "content": self.message},
        ]


@dataclass
class ChatStream:
    """A stream whose first LLM chunk has arrived: its meta data, then the events to send."""

    meta: dict[str, Any]
    events: AsyncIterator[Event]


class ChatService:
    """Answers chat requests; the HTTP layer only parses, calls and frames."""

    def __init__(
        self,
        nlu: Nlu,
        llm: Llm,
        metrics: ChatMetrics,
        generation: Generation | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._nlu = nlu
        self._llm = llm
        self._metrics = metrics
        self._generation = generation or Generation()
        self._clock = clock

    @property
    def model(self) -> str:
        """The model that answers."""
        return self._llm.model

    async def _understand(self, message: str) -> NluResult | None:
        """The NLU's reading of ``message``, or None when the NLU fails (the chat goes on without it)."""
        try:
            return await self._nlu.parse(message)
        except ServiceError as exc:
            self._metrics.nlu_failures.labels(exc.code).inc()
            log.warning("nlu_unavailable", error_code=exc.code, error=exc.detail, message_chars=len(message))
            return None

    async def plan(self, request: ChatRequest) -> Plan:
        """Parse and route ``request``; binds the canonical log fields."""
        started = self._clock()
        nlu = await self._understand(request.message)
        decision = choose_route(nlu.intent if nlu else None, nlu.route_hint if nlu else None, request.force_route)
        plan = Plan(message=request.message, nlu=nlu, decision=decision, started=started)
        structlog.contextvars.bind_contextvars(
            route=decision.route,
            route_reason=decision.reason,
            intent=plan.intent,
            cache="miss",
            model=self.model,
            message_chars=len(request.message),
        )
        return plan

    def _response(self, plan: Plan, text: str) -> ChatResponse:
        return ChatResponse(
            response=text,
            route=plan.decision.route,
            route_reason=plan.decision.reason,
            intent=plan.intent,
            confidence=plan.confidence,
            model=self.model,
            latency_ms=round((self._clock() - plan.started) * 1000, 2),
            request_id=current_request_id(),
        )

    def _failed(self, plan: Plan, exc: ServiceError) -> None:
        self._metrics.chat(plan.decision.route, plan.intent, exc.code)
        log.warning("llm_failed", error_code=exc.code, route=plan.decision.route, model=self.model)

    async def answer(self, request: ChatRequest) -> ChatResponse:
        """The whole answer to ``request``; LLM failures leave as typed kernel errors."""
        plan = await self.plan(request)
        route = plan.decision.route
        gen = self._generation
        t0 = self._clock()
        try:
            answer = await self._llm.complete(plan.messages(), gen.num_predict(route), gen.temperature)
        except ServiceError as exc:
            self._failed(plan, exc)
            raise
        self._metrics.llm_call(route, self.model, self._clock() - t0, answer.prompt_tokens, answer.completion_tokens)
        self._metrics.chat(route, plan.intent, "ok")
        return self._response(plan, answer.text.strip())

    def meta(self, plan: Plan) -> dict[str, Any]:
        """The stream's ``meta`` event: what was decided before the first token."""
        return {
            "route": plan.decision.route,
            "route_reason": plan.decision.reason,
            "intent": plan.intent,
            "confidence": plan.confidence,
            "request_id": current_request_id(),
            "model": self.model,
        }

    async def open_stream(self, request: ChatRequest) -> ChatStream:
        """Start streaming; errors before the first token raise here (so they can be a plain problem)."""
        plan = await self.plan(request)
        route = plan.decision.route
        gen = self._generation
        t0 = self._clock()
        chunks = aiter(self._llm.stream(plan.messages(), gen.num_predict(route), gen.temperature))
        try:
            first = await _first_chunk(chunks)
        except ServiceError as exc:
            self._failed(plan, exc)
            raise
        self._metrics.ttft.labels(route, self.model).observe(self._clock() - t0)
        return ChatStream(meta=self.meta(plan), events=self._events(plan, first, chunks, t0))

    async def _events(
        self, plan: Plan, first: LlmChunk, chunks: AsyncIterator[LlmChunk], t0: float
    ) -> AsyncIterator[Event]:
        """``meta``, a ``delta`` per piece, then ``done`` (a :class:`ServiceError` mid-way propagates)."""
        route = plan.decision.route
        parts: list[str] = []
        last = first
        yield "meta", self.meta(plan)
        try:
            chunk: LlmChunk | None = first
            while chunk is not None:
                last = chunk
                if chunk.content:
                    parts.append(chunk.content)
                    yield "delta", {"content": chunk.content}
                chunk = None if chunk.done else await anext(chunks, None)
        except ServiceError as exc:
            self._failed(plan, exc)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            self._metrics.chat(route, plan.intent, "cancelled")
            raise
        finally:
            await _close(chunks)
        self._metrics.llm_call(route, self.model, self._clock() - t0, last.prompt_tokens, last.completion_tokens)
        self._metrics.chat(route, plan.intent, "ok")
        yield "done", self._response(plan, "".join(parts).strip()).model_dump(mode="json")


async def _first_chunk(chunks: AsyncIterator[LlmChunk]) -> LlmChunk:
    """The first chunk with text (or the last one, when the answer is empty)."""
    async for chunk in chunks:
        if chunk.content or chunk.done:
            return chunk
    return LlmChunk(content="", done=True)


async def _close(chunks: AsyncIterator[LlmChunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
