"""The chat flow with fakes of the orchestrator's own ports (NLU, LLM); and the LLM error mapping."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import httpx
import ollama
import pytest
from prometheus_client import CollectorRegistry

from alice.errors import DependencyDownError, ServiceError, UpstreamError, UpstreamTimeoutError
from orchestrator.chat import ChatService, Generation
from orchestrator.llm import DOWN_DETAIL, LlmAnswer, LlmChunk, Message, llm_error
from orchestrator.metrics import ChatMetrics
from orchestrator.micro import MICRO_SCHEMA
from orchestrator.nlu import NluResult, parse_result
from orchestrator.prompts import SYSTEM_PROMPT
from orchestrator.schemas import ChatRequest


class FakeNlu:
    def __init__(self, result: NluResult | ServiceError) -> None:
        self.result = result

    async def parse(self, text: str) -> NluResult:
        if isinstance(self.result, ServiceError):
            raise self.result
        return self.result


class FakeLlm:
    model = "fake:1b"

    def __init__(self, chunks: Sequence[str] = ("Hej", " där", "!"), fail_at: int | None = None) -> None:
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.calls: list[tuple[list[Message], int]] = []
        self.formats: list[dict[str, object] | None] = []
        #: Raw answers to schema-constrained calls, in order (default: the chunks wrapped as {"svar": ...}).
        self.json_answers: list[str] = []

    async def complete(
        self,
        messages: Sequence[Message],
        num_predict: int,
        temperature: float,
        output_format: dict[str, object] | None = None,
    ) -> LlmAnswer:
        self.calls.append((list(messages), num_predict))
        self.formats.append(output_format)
        if self.fail_at is not None:
            raise DependencyDownError(DOWN_DETAIL, retry_after=5)
        if output_format is not None and self.json_answers:
            return LlmAnswer(self.json_answers.pop(0), prompt_tokens=7, completion_tokens=3)
        text = "".join(self.chunks)
        if output_format is not None:
            text = json.dumps({"svar": text})
        return LlmAnswer(text, prompt_tokens=7, completion_tokens=len(self.chunks))

    async def stream(
        self, messages: Sequence[Message], num_predict: int, temperature: float
    ) -> AsyncIterator[LlmChunk]:
        self.calls.append((list(messages), num_predict))
        yield LlmChunk("")  # a role-only first chunk, as Ollama sends
        for i, text in enumerate(self.chunks):
            if i == self.fail_at:
                raise UpstreamTimeoutError("too slow")
            yield LlmChunk(text)
        yield LlmChunk("", done=True, prompt_tokens=7, completion_tokens=len(self.chunks))


def _service(nlu: FakeNlu, llm: FakeLlm) -> tuple[ChatService, CollectorRegistry]:
    registry = CollectorRegistry()
    return ChatService(nlu, llm, ChatMetrics(registry), Generation(num_predict_micro=11, num_predict_deep=22)), registry


HELLO = NluResult(intent="greeting.hello", confidence=0.93, route_hint="micro")


async def test_answer_routes_by_the_nlu_and_counts() -> None:
    llm = FakeLlm()
    service, registry = _service(FakeNlu(HELLO), llm)
    answer = await service.answer(ChatRequest(message="  hej  "))
    assert (answer.response, answer.route, answer.intent, answer.confidence) == (
        "Hej där!",
        "micro",
        "greeting.hello",
        0.93,
    )
    assert answer.model == "fake:1b" and answer.cache.hit is False and answer.tools == []
    messages, num_predict = llm.calls[0]
    assert num_predict == 11
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith(SYSTEM_PROMPT)
    assert messages[1] == {"role": "user", "content": "hej"}
    labels = {"route": "micro", "intent": "greeting.hello", "outcome": "ok"}
    assert registry.get_sample_value("alice_chat_requests_total", labels) == 1
    assert (
        registry.get_sample_value("alice_llm_tokens_total", {"route": "micro", "model": "fake:1b", "kind": "prompt"})
        == 7
    )


async def test_nlu_failure_goes_on_deep_without_intent() -> None:
    llm = FakeLlm()
    service, registry = _service(FakeNlu(UpstreamTimeoutError("nlu did not answer in time")), llm)
    answer = await service.answer(ChatRequest(message="Vad är meningen med livet?"))
    assert (answer.route, answer.route_reason, answer.intent, answer.confidence) == (
        "deep",
        "nlu_unavailable",
        None,
        None,
    )
    assert llm.calls[0][1] == 22
    assert registry.get_sample_value("alice_nlu_failures_total", {"code": "upstream_timeout"}) == 1


async def test_llm_failure_propagates_typed_and_is_counted() -> None:
    service, registry = _service(FakeNlu(HELLO), FakeLlm(fail_at=0))
    with pytest.raises(DependencyDownError):
        await service.answer(ChatRequest(message="hej"))
    labels = {"route": "micro", "intent": "greeting.hello", "outcome": "dependency_down"}
    assert registry.get_sample_value("alice_chat_requests_total", labels) == 1


async def test_stream_events_are_meta_deltas_done() -> None:
    service, registry = _service(FakeNlu(HELLO), FakeLlm())
    opened = await service.open_stream(ChatRequest(message="hej", stream=True))
    events = [e async for e in opened.events]
    assert [name for name, _ in events] == ["meta", "delta", "delta", "delta", "done"]
    assert events[0][1]["route"] == "micro" and events[0][1]["model"] == "fake:1b"
    assert [p["content"] for n, p in events if n == "delta"] == ["Hej", " där", "!"]
    assert events[-1][1]["response"] == "Hej där!" and events[-1][1]["route"] == "micro"
    assert (
        registry.get_sample_value("alice_llm_time_to_first_token_seconds_count", {"route": "micro", "model": "fake:1b"})
        == 1
    )


async def test_stream_error_before_first_token_raises_from_open() -> None:
    service, _ = _service(FakeNlu(HELLO), FakeLlm(fail_at=0))
    with pytest.raises(UpstreamTimeoutError):
        await service.open_stream(ChatRequest(message="hej", stream=True))


async def test_stream_error_mid_way_raises_after_the_deltas() -> None:
    service, registry = _service(FakeNlu(HELLO), FakeLlm(fail_at=2))
    opened = await service.open_stream(ChatRequest(message="hej", stream=True))
    seen: list[str] = []
    with pytest.raises(UpstreamTimeoutError):
        async for name, _ in opened.events:
            seen.append(name)
    assert seen == ["meta", "delta", "delta"]
    labels = {"route": "micro", "intent": "greeting.hello", "outcome": "upstream_timeout"}
    assert registry.get_sample_value("alice_chat_requests_total", labels) == 1


@pytest.mark.parametrize(
    ("exc", "kind", "status"),
    [
        (ConnectionError("Failed to connect to Ollama"), DependencyDownError, 503),
        (httpx.ConnectError("refused"), DependencyDownError, 503),
        (httpx.ReadTimeout("slow"), UpstreamTimeoutError, 504),
        (TimeoutError(), UpstreamTimeoutError, 504),
        (ollama.ResponseError("model 'x' not found", 404), DependencyDownError, 503),
        (ollama.ResponseError("boom", 500), UpstreamError, 502),
    ],
)
def test_llm_errors_map_to_kernel_errors(exc: Exception, kind: type[ServiceError], status: int) -> None:
    err = llm_error(exc, "smollm2:135m", 5)
    assert isinstance(err, kind) and err.status == status
    if status == 503:
        assert err.retry_after == 5


def test_missing_model_names_the_model_and_the_pull_command() -> None:
    err = llm_error(ollama.ResponseError("model not found", 404), "smollm2:135m", 5)
    assert err is not None and "smollm2:135m" in err.detail and "alice models pull smollm2:135m" in err.detail


def test_llm_down_detail_is_swedish() -> None:
    err = llm_error(ConnectionError(), "m", 5)
    assert err is not None and err.detail == "Språkmodellen är inte tillgänglig just nu. Försök igen om en stund."


def test_unrelated_exceptions_are_not_mapped() -> None:
    assert llm_error(KeyError("x"), "m", 5) is None


def test_nlu_body_parsing() -> None:
    body = {"intent": {"label": "time.now", "confidence": 0.8}, "route_hint": "tool", "entities": [{"type": "t"}]}
    assert parse_result(body) == NluResult("time.now", 0.8, "tool", ({"type": "t"},))
    body["alternatives"] = [{"label": "date.today", "confidence": 0.15}, {"label": "smalltalk", "confidence": 0.05}]
    parsed = parse_result(body)
    assert parsed.alternatives == (("date.today", 0.15), ("smalltalk", 0.05))
    assert (parsed.probability("time.now"), parsed.probability("date.today"), parsed.probability("x")) == (0.8, 0.15, 0)
    with pytest.raises(UpstreamError):
        parse_result({"intent": "time.now"})


async def test_micro_answers_through_the_schema() -> None:
    llm = FakeLlm()
    service, _ = _service(FakeNlu(HELLO), llm)
    answer = await service.answer(ChatRequest(message="hej"))
    assert answer.route == "micro" and answer.response == "Hej där!"
    assert llm.formats == [MICRO_SCHEMA]


async def test_a_broken_micro_answer_is_repaired_once() -> None:
    llm = FakeLlm()
    llm.json_answers = ["Hej! (inte JSON)", '{"svar": "Hej igen!"}']
    service, registry = _service(FakeNlu(HELLO), llm)
    answer = await service.answer(ChatRequest(message="hej"))
    assert answer.route == "micro" and answer.response == "Hej igen!" and len(llm.calls) == 2
    assert llm.calls[1][0][-1]["content"].startswith("Ditt förra svar följde inte formatet")
    assert registry.get_sample_value("alice_micro_invalid_outputs_total", {"action": "repair"}) == 1


async def test_two_broken_micro_answers_hand_the_message_to_deep() -> None:
    llm = FakeLlm()
    llm.json_answers = ["{}", '{"svar": ""}']
    service, registry = _service(FakeNlu(HELLO), llm)
    answer = await service.answer(ChatRequest(message="hej"))
    assert answer.route == "deep" and answer.route_reason == "hint_micro:micro_invalid_output"
    assert answer.response == "Hej där!" and llm.formats == [MICRO_SCHEMA, MICRO_SCHEMA, None]
    assert registry.get_sample_value("alice_micro_invalid_outputs_total", {"action": "fallback"}) == 1


class OtherLlm(FakeLlm):
    model = "fake:7b"


async def test_a_route_with_its_own_model_answers_with_it_and_names_it() -> None:
    main, big = FakeLlm(), OtherLlm()
    registry = CollectorRegistry()
    service = ChatService(
        FakeNlu(NluResult(intent="info.query", confidence=0.9, route_hint="deep")),
        main,
        ChatMetrics(registry),
        route_llms={"deep": big},
    )
    answer = await service.answer(ChatRequest(message="Varför är himlen blå?"))
    assert answer.route == "deep" and answer.model == "fake:7b"
    assert len(big.calls) == 1 and main.calls == []
    labels = {"route": "deep", "model": "fake:7b", "kind": "prompt"}
    assert registry.get_sample_value("alice_llm_tokens_total", labels) == 7
    opened = await service.open_stream(ChatRequest(message="Varför är gräset grönt?", stream=True))
    assert opened.meta["model"] == "fake:7b"


async def test_a_planner_with_nothing_to_say_hands_the_message_to_deep() -> None:
    from orchestrator.toolflow import ToolRunner
    from orchestrator.tools.registry import ToolRegistry

    llm = FakeLlm()
    llm.json_answers = ['{"namn": "inget", "uppgift": "", "svar": ""}']
    registry = CollectorRegistry()
    service = ChatService(
        FakeNlu(NluResult(intent="out_of_scope", confidence=0.5, route_hint="planner")),
        llm,
        ChatMetrics(registry),
        tools=ToolRunner(ToolRegistry()),
        planner_calls=(1, 2, 3),
    )
    answer = await service.answer(ChatRequest(message="Berätta om Stockholm."))
    assert (answer.route, answer.route_reason) == ("deep", "hint_planner:planner_no_tool")
    assert answer.response == "Hej där!" and len(llm.calls) == 2  # one planner step, then deep


async def test_under_the_guardians_brownout_an_open_question_gets_the_small_micro_answer() -> None:
    from orchestrator.chat import Caller

    llm = FakeLlm()
    question = NluResult(intent="info.query", confidence=0.9, route_hint="deep")
    service, _ = _service(FakeNlu(question), llm)
    answer = await service.answer(ChatRequest(message="Varför är himlen blå?"), Caller(brownout=True))
    assert (answer.route, answer.route_reason) == ("micro", "hint_deep:deep_unavailable")
    assert llm.calls[0][1] == 11  # the micro budget, not deep's
    normal = await service.answer(ChatRequest(message="Varför är himlen blå?"), Caller())
    assert normal.route == "deep"
