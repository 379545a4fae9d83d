"""The tool route: build the tool's context from the NLU's reading, check the caller's grant, run the tool under
its timeout, and turn its result into the chat answer. No FastAPI here.

A tool whose arguments are not in the message (``args_from_context`` → None) or invalid does not answer: the
chat flow hands the message to the LLM instead and says why in the route reason. A tool the guardian did not
grant the caller is a 403 ``tool_denied``; a tool that fails or times out answers with its Swedish explanation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from redis.exceptions import RedisError

from alice.errors import ToolDeniedError
from alice.metrics import FIB_BUCKETS_S
from orchestrator.tools.base import Tool, ToolArgumentsError, ToolContext, ToolResult, now_in_stockholm
from orchestrator.tools.registry import ToolRegistry, allowed

log = structlog.get_logger("orchestrator.tools")

STORAGE_ANSWER = "Jag kommer inte åt lagringen just nu, så det gick inte. Försök igen om en stund."
FAILED_ANSWER = "Verktyget {name} kunde inte svara just nu. Försök igen om en stund."
TIMEOUT_ANSWER = "Verktyget {name} svarade inte i tid. Försök igen om en stund."


class ToolMetrics:
    """Tool calls by tool and outcome, and their duration."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "alice_tool_calls_total",
            "Tool calls by tool and outcome (ok, failed, timeout, denied, incomplete, invalid).",
            ["tool", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "alice_tool_duration_seconds",
            "Duration of tool calls (Fibonacci buckets).",
            ["tool"],
            buckets=FIB_BUCKETS_S,
            registry=registry,
        )


@dataclass(frozen=True)
class ToolOutcome:
    """A tool's result, or why it did not answer (``None`` result: hand the message to the LLM)."""

    result: ToolResult | None
    reason: str


class ToolRunner:
    """Runs the tool for an intent with the caller's grant and the tool's timeout."""

    def __init__(
        self,
        registry: ToolRegistry,
        metrics: ToolMetrics | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.registry = registry
        self._metrics = metrics
        self._clock = clock

    def intents(self) -> frozenset[str]:
        """The intents a tool answers."""
        return self.registry.names()

    def _count(self, tool: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.calls.labels(tool, outcome).inc()

    async def run(self, tool: Tool, ctx: ToolContext, granted: tuple[str, ...]) -> ToolOutcome:
        """Run ``tool`` for ``ctx``; raises :class:`ToolDeniedError` when the caller may not run it."""
        if not allowed(tool.name, granted):
            self._count(tool.name, "denied")
            log.warning("tool_denied", tool=tool.name)
            raise ToolDeniedError(f"Your API key may not run the tool {tool.name}.")
        try:
            args = tool.args_from_context(ctx)
        except ToolArgumentsError as exc:
            self._count(tool.name, "invalid")
            log.info("tool_args_invalid", tool=tool.name, error=str(exc))
            return ToolOutcome(None, "tool_args_invalid")
        if args is None:
            self._count(tool.name, "incomplete")
            return ToolOutcome(None, "tool_args_missing")
        t0 = self._clock()
        try:
            result = await asyncio.wait_for(tool.run(args, ctx), timeout=tool.timeout_s)
        except TimeoutError:
            self._count(tool.name, "timeout")
            log.warning("tool_timeout", tool=tool.name, timeout_s=tool.timeout_s)
            answer = TIMEOUT_ANSWER.format(name=tool.name)
            result = ToolResult(tool.name, args.model_dump(mode="json"), {}, answer, ok=False, error="timeout")
        except ToolArgumentsError as exc:
            self._count(tool.name, "invalid")
            log.info("tool_args_invalid", tool=tool.name, error=str(exc))
            return ToolOutcome(None, "tool_args_invalid")
        except (RedisError, OSError) as exc:  # timers, memories and drafts live in Redis: down is a Swedish answer
            self._count(tool.name, "storage_unavailable")
            log.warning("tool_storage_unavailable", tool=tool.name, error_type=type(exc).__name__)
            args_json = args.model_dump(mode="json")
            result = ToolResult(tool.name, args_json, {}, STORAGE_ANSWER, ok=False, error="storage_unavailable")
        except Exception as exc:  # noqa: BLE001 - a broken tool is a failed answer, never a 500
            self._count(tool.name, "error")
            log.error("tool_failed", tool=tool.name, error_type=type(exc).__name__, exc_info=exc)
            answer = FAILED_ANSWER.format(name=tool.name)
            result = ToolResult(tool.name, args.model_dump(mode="json"), {}, answer, ok=False, error="tool_error")
        else:
            self._count(tool.name, "ok" if result.ok else "failed")
        if self._metrics is not None:
            self._metrics.duration.labels(tool.name).observe(self._clock() - t0)
        return ToolOutcome(result, "ok" if result.ok else f"tool_{result.error or 'failed'}")


def tool_context(
    tenant: str,
    user: str,
    text: str,
    entities: tuple[dict[str, object], ...],
    embedding: object,
    request_id: str | None,
) -> ToolContext:
    """The tool's view of a request, at the current time in Stockholm."""
    vector = [float(x) for x in embedding] if embedding is not None else None  # type: ignore[attr-defined]
    return ToolContext(
        tenant=tenant,
        user=user,
        text=text,
        now=now_in_stockholm(),
        entities=entities,
        embedding=vector,
        request_id=request_id,
    )
