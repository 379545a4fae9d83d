"""The tool route with fakes of the orchestrator's own ports: grant, missing arguments, timeout, failure."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from test_orchestrator_chat import FakeLlm, FakeNlu

from alice.errors import ToolDeniedError
from orchestrator.chat import Caller, ChatService
from orchestrator.metrics import ChatMetrics
from orchestrator.nlu import NluResult
from orchestrator.schemas import ChatRequest
from orchestrator.toolflow import ToolMetrics, ToolRunner
from orchestrator.tools.base import ToolArgumentsError, ToolContext, ToolResult
from orchestrator.tools.registry import ToolRegistry, allowed


class EchoArgs(BaseModel):
    word: str


class EchoTool:
    """Answers with the first number entity; no number → missing argument; 'slow' sleeps; 'bad' is invalid."""

    name: ClassVar[str] = "math.calculate"
    description: ClassVar[str] = "echo"
    Args: ClassVar[type[BaseModel]] = EchoArgs
    timeout_s: ClassVar[float] = 0.05

    def args_from_context(self, ctx: ToolContext) -> BaseModel | None:
        numbers = ctx.entity_values("number")
        return EchoArgs(word=str(numbers[0])) if numbers else None

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        word = args.model_dump()["word"]
        if ctx.text == "slow":
            await asyncio.sleep(1)
        if ctx.text == "bad":
            raise ToolArgumentsError("bad")
        if ctx.text == "redis down":
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        if ctx.text == "broken":
            raise RuntimeError("a bug in the tool")
        ok = word != "0"
        return ToolResult(
            self.name, {"word": word}, {"value": word}, f"Svaret är {word}.", ok=ok, error=None if ok else "zero"
        )


def _service(entities: tuple[dict[str, Any], ...]) -> tuple[ChatService, FakeLlm, CollectorRegistry]:
    registry = CollectorRegistry()
    nlu = FakeNlu(NluResult("math.calculate", 0.97, "tool", entities))
    llm = FakeLlm()
    runner = ToolRunner(ToolRegistry([EchoTool()]), ToolMetrics(registry))
    return ChatService(nlu, llm, ChatMetrics(registry), tools=runner), llm, registry


NUMBER = ({"type": "number", "value": 42, "text": "42", "start": 0, "end": 2},)


async def test_a_complete_tool_request_is_answered_without_the_llm() -> None:
    service, llm, registry = _service(NUMBER)
    answer = await service.answer(ChatRequest(message="vad är 42"), Caller("acme", "k1", ("math.calculate",)))
    assert answer.route == "tool" and answer.model is None and llm.calls == []
    assert answer.response == "Svaret är 42." and answer.tools[0].name == "math.calculate"
    assert answer.tools[0].result == {"ok": True, "value": "42"}
    assert registry.get_sample_value("alice_tool_calls_total", {"tool": "math.calculate", "outcome": "ok"}) == 1


async def test_a_tool_the_caller_was_not_granted_is_403() -> None:
    service, llm, registry = _service(NUMBER)
    with pytest.raises(ToolDeniedError):
        await service.answer(ChatRequest(message="vad är 42"), Caller("acme", "k1", ("time.now",)))
    assert llm.calls == []
    assert registry.get_sample_value("alice_tool_calls_total", {"tool": "math.calculate", "outcome": "denied"}) == 1


@pytest.mark.parametrize(
    ("entities", "text", "reason"), [((), "vad är det", "tool_args_missing"), (NUMBER, "bad", "tool_args_invalid")]
)
async def test_without_usable_arguments_the_llm_answers_and_says_why(
    entities: tuple[dict[str, Any], ...], text: str, reason: str
) -> None:
    service, llm, _ = _service(entities)
    answer = await service.answer(ChatRequest(message=text))
    assert answer.route == "deep" and answer.route_reason.endswith(reason) and len(llm.calls) == 1


async def test_a_slow_tool_times_out_with_a_swedish_answer() -> None:
    service, _, registry = _service(NUMBER)
    answer = await service.answer(ChatRequest(message="slow"))
    assert answer.route == "tool" and "svarade inte i tid" in answer.response
    assert answer.tools[0].result == {"ok": False, "error": "timeout"}
    assert registry.get_sample_value("alice_tool_calls_total", {"tool": "math.calculate", "outcome": "timeout"}) == 1


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [("redis down", "storage_unavailable", "lagringen"), ("broken", "tool_error", "kunde inte svara")],
)
async def test_a_tool_that_raises_gets_a_swedish_failure_not_a_500(text: str, error: str, words: str) -> None:
    service, llm, registry = _service(NUMBER)
    answer = await service.answer(ChatRequest(message=text))
    assert answer.route == "tool" and words in answer.response and llm.calls == []
    assert answer.tools[0].result == {"ok": False, "error": error}
    outcome = "storage_unavailable" if error == "storage_unavailable" else "error"
    assert registry.get_sample_value("alice_tool_calls_total", {"tool": "math.calculate", "outcome": outcome}) == 1


async def test_a_failed_tool_answers_with_its_explanation() -> None:
    zero = ({"type": "number", "value": 0, "text": "0", "start": 0, "end": 1},)
    service, llm, _ = _service(zero)
    answer = await service.answer(ChatRequest(message="noll"))
    assert answer.route == "tool" and answer.route_reason.endswith("tool_zero") and llm.calls == []


async def test_a_tool_answer_streams_as_one_piece() -> None:
    service, _, _ = _service(NUMBER)
    opened = await service.open_stream(ChatRequest(message="vad är 42", stream=True))
    events = [name async for name, _ in opened.events]
    assert events == ["meta", "delta", "done"] and opened.meta["route"] == "tool"


def test_grants() -> None:
    assert allowed("time.now", ("*",)) and allowed("time.now", ("time.now",))
    assert not allowed("time.now", ()) and not allowed("time.now", ("math.calculate",))
    with pytest.raises(ValueError, match="two tools"):
        ToolRegistry([EchoTool(), EchoTool()])
