"""One GGUF model in llama-cpp-python, driven from its own worker thread (llama.cpp is not thread-safe).

Chat prompts go through ``create_chat_completion``, which renders the GGUF's own chat template. llama-cpp-python
keeps the tokens of the previous call and, when the next prompt shares a prefix (the same system prompt and
few-shot examples), decodes only the new suffix; :class:`MeteredLlama` counts what is really decoded so the
reply says how much of the prompt was reused. An optional RAM state cache keeps more than the last prefix.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

import structlog
from llama_cpp import Llama, LlamaGrammar, LlamaRAMCache, LlamaState

from alice.errors import ModelError
from alice.models import ModelSpec, is_ready, model_path, verify
from modelserver.errors import ModelLoadingError, ModelUnavailableError
from modelserver.meter import GenerationMeter
from modelserver.metrics import ModelServerMetrics
from modelserver.sampling import Sampling
from modelserver.settings import ModelServerSettings
from modelserver.stream import Delta, Failed, Finished, TokenStream
from modelserver.worker import Worker

log = structlog.get_logger("modelserver.engine")

State = Literal["loading", "ready", "failed"]


@dataclass(frozen=True)
class ChatJob:
    """Messages rendered with the model's chat template."""

    messages: list[dict[str, Any]]
    sampling: Sampling
    grammar: str | None = None


@dataclass(frozen=True)
class CompletionJob:
    """A prompt used as is (Ollama's ``raw``)."""

    prompt: str
    sampling: Sampling
    grammar: str | None = None


Job = ChatJob | CompletionJob


class MeteredLlama(Llama):
    """A :class:`Llama` that reports decodes and samples to the meter of the job it is running."""

    meter: GenerationMeter | None = None

    def eval(self, tokens: Sequence[int]) -> None:
        if self.meter is not None:
            self.meter.on_eval(len(tokens))
        super().eval(tokens)

    def sample(self, *args: Any, **kwargs: Any) -> int:
        token = int(super().sample(*args, **kwargs))
        if self.meter is not None:
            self.meter.on_sample(self.n_tokens)
        return token

    def save_state(self) -> LlamaState:
        """The state for the prompt cache without the score matrix (n_batch × vocabulary floats, 311 MB for
        Qwen2.5): llama-cpp-python copies it into every saved state but its RAM cache does not count it, so a
        512 MiB cache grew the process by gigabytes. One row is kept (loading broadcasts it); the sampler reads
        the logits from llama.cpp, and a loaded prefix always re-evaluates at least its last token."""
        full = self.scores
        self.scores = full[max(0, min(self.n_tokens, len(full)) - 1) :][:1]
        try:
            return super().save_state()
        finally:
            self.scores = full


class CountedRAMCache(LlamaRAMCache):
    """llama-cpp-python's RAM state cache, counting every byte a state holds (its size counts the KV data only)."""

    @property
    def cache_size(self) -> int:
        return sum(s.llama_state_size + s.scores.nbytes + s.input_ids.nbytes for s in self.cache_state.values())


def iter_pieces(llama: Llama, job: Job) -> Generator[tuple[str, str | None], None, None]:
    """(text, finish_reason) pairs as llama-cpp-python streams them."""
    grammar = LlamaGrammar.from_string(job.grammar, verbose=False) if job.grammar else None
    kwargs = job.sampling.llama_kwargs()
    if isinstance(job, ChatJob):
        chats = llama.create_chat_completion(messages=cast(Any, job.messages), stream=True, grammar=grammar, **kwargs)
        with closing(cast(Generator[Any, None, None], chats)) as chunks:
            for chunk in chunks:
                choice = chunk["choices"][0]
                yield choice["delta"].get("content") or "", choice.get("finish_reason")
    else:
        completions = llama.create_completion(job.prompt, stream=True, grammar=grammar, **kwargs)
        with closing(cast(Generator[Any, None, None], completions)) as chunks:
            for chunk in chunks:
                choice = chunk["choices"][0]
                yield choice.get("text") or "", choice.get("finish_reason")


def require_pulled(spec: ModelSpec, directory: Path) -> None:
    """:class:`ModelError` with the command that fixes it when ``spec`` was never pulled into ``directory``."""
    if not is_ready(spec, directory):
        raise ModelError(f"model {spec.name} is not in {directory}; run: alice models pull {spec.name}")


