"""The LLM port and its Ollama adapter (the official ``ollama.AsyncClient``; locally, the modelserver).

Failures leave as typed kernel errors with Swedish details a user can act on: unreachable → 503
:class:`DependencyDownError` (``Retry-After``), too slow → 504 :class:`UpstreamTimeoutError`, model missing
→ 503 naming the model and ``alice models pull``, anything else the server says → 502 :class:`UpstreamError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import ollama

from alice.breaker import CircuitBreaker, dependency_failure
from alice.errors import DependencyDownError, ServiceError, UpstreamError, UpstreamTimeoutError

Message = Mapping[str, str]

DOWN_DETAIL = "Språkmodellen är inte tillgänglig just nu. Försök igen om en stund."
TIMEOUT_DETAIL = "Språkmodellen svarade inte i tid. Försök igen om en stund."
FAILED_DETAIL = "Språkmodellen kunde inte svara."


@dataclass(frozen=True)
class LlmAnswer:
    """A whole answer, with the token counts the server reported (0 when it reported none)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class LlmChunk:
    """One streamed piece; the last one has ``done`` set and carries the token counts."""

    content: str
    done: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Llm(Protocol):
    """Anything that answers chat messages (the Ollama adapter below; a fake in unit tests)."""

    model: str

    async def complete(
        self,
        messages: Sequence[Message],
        num_predict: int,
        temperature: float,
        output_format: dict[str, Any] | None = None,
    ) -> LlmAnswer:
        """The whole answer at once."""
        ...

    def stream(self, messages: Sequence[Message], num_predict: int, temperature: float) -> AsyncIterator[LlmChunk]:
        """The answer piece by piece (errors surface while iterating)."""
        ...

    async def ping(self) -> bool:
        """Readiness: the server answers."""
        ...


def llm_error(exc: BaseException, model: str, retry_after_s: float) -> ServiceError | None:
    """The kernel error for an exception from the Ollama client, or None when it is not one of its failures."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return UpstreamTimeoutError(TIMEOUT_DETAIL)
    # The client turns a refused connection into ConnectionError, except while streaming (httpx's own).
    if isinstance(exc, ConnectionError | httpx.TransportError):
        return DependencyDownError(DOWN_DETAIL, retry_after=retry_after_s)
    if isinstance(exc, ollama.ResponseError):
        if exc.status_code == 404:
            return DependencyDownError(
                f"Språkmodellen {model} finns inte på servern. Hämta den med: alice models pull {model}",
                retry_after=retry_after_s,
            )
        if exc.status_code in (502, 503):
            return DependencyDownError(DOWN_DETAIL, retry_after=retry_after_s)
        return UpstreamError(FAILED_DETAIL)
    return None


def llm_breaker(name: str = "llm") -> CircuitBreaker:
    """An LLM server's breaker; its open answer is the Swedish "not available" message with Retry-After."""
    return CircuitBreaker(name, what="The LLM server", open_detail=DOWN_DETAIL, counts=dependency_failure)


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int) else 0


class OllamaLlm:
    """An :class:`Llm` over one long-lived ``ollama.AsyncClient``."""

    def __init__(
        self,
        client: ollama.AsyncClient,
        model: str,
        timeout_s: float,
        retry_after_s: float,
        repeat_penalty: float = 1.15,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client = client
        #: Shared by every model on the same server: while it is down, LLM routes answer 503 at once.
        self.breaker = breaker or llm_breaker()
        self._repeat_penalty = repeat_penalty
        self.model = model
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s

    def _mapped(self, exc: BaseException) -> BaseException:
        return llm_error(exc, self.model, self._retry_after_s) or exc

    def _options(self, num_predict: int, temperature: float) -> dict[str, Any]:
        return {"num_predict": num_predict, "temperature": temperature, "repeat_penalty": self._repeat_penalty}

    async def complete(
        self,
        messages: Sequence[Message],
        num_predict: int,
        temperature: float,
        output_format: dict[str, Any] | None = None,
    ) -> LlmAnswer:
        """The whole answer, within the LLM timeout overall."""
        async with self.breaker.guard():
            try:
                async with asyncio.timeout(self._timeout_s):
                    response = await self._client.chat(
                        model=self.model,
                        messages=list(messages),
                        options=self._options(num_predict, temperature),
                        format=output_format,
                    )
            except (TimeoutError, ConnectionError, httpx.HTTPError, ollama.ResponseError) as exc:
                raise self._mapped(exc) from None
        return LlmAnswer(
            text=response.message.content or "",
            prompt_tokens=_count(response.prompt_eval_count),
            completion_tokens=_count(response.eval_count),
        )

    async def stream(
        self, messages: Sequence[Message], num_predict: int, temperature: float
    ) -> AsyncIterator[LlmChunk]:
        """The answer as it is generated; each read waits at most the LLM timeout."""
        async with self.breaker.guard():
            try:
                parts = await self._client.chat(
                    model=self.model,
                    messages=list(messages),
                    options=self._options(num_predict, temperature),
                    stream=True,
                )
                async for part in parts:
                    yield LlmChunk(
                        content=part.message.content or "",
                        done=bool(part.done),
                        prompt_tokens=_count(part.prompt_eval_count),
                        completion_tokens=_count(part.eval_count),
                    )
            except (ConnectionError, httpx.HTTPError, ollama.ResponseError) as exc:
                raise self._mapped(exc) from None

    async def ping(self) -> bool:
        """Readiness: the server lists its models."""
        await self._client.list()
        return True
