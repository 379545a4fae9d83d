"""The chat flow: exact cache → NLU → semantic cache → route → negative cache → LLM → store, as plain async
code (no FastAPI) so later issues can slot in the breaker and the tools between its steps.

Both entry points bind the canonical log fields (``route``, ``intent``, ``cache``, ``model``) for the access
middleware's ``request`` line. User text is never logged, only its length.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog
from redis.exceptions import RedisError

from alice.errors import DependencyDownError, ServiceError, UpstreamError, UpstreamTimeoutError
from alice.requestid import current_request_id
from orchestrator.cache.answers import AnswerCache, CachedAnswer
from orchestrator.cache.semantic import Question
from orchestrator.conversation import Turn
from orchestrator.forget import ForgetRequest, Forgetter, parse_forget
from orchestrator.llm import Llm, LlmChunk, Message
from orchestrator.metrics import CacheMetrics, ChatMetrics
from orchestrator.micro import MICRO_SCHEMA, parse_answer, repair_messages
from orchestrator.nlu import Nlu, NluResult
from orchestrator.planner import Planner, PlannerRun
from orchestrator.prompts import MICRO_JSON_SUFFIX, system_prompt
from orchestrator.recall import Recall, Recaller
from orchestrator.router import AVAILABLE, BROWNOUT, WITH_PLANNER, Route, RouteDecision, choose_route
from orchestrator.routewindow import RouteWindow
from orchestrator.schemas import CacheInfo, ChatRequest, ChatResponse, MemoryInfo, ToolCall
from orchestrator.toolflow import ToolRunner, tool_context
from orchestrator.tools.base import ToolResult
from orchestrator.tools.registry import allowed

log = structlog.get_logger("orchestrator.chat")

Event = tuple[str, dict[str, Any]]
DEFAULT_TENANT = "default"
ALL_TOOLS = ("*",)


@dataclass(frozen=True)
class Caller:
    """Who asks, as the guardian signed it: tenant, the key (the user of timers and memories), granted tools."""

    tenant: str = DEFAULT_TENANT
    user: str = "anonymous"
    tools: tuple[str, ...] = ALL_TOOLS
    #: The guardian is in brownout: answer without the planner and deep routes.
    brownout: bool = False


#: The problem a remembered upstream failure is answered with, by its status.
_NEGATIVE_ERRORS: dict[int, type[ServiceError]] = {
    502: UpstreamError,
    503: DependencyDownError,
    504: UpstreamTimeoutError,
}


@dataclass(frozen=True)
class Generation:
    """How the LLM is asked: tokens per route and temperature."""

    num_predict_micro: int = 128
    num_predict_deep: int = 384
    temperature: float = 0.3
    num_predict_planner: int = 160

    def num_predict(self, route: str) -> int:
        """The token budget of the route that answers."""
        if route == "planner":
            return self.num_predict_planner
        return self.num_predict_micro if route == "micro" else self.num_predict_deep


@dataclass(frozen=True)
class Plan:
    """What the orchestrator decided for one message before it calls the LLM."""

    message: str
    nlu: NluResult | None
    decision: RouteDecision
    started: float
    tenant: str = DEFAULT_TENANT
    cache_key: str | None = None
    forced: bool = False
    #: Answered under the guardian's brownout (a cheaper route than wanted): never cached.
    degraded: bool = False
    #: The conversation (``session_id``) the message belongs to.
    session: str | None = None
    #: What the memory tiers gave the planner or deep route: an answer written with it is never cached.
    recall: Recall = Recall()

    @property
    def intent(self) -> str | None:
        return self.nlu.intent if self.nlu else None

    @property
    def confidence(self) -> float | None:
        return self.nlu.confidence if self.nlu else None

    def question(self) -> Question:
        """The message as the cache sees it (no embedding for a forced route: it is cached exactly only)."""
        nlu = self.nlu
        embedding = nlu.embedding if nlu is not None and not self.forced else None
        return Question(self.message, self.intent, nlu.entities if nlu else (), embedding)

    def messages(self, structured: bool = False) -> list[Message]:
        """The chat messages for the LLM: the route's Swedish system prompt (asking for JSON when
        ``structured``) and the user's message."""
        prompt = system_prompt(self.decision.route) + (MICRO_JSON_SUFFIX if structured else "")
        messages: list[Message] = [{"role": "system", "content": prompt}, {"role": "user", "content": self.message}]
        return self.recall.apply(messages) if not self.recall.empty else messages


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
        cache: AnswerCache | None = None,
        cache_metrics: CacheMetrics | None = None,
        tools: ToolRunner | None = None,
        window: RouteWindow | None = None,
        planner_calls: tuple[int, ...] | None = None,
        route_llms: Mapping[str, Llm] | None = None,
        nlu_fallback: Callable[[str], NluResult | None] | None = None,
        recaller: Recaller | None = None,
        forgetter: Forgetter | None = None,
    ) -> None:
        #: The memory tiers (working, session, long-term); None: every message stands alone.
        self.recaller = recaller
        #: "glöm det" / "glöm allt"; None: no forgetting by chat (no Redis).
        self.forgetter = forgetter
        self._nlu = nlu
        #: A reading of the message while the NLU fails (``orchestrator.fallback_nlu``); None: the LLM answers.
        self._nlu_fallback = nlu_fallback
        self._llm = llm
        #: Other models for some routes (a smaller one for micro, a larger one for deep); the rest use ``llm``.
        self._route_llms = dict(route_llms or {})
        self._metrics = metrics
        self._generation = generation or Generation()
        self._clock = clock
        self.cache = cache
        self._cache_metrics = cache_metrics
        self.tools = tools
        self.window = window
        #: ``FIB_ROUTER_MAX_TOOL_CALLS`` (1 → 2 → 3); None: no planner route (it needs tools).
        self._planner_calls = planner_calls if tools is not None else None

    @property
    def model(self) -> str:
        """The model that answers."""
        return self._llm.model

    def _llm_routes(self, brownout: bool) -> frozenset[str]:
        """The LLM routes that may answer: micro only under the guardian's brownout, else micro and deep, and the
        planner when this service has one."""
        if brownout:
            return BROWNOUT
        return WITH_PLANNER if self._planner_calls is not None else AVAILABLE

    def _llm_for(self, route: str) -> Llm:
        return self._route_llms.get(route, self._llm)

    async def _understand(self, message: str) -> NluResult | None:
        """The NLU's reading of ``message``, or None when the NLU fails (the chat goes on without it)."""
        try:
            return await self._nlu.parse(message)
        except ServiceError as exc:
            self._metrics.nlu_failures.labels(exc.code).inc()
            log.warning("nlu_unavailable", error_code=exc.code, error=exc.detail, message_chars=len(message))
            reading = self._nlu_fallback(message) if self._nlu_fallback is not None else None
            if reading is not None:
                structlog.contextvars.bind_contextvars(nlu="fallback")
            return reading

    async def plan(
        self,
        request: ChatRequest,
        tenant: str = DEFAULT_TENANT,
        key: str | None = None,
        started: float | None = None,
        brownout: bool = False,
    ) -> Plan:
        """Parse and route ``request`` (under ``brownout`` only the tool and micro routes); binds the canonical log
        fields."""
        started = self._clock() if started is None else started
        nlu = await self._understand(request.message)
        if nlu is not None and nlu.model_version and self.cache is not None:
            self.cache.set_nlu_version(nlu.model_version)
        decision = choose_route(
            nlu.intent if nlu else None,
            nlu.route_hint if nlu else None,
            request.force_route,
            self.tools.intents() if self.tools is not None else frozenset(),
            self._llm_routes(brownout),
        )
        if decision.route == "micro" and request.force_route is None and self.window is not None and not brownout:
            if not await self.window.micro_allowed():
                decision = RouteDecision(route="deep", wanted="micro", reason=f"{decision.reason}:micro_share_cap")
        plan = Plan(
            message=request.message,
            nlu=nlu,
            decision=decision,
            started=started,
            tenant=tenant,
            cache_key=key,
            forced=request.force_route is not None,
            degraded=brownout,
            session=request.session_id,
        )
        structlog.contextvars.bind_contextvars(
            route=decision.route,
            route_reason=decision.reason,
            intent=plan.intent,
            cache="miss",
            model=self._llm_for(decision.route).model,
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
            model=self._llm_for(plan.decision.route).model,
            latency_ms=round((self._clock() - plan.started) * 1000, 2),
            request_id=current_request_id(),
            memory=_memory_info(plan.recall),
        )

    def _failed(self, plan: Plan, exc: ServiceError) -> None:
        self._metrics.chat(plan.decision.route, plan.intent, exc.code)
        log.warning(
            "llm_failed", error_code=exc.code, route=plan.decision.route, model=self._llm_for(plan.decision.route).model
        )

    # -- cache steps ----------------------------------------------------------------------------------------
    async def _cached(
        self, request: ChatRequest, tenant: str, started: float
    ) -> tuple[str | None, ChatResponse | None]:
        """The exact key and, when the exact tier holds the question, the cached response."""
        if self.cache is None:
            return None, None
        key = self.cache.key(tenant, request.message, request.force_route)
        t0 = self._clock()
        hit = await self.cache.exact(tenant, key)
        self._observe("exact", hit, t0)
        return key, (await self._hit_response(hit, tenant, started) if hit else None)

    async def _cached_paraphrase(self, plan: Plan) -> ChatResponse | None:
        """The semantic tier's answer to a planned message, if it holds one."""
        if self.cache is None or plan.cache_key is None or plan.forced:
            return None
        question = plan.question()
        if question.embedding is None:
            return None
        t0 = self._clock()
        hit = await self.cache.semantic(plan.tenant, question, plan.cache_key)
        self._observe("semantic", hit, t0)
        return await self._hit_response(hit, plan.tenant, plan.started) if hit else None

    def _observe(self, tier: str, hit: CachedAnswer | None, t0: float) -> None:
        if self._cache_metrics is not None:
            self._cache_metrics.lookup(tier, hit is not None, self._clock() - t0)
            if hit is not None:
                self._cache_metrics.hit_tier.labels(f"L{hit.tier}").inc()

    async def _hit_response(self, hit: CachedAnswer, tenant: str, started: float) -> ChatResponse:
        answer = hit.answer
        structlog.contextvars.bind_contextvars(
            route=answer.get("route"), intent=answer.get("intent"), cache=f"hit_{hit.kind}", cache_tier=hit.tier
        )
        response = ChatResponse(
            response=str(answer.get("response", "")),
            route=answer.get("route", "deep"),
            route_reason=str(answer.get("route_reason", "cached")),
            intent=answer.get("intent"),
            confidence=answer.get("confidence"),
            cache=CacheInfo(hit=True, tier=hit.tier, kind=hit.kind, similarity=hit.similarity),
            model=str(answer.get("model", self.model)),
            latency_ms=round((self._clock() - started) * 1000, 2),
            request_id=current_request_id(),
        )
        self._metrics.chat(response.route, response.intent, f"cache_{hit.kind}")
        if self.cache is not None:
            await self.cache.link(response.request_id, hit.entry_id, hit.kind, tenant)
        return response

    async def _refuse_remembered_failure(self, plan: Plan) -> None:
        """Raise the upstream failure this tenant's question met seconds ago, without calling the LLM again."""
        if self.cache is None or plan.cache_key is None:
            return
        t0 = self._clock()
        remembered = await self.cache.failure(plan.tenant, plan.cache_key)
        if self._cache_metrics is not None:
            self._cache_metrics.lookup("negative", remembered is not None, self._clock() - t0)
        if remembered is None:
            return
        problem, seconds_left = remembered
        error = _NEGATIVE_ERRORS.get(int(problem.get("status", 503)), DependencyDownError)
        structlog.contextvars.bind_contextvars(cache="hit_negative")
        self._metrics.chat(plan.decision.route, plan.intent, "cache_negative")
        raise error(f"{problem.get('detail', error.title)} (remembered for {seconds_left} s)", retry_after=seconds_left)

    async def _remember_failure(self, plan: Plan, exc: ServiceError) -> None:
        if self.cache is not None and plan.cache_key is not None:
            await self.cache.remember_failure(plan.tenant, plan.cache_key, exc.status, exc.code, exc.detail)

    async def _store(self, plan: Plan, response: ChatResponse) -> None:
        """Offer a fresh answer to the cache and link the request to it (for feedback)."""
        if self.cache is None or plan.cache_key is None or not response.response or plan.degraded:
            return
        if not plan.recall.empty:  # written with the conversation or the user's memories: not for anyone else
            return
        answer = response.model_dump(
            mode="json", include={"response", "route", "route_reason", "intent", "confidence", "model"}
        )
        entry_id = await self.cache.put(plan.tenant, plan.cache_key, plan.question(), answer)
        if self._cache_metrics is not None:
            self._cache_metrics.stores.labels("stored" if entry_id else "skipped").inc()
        await self.cache.link(response.request_id, entry_id, "fresh", plan.tenant)

    async def _decided(self, decision: RouteDecision) -> None:
        """Count a routing decision that answered (metrics, and the shared window of the micro cap)."""
        self._metrics.decisions.labels(decision.route, decision.reason).inc()
        if self.window is not None:
            await self.window.record(decision.route)

    # -- tools --------------------------------------------------------------------------------------------------
    async def _tool_answer(self, plan: Plan, caller: Caller) -> tuple[Plan, ChatResponse | None]:
        """The tool's answer on the tool route; else the plan, re-routed to the LLM when the tool cannot answer."""
        tool = self.tools.registry.get(plan.intent) if self.tools is not None else None
        if plan.decision.route != "tool" or tool is None or self.tools is None:
            return plan, None
        nlu = plan.nlu
        ctx = tool_context(
            caller.tenant,
            caller.user,
            plan.message,
            tuple(dict(e) for e in nlu.entities) if nlu else (),
            nlu.embedding if nlu else None,
            current_request_id(),
        )
        outcome = await self.tools.run(tool, ctx, caller.tools)
        if outcome.result is None:
            available = self._llm_routes(plan.degraded)
            route: Route = "planner" if "planner" in available else "deep" if "deep" in available else "micro"
            decision = RouteDecision(route=route, wanted="tool", reason=f"{plan.decision.reason}:{outcome.reason}")
            structlog.contextvars.bind_contextvars(route=route, route_reason=decision.reason)
            return replace(plan, decision=decision), None
        result = outcome.result
        structlog.contextvars.bind_contextvars(tool=tool.name, tool_ok=result.ok)
        response = ChatResponse(
            response=result.answer,
            route="tool",
            route_reason=plan.decision.reason if result.ok else f"{plan.decision.reason}:{outcome.reason}",
            intent=plan.intent,
            confidence=plan.confidence,
            tools=[ToolCall(name=result.name, args=result.args, result=_tool_payload(result))],
            model=None,
            latency_ms=round((self._clock() - plan.started) * 1000, 2),
            request_id=current_request_id(),
        )
        self._metrics.chat("tool", plan.intent, "ok" if result.ok else "tool_failed")
        await self._decided(plan.decision)
        if result.ok:
            await self._store(plan, response)
        return plan, response

    # -- planner ----------------------------------------------------------------------------------------------
    async def _planned(self, plan: Plan, caller: Caller) -> tuple[Plan, ChatResponse | None]:
        """The planner route's answer: tools run straight from the NLU where it can, LLM steps for the rest; when
        it has nothing to say (no tool, no question, no reply) the plan re-routed to deep."""
        assert self.tools is not None and self._planner_calls is not None  # noqa: S101 - checked by the caller
        runner = self.tools
        names = sorted(runner.intents())

        async def run_tool(name: str, text: str, nlu: NluResult) -> ToolResult | None:
            tool = runner.registry.get(name)
            if tool is None:
                return None
            entities = tuple(dict(e) for e in nlu.entities)
            ctx = tool_context(caller.tenant, caller.user, text, entities, nlu.embedding, current_request_id())
            return (await runner.run(tool, ctx, caller.tools)).result

        plan = await self._with_recall(plan, caller)
        context = "\n\n".join(b for b in (plan.recall.facts_block(), plan.recall.history_block()) if b)

        async def ask(messages: list[Message], schema: dict[str, Any]) -> str:
            if context and messages and messages[0]["role"] == "system":
                messages = [{"role": "system", "content": f"{messages[0]['content']}\n\n{context}"}, *messages[1:]]
            return await self._call(plan, messages, schema)

        planner = Planner(self._understand, run_tool, ask, self._planner_calls)
        run = await planner.run(plan.message, plan.nlu, names, [n for n in names if allowed(n, caller.tools)])
        if run.empty:
            decision = RouteDecision(route="deep", wanted="planner", reason=f"{plan.decision.reason}:planner_no_tool")
            structlog.contextvars.bind_contextvars(route="deep", route_reason=decision.reason)
            return replace(plan, decision=decision), None
        return plan, await self._planner_response(plan, run)

    async def _planner_response(self, plan: Plan, run: PlannerRun) -> ChatResponse:
        reason = plan.decision.reason if run.llm_steps else f"{plan.decision.reason}:{run.reason}"
        structlog.contextvars.bind_contextvars(
            route_reason=reason, tools=[r.name for r in run.results], planner_llm_steps=run.llm_steps
        )
        response = ChatResponse(
            response=run.answer(),
            route="planner",
            route_reason=reason,
            intent=plan.intent,
            confidence=plan.confidence,
            tools=[ToolCall(name=r.name, args=r.args, result=_tool_payload(r)) for r in run.results],
            model=self.model if run.llm_steps else None,
            latency_ms=round((self._clock() - plan.started) * 1000, 2),
            request_id=current_request_id(),
            memory=_memory_info(plan.recall),
        )
        self._metrics.chat("planner", plan.intent, "ok")
        await self._decided(plan.decision)
        if not run.results:  # an answer that ran a tool is an action or live data: never cached
            await self._store(plan, response)
        return response

    # -- memory ---------------------------------------------------------------------------------------------
    async def _with_recall(self, plan: Plan, caller: Caller) -> Plan:
        """The plan with what the memory tiers hold for it (the planner and deep routes only)."""
        if self.recaller is None or not plan.recall.empty:
            return plan
        embedding = plan.nlu.embedding if plan.nlu is not None else None
        recall = await self.recaller.recall(caller.tenant, caller.user, plan.session, embedding)
        for tier, used in (("working", recall.turns), ("long_term", recall.facts), ("none", recall.empty)):
            if used:
                self._metrics.memory.labels(tier).inc()
        if not recall.empty:
            structlog.contextvars.bind_contextvars(memory_turns=len(recall.turns), memory_facts=len(recall.facts))
        return replace(plan, recall=recall)

    async def _remember(self, request: ChatRequest, caller: Caller, response: ChatResponse) -> None:
        """Add the exchange to its session, with the ids of the memories it stored."""
        if self.recaller is None or not request.session_id:
            return
        stored = [
            str(m["id"])
            for call in response.tools
            if call.name == "memory.store" and isinstance(call.result, dict)
            for m in call.result.get("stored", ())
            if isinstance(m, dict) and "id" in m
        ]
        turn = Turn(request.message, response.response, time.time(), response.route, response.request_id, tuple(stored))
        await self.recaller.remember(caller.tenant, caller.user, request.session_id, turn)

    async def _forget(self, request: ChatRequest, caller: Caller) -> ChatResponse | None:
        """The answer to "glöm det" / "glöm att …" / "glöm allt"; None for any other message."""
        wanted = parse_forget(request.message) if self.forgetter is not None else None
        if wanted is None or self.forgetter is None:
            return None
        started = self._clock()
        try:
            counts = await self._forgotten(wanted, caller, request.session_id)
        except (RedisError, OSError):
            raise DependencyDownError(
                "The memory store (Redis) is unavailable; nothing was forgotten.", retry_after=5
            ) from None
        structlog.contextvars.bind_contextvars(route="tool", intent=FORGET_INTENT, cache="skip", forget=wanted.scope)
        self._metrics.chat("tool", FORGET_INTENT, "ok")
        return ChatResponse(
            response=_forget_answer(wanted, counts),
            route="tool",
            route_reason=f"forget_{wanted.scope}",
            intent=FORGET_INTENT,
            confidence=1.0,
            tools=[ToolCall(name=FORGET_INTENT, args={"scope": wanted.scope}, result={"ok": True, **counts})],
            model=None,
            latency_ms=round((self._clock() - started) * 1000, 2),
            request_id=current_request_id(),
        )

    async def _forgotten(self, wanted: ForgetRequest, caller: Caller, session: str | None) -> dict[str, Any]:
        assert self.forgetter is not None  # noqa: S101 - checked by the caller
        if wanted.scope == "all":
            return dict(await self.forgetter.forget_user(caller.tenant, caller.user))
        if wanted.scope == "about":
            return await self.forgetter.forget_about(caller.tenant, caller.user, wanted.what)
        return dict(await self.forgetter.forget_last(caller.tenant, caller.user, session))

    # -- answers --------------------------------------------------------------------------------------------
    async def answer(self, request: ChatRequest, caller: Caller | None = None) -> ChatResponse:
        """The whole answer to ``request``; LLM failures leave as typed kernel errors. A forget request is
        answered before anything else; every other answer is added to its session."""
        caller = caller or Caller()
        forgotten = await self._forget(request, caller)
        if forgotten is not None:
            return forgotten
        response = await self._answer(request, caller)
        await self._remember(request, caller, response)
        return response

    async def _answer(self, request: ChatRequest, caller: Caller) -> ChatResponse:
        tenant = caller.tenant
        started = self._clock()
        key, cached = await self._cached(request, tenant, started)
        if cached is not None:
            return cached
        plan = await self.plan(request, tenant, key, started, caller.brownout)
        cached = await self._cached_paraphrase(plan)
        if cached is not None:
            return cached
        plan, answered = await self._tool_answer(plan, caller)
        if answered is not None:
            return answered
        await self._refuse_remembered_failure(plan)
        if plan.decision.route == "planner" and self._planner_calls is not None:
            plan, planned = await self._planned(plan, caller)
            if planned is not None:
                return planned
        text: str | None = None
        if plan.decision.route == "micro":
            plan, text = await self._micro(plan)
        if text is None:
            plan = await self._with_recall(plan, caller)
            text = await self._generate(plan)
        self._metrics.chat(plan.decision.route, plan.intent, "ok")
        response = self._response(plan, text)
        await self._decided(plan.decision)
        await self._store(plan, response)
        return response

    async def _generate(self, plan: Plan) -> str:
        """The free-text answer of the plan's route."""
        return (await self._call(plan, plan.messages(), None)).strip()

    async def _call(self, plan: Plan, messages: list[Message], output_format: dict[str, Any] | None) -> str:
        route = plan.decision.route
        gen = self._generation
        t0 = self._clock()
        try:
            answer = await self._llm_for(route).complete(
                messages, gen.num_predict(route), gen.temperature, output_format
            )
        except ServiceError as exc:
            self._failed(plan, exc)
            await self._remember_failure(plan, exc)
            raise
        self._metrics.llm_call(
            route, self._llm_for(route).model, self._clock() - t0, answer.prompt_tokens, answer.completion_tokens
        )
        return answer.text

    async def _micro(self, plan: Plan) -> tuple[Plan, str | None]:
        """The micro route's schema-checked answer; one repair; else the plan re-routed to deep (text None)."""
        messages = plan.messages(structured=True)
        raw = await self._call(plan, messages, MICRO_SCHEMA)
        text = parse_answer(raw)
        if text is None:
            self._metrics.micro_repairs.labels("repair").inc()
            raw = await self._call(plan, repair_messages(messages, raw), MICRO_SCHEMA)
            text = parse_answer(raw)
        if text is not None:
            return plan, text
        self._metrics.micro_repairs.labels("fallback").inc()
        decision = RouteDecision(route="deep", wanted="micro", reason=f"{plan.decision.reason}:micro_invalid_output")
        structlog.contextvars.bind_contextvars(route="deep", route_reason=decision.reason)
        log.warning("micro_output_invalid", detail="two answers did not fit the schema; the deep route answers")
        return replace(plan, decision=decision), None

    def meta(self, plan: Plan) -> dict[str, Any]:
        """The stream's ``meta`` event: what was decided before the first token."""
        return {
            "route": plan.decision.route,
            "route_reason": plan.decision.reason,
            "intent": plan.intent,
            "confidence": plan.confidence,
            "request_id": current_request_id(),
            "model": self._llm_for(plan.decision.route).model,
            "cache": CacheInfo().model_dump(mode="json"),
        }

    async def open_stream(self, request: ChatRequest, caller: Caller | None = None) -> ChatStream:
        """Start streaming; errors before the first token raise here (so they can be a plain problem). A finished
        stream's answer is added to its session before its ``done`` event goes out."""
        caller = caller or Caller()
        forgotten = await self._forget(request, caller)
        if forgotten is not None:
            return _cached_stream(forgotten)
        opened = await self._open_stream(request, caller)
        return ChatStream(meta=opened.meta, events=self._recorded(opened.events, request, caller))

    async def _recorded(
        self, events: AsyncIterator[Event], request: ChatRequest, caller: Caller
    ) -> AsyncIterator[Event]:
        async for name, data in events:
            if name == "done":
                await self._remember(request, caller, ChatResponse.model_validate(data))
            yield name, data

    async def _open_stream(self, request: ChatRequest, caller: Caller) -> ChatStream:
        started = self._clock()
        key, cached = await self._cached(request, caller.tenant, started)
        if cached is not None:
            return _cached_stream(cached)
        plan = await self.plan(request, caller.tenant, key, started, caller.brownout)
        cached = await self._cached_paraphrase(plan)
        if cached is not None:
            return _cached_stream(cached)
        plan, answered = await self._tool_answer(plan, caller)
        if answered is not None:
            return _cached_stream(answered)
        await self._refuse_remembered_failure(plan)
        if plan.decision.route == "planner" and self._planner_calls is not None:
            plan, planned = await self._planned(plan, caller)
            if planned is not None:
                return _cached_stream(planned)
        if plan.decision.route == "deep":
            plan = await self._with_recall(plan, caller)
        route = plan.decision.route
        gen = self._generation
        t0 = self._clock()
        chunks = aiter(self._llm_for(route).stream(plan.messages(), gen.num_predict(route), gen.temperature))
        try:
            first = await _first_chunk(chunks)
        except ServiceError as exc:
            self._failed(plan, exc)
            await self._remember_failure(plan, exc)
            raise
        self._metrics.ttft.labels(route, self._llm_for(route).model).observe(self._clock() - t0)
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
        self._metrics.llm_call(
            route, self._llm_for(route).model, self._clock() - t0, last.prompt_tokens, last.completion_tokens
        )
        self._metrics.chat(route, plan.intent, "ok")
        response = self._response(plan, "".join(parts).strip())
        await self._decided(plan.decision)
        await self._store(plan, response)
        yield "done", response.model_dump(mode="json")