class Engine:
    """A loaded model, its worker thread and its bounded waiting line."""

    def __init__(self, spec: ModelSpec, settings: ModelServerSettings, metrics: ModelServerMetrics) -> None:
        self.spec = spec
        self.name = spec.name
        self.directory = settings.model_directory
        self.path: Path = model_path(spec, self.directory)
        self._settings = settings
        self._metrics = metrics
        self._worker = Worker(
            f"llama-{spec.slug}",
            settings.max_queue,
            settings.retry_after_s,
            on_depth=metrics.queue_depth.labels(spec.name).set,
        )
        self._llama: MeteredLlama | None = None
        self.state: State = "loading"
        self.error = ""
        self.loaded_at = ""

    def check_present(self) -> None:
        """Fail fast (at start-up) when the file was never pulled."""
        require_pulled(self.spec, self.directory)

    async def load(self) -> None:
        """Verify the checksum and load the weights on the worker thread; failures leave ``state='failed'``."""
        started = time.perf_counter()
        try:
            await self._worker.run(self._load)
        except ModelError as exc:  # the log gets paths and digests, the client the fix
            self.state = "failed"
            self.error = f"model '{self.name}' failed its SHA-256 check; run: alice models pull {self.name} --force"
            log.error("model_load_failed", model=self.name, detail=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - llama.cpp raises ValueError/RuntimeError for bad files
            self.state, self.error = "failed", f"model '{self.name}' could not be loaded (see the modelserver log)"
            log.error("model_load_failed", model=self.name, error_type=type(exc).__name__, exc_info=exc)
            return
        self.state = "ready"
        self.loaded_at = datetime.now(UTC).isoformat()
        self._metrics.model_ready.labels(self.name).set(1)
        log.info("model_loaded", model=self.name, seconds=round(time.perf_counter() - started, 2))

    def _load(self) -> None:
        path = verify(self.spec, self.directory)
        s = self._settings
        llama = MeteredLlama(
            model_path=str(path),
            n_ctx=s.n_ctx,
            n_batch=s.n_batch,
            n_threads=s.threads,
            n_threads_batch=s.threads,
            chat_format=self.spec.chat_format,
            verbose=False,
        )
        if s.state_cache_bytes:
            llama.set_cache(CountedRAMCache(capacity_bytes=s.state_cache_bytes))
        self._llama = llama

    def ensure_ready(self) -> None:
        """503 while loading or after a failed load (with the reason, e.g. a checksum mismatch)."""
        if self.state == "loading":
            raise ModelLoadingError(f"model '{self.name}' is still loading", retry_after=self._settings.retry_after_s)
        if self.state == "failed":
            raise ModelUnavailableError(self.error, retry_after=self._settings.retry_after_s)

    @property
    def metadata(self) -> dict[str, str]:
        """The GGUF's key/value metadata (scalars only)."""
        return dict(self._llama.metadata) if self._llama is not None else {}

    def start(self, job: Job) -> TokenStream:
        """Queue ``job``; the returned stream yields its tokens. Raises 503 errors when it cannot queue."""
        self.ensure_ready()
        stream = TokenStream(asyncio.get_running_loop())
        stream.future = self._worker.submit(self._run, job, stream, GenerationMeter())
        return stream

    def _run(self, job: Job, stream: TokenStream, meter: GenerationMeter) -> None:
        meter.start()
        if stream.cancelled or self._llama is None:
            return
        llama = self._llama
        llama.meter = meter
        try:
            reason = self._generate(llama, job, stream)
        except Exception as exc:  # noqa: BLE001 - the client gets a safe message, the log gets the rest
            self._metrics.generation_finished(self.name, "error", meter.finish())
            log.error("generation_failed", model=self.name, error_type=type(exc).__name__, exc_info=exc)
            stream.push(Failed(f"generation failed in model '{self.name}' ({type(exc).__name__})"))
            return
        finally:
            llama.meter = None
        stats = meter.finish()
        self._metrics.generation_finished(self.name, reason, stats)
        log.info(
            "generation",
            model=self.name,
            done_reason=reason,
            prompt_tokens=stats.prompt_tokens,
            prompt_evaluated=stats.prompt_evaluated,
            generated=stats.generated,
            ttft_ms=round((stats.time_to_first_token_s or 0.0) * 1000, 1),
            tokens_per_s=round(stats.tokens_per_second or 0.0, 1),
        )
        stream.push(Finished(reason, stats))

    @staticmethod
    def _generate(llama: Llama, job: Job, stream: TokenStream) -> str:
        reason = "stop"
        with closing(iter_pieces(llama, job)) as pieces:
            for text, finish in pieces:
                if stream.cancelled:
                    return "cancelled"
                if text:
                    stream.push(Delta(text))
                if finish:
                    reason = finish
        return reason

    async def close(self) -> None:
        """Stop the worker (the running job finishes its current token) and free the model."""
        await asyncio.to_thread(self._worker.shutdown)
        if self._llama is not None:
            self._llama.close()
            self._llama = None
        self._metrics.model_ready.labels(self.name).set(0)
