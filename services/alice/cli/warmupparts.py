"""The parts ``alice bench warmup`` runs the real chat service on: the real NLU in-process, a simulated clock, and
a fixed-latency Ollama-API server with no delay in place of a model (the Redis is ``alice.cli.localredis``'s).

- **NLU**: the trained NLU model (``nlu.training.load_or_train``) parses every distinct question once, in
  process, exactly as the NLU service does (:func:`nlu.parsing.parse_texts`); its answer is turned into the
  orchestrator's :class:`NluResult` by the same function the HTTP client uses (:func:`orchestrator.nlu
  .parse_result`), embedding included, so the semantic tier searches real sentence vectors.
- **LLM**: :class:`ServedLlm` is Alice's own Ollama adapter talking HTTP to :mod:`alice.cli.fixedbackend` (a short
  Swedish answer, JSON for the micro route's schema), which counts the generations. The bench measures hit rates
  and answers computed, not answer quality, and a real model would take hours for the thousands of answers two
  replays need on this machine.
- **Clock**: the workload spans weeks; :class:`SimClock` is the cache's, the telemetry's and the warmer's clock.
  Redis's own key TTLs run on the wall clock, so :func:`expire` deletes, before every step, the entries whose
  expiry in simulated time has passed (read from the cache's own expiry index, ``alice:cache:z``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from alice.cli.fixedbackend import FixedLatencyServer
from alice.errors import ConfigError
from orchestrator.cache.store import PREFIX as CACHE_PREFIX
from orchestrator.cache.store import CacheStore
from orchestrator.llm import LlmAnswer, LlmChunk, Message
from orchestrator.nlu import NluResult, parse_result


class SimClock:
    """A settable clock (Unix seconds)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def expire(store: CacheStore, now: float) -> int:
    """Delete the entries whose expiry (in the cache's clock) is at or before ``now``; returns how many."""
    ids = await store.redis.zrangebyscore(f"{CACHE_PREFIX}z", "-inf", now)
    return await store.delete([i.decode() for i in ids]) if ids else 0


class ParsedNlu:
    """The NLU's readings of known texts (the chat service's NLU port)."""

    def __init__(self, readings: dict[str, NluResult]) -> None:
        self.readings = readings

    async def parse(self, text: str) -> NluResult:
        return self.readings[text]


def parse_all(texts: Sequence[str], say: Callable[[str], None]) -> tuple[dict[str, NluResult], str]:
    """Every text parsed by the real NLU model in process; returns the readings and the model version."""
    from nlu.embedder import create_embedder
    from nlu.parsing import parse_texts
    from nlu.settings import NLUSettings
    from nlu.training import load_or_train

    settings = NLUSettings()
    try:
        embedder = create_embedder(settings.embedder, settings.embed_threads, settings.st_model)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"NLU embedder {settings.embedder!r}: {exc}") from None
    say("bench warmup: loading the NLU model (training it first if missing)")
    model = load_or_train(settings, embedder)
    say(f"bench warmup: parsing {len(texts)} distinct questions with {model.version}")
    readings: dict[str, NluResult] = {}
    for start in range(0, len(texts), 64):
        chunk = list(texts[start : start + 64])
        for text, result in zip(chunk, parse_texts(model, chunk).results, strict=True):
            prediction = result.prediction
            body = {
                "intent": {"label": prediction.label, "confidence": prediction.confidence},
                "alternatives": [{"label": lbl, "confidence": p} for lbl, p in prediction.alternatives(3)],
                "entities": result.entities,
                "route_hint": result.route_hint,
                "embedding": result.embedding_list(),
                "model_version": model.version,
            }
            readings[text] = parse_result(body)
    return readings, model.version


class ServedLlm:
    """The bench's LLM: Alice's real Ollama adapter, over HTTP, to a fixed-latency server with no delay
    (``alice.cli.fixedbackend``) in this process; ``calls`` is the generations the server saw."""

    def __init__(self, server: FixedLatencyServer) -> None:
        import ollama

        from orchestrator.llm import OllamaLlm

        self._server = server
        self._llm = OllamaLlm(ollama.AsyncClient(host=server.url), server.model, timeout_s=30, retry_after_s=1)
        self.model = server.model

    @property
    def calls(self) -> int:
        return self._server.stats()["generations"]

    async def complete(
        self,
        messages: Sequence[Message],
        num_predict: int,
        temperature: float,
        output_format: dict[str, Any] | None = None,
    ) -> LlmAnswer:
        return await self._llm.complete(messages, num_predict, temperature, output_format)

    def stream(self, messages: Sequence[Message], num_predict: int, temperature: float) -> AsyncIterator[LlmChunk]:
        return self._llm.stream(messages, num_predict, temperature)

    async def ping(self) -> bool:
        return await self._llm.ping()