FORGET_INTENT = "memory.forget"


def _forget_answer(wanted: ForgetRequest, counts: Mapping[str, Any]) -> str:
    """The Swedish answer to a forget request."""
    if wanted.scope == "all":
        return "Okej, jag har glömt allt om dig: våra samtal, det du bett mig komma ihåg, dina timrar och utkast."
    if wanted.scope == "about":
        texts = [f"”{t}”" for t in counts.get("texts", ())]
        return f"Okej, jag har glömt {', '.join(texts)}." if texts else "Jag hittade inget sparat om det."
    if counts.get("turns") or counts.get("memories"):
        return "Okej, jag har glömt det."
    return "Det finns inget att glömma just nu."


def _memory_info(recall: Recall) -> MemoryInfo | None:
    """What the response shows of the recalled context (None when there was none)."""
    return None if recall.empty else MemoryInfo.model_validate(recall.info())


def _tool_payload(result: Any) -> dict[str, Any]:
    """A tool's typed result for the response: its data, whether it succeeded, and any downloadable files."""
    payload: dict[str, Any] = {"ok": result.ok, **result.data}
    if result.error:
        payload["error"] = result.error
    if result.attachments:
        payload["attachments"] = [
            {"url": a.url, "filename": a.filename, "media_type": a.media_type} for a in result.attachments
        ]
    return payload


def _cached_stream(response: ChatResponse) -> ChatStream:
    """A finished answer (cached, or a tool's) as a stream: ``meta``, the whole text as one ``delta``, ``done``."""
    meta = {
        "route": response.route,
        "route_reason": response.route_reason,
        "intent": response.intent,
        "confidence": response.confidence,
        "request_id": response.request_id,
        "model": response.model,
        "cache": response.cache.model_dump(mode="json"),
    }

    async def events() -> AsyncIterator[Event]:
        yield "meta", meta
        if response.response:
            yield "delta", {"content": response.response}
        yield "done", response.model_dump(mode="json")

    return ChatStream(meta=meta, events=events())


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
