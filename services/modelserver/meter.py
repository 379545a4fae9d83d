"""What one generation cost, measured where it happens (llama.cpp decodes and samples), in Ollama's terms.

The worker's :class:`~modelserver.engine.MeteredLlama` reports every decode (``on_eval``) and every sampled
token (``on_sample``). Decodes before the first sampled token are the prompt tokens llama.cpp really
evaluated; the prompt tokens it did not evaluate came from the KV cache (a shared prefix with the previous
request). So ``prompt_eval_count`` is honest: a repeated system prompt shows up as a small count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
NS = 1_000_000_000


@dataclass(frozen=True)
class GenerationStats:
    """Timings in seconds and token counts of one finished generation."""

    prompt_tokens: int
    prompt_evaluated: int
    generated: int
    queued_s: float
    prompt_s: float
    generate_s: float
    total_s: float

    @property
    def prompt_cached(self) -> int:
        """Prompt tokens reused from the KV cache instead of evaluated."""
        return max(0, self.prompt_tokens - self.prompt_evaluated)

    @property
    def time_to_first_token_s(self) -> float | None:
        """From acceptance (queue wait included) to the first sampled token; None when none was sampled."""
        return self.queued_s + self.prompt_s if self.generated else None

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed after the first token; None when it cannot be measured."""
        if self.generated < 2 or self.generate_s <= 0:
            return None
        return (self.generated - 1) / self.generate_s

    def ollama_fields(self) -> dict[str, int]:
        """The usage fields of Ollama's final object (durations in nanoseconds)."""
        return {
            "total_duration": round(self.total_s * NS),
            "load_duration": 0,  # models are loaded at start-up, never per request
            "prompt_eval_count": self.prompt_evaluated,
            "prompt_eval_duration": round(self.prompt_s * NS),
            "eval_count": self.generated,
            "eval_duration": round(self.generate_s * NS),
        }


class GenerationMeter:
    """Counts decodes and samples of one generation; not thread-safe (one worker thread uses it)."""

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self._clock = clock
        self.accepted_at = clock()
        self.started_at: float | None = None
        self.first_token_at: float | None = None
        self.prompt_tokens = 0
        self.prompt_evaluated = 0
        self.generated = 0

    def start(self) -> None:
        """The worker picked the job up (the queue wait ends here)."""
        self.started_at = self._clock()

    def on_eval(self, n_tokens: int) -> None:
        """llama.cpp decoded ``n_tokens``; before the first sample these are prompt tokens."""
        if self.first_token_at is None:
            self.prompt_evaluated += n_tokens

    def on_sample(self, n_context: int) -> None:
        """A token was sampled; ``n_context`` is the context length (the whole prompt, at the first sample)."""
        if self.first_token_at is None:
            self.first_token_at = self._clock()
            self.prompt_tokens = n_context
        self.generated += 1

    def finish(self) -> GenerationStats:
        """Freeze the measurements."""
        end = self._clock()
        started = self.started_at if self.started_at is not None else end
        first = self.first_token_at if self.first_token_at is not None else end
        return GenerationStats(
            prompt_tokens=max(self.prompt_tokens, self.prompt_evaluated),
            prompt_evaluated=self.prompt_evaluated,
            generated=self.generated,
            queued_s=started - self.accepted_at,
            prompt_s=first - started,
            generate_s=end - first,
            total_s=end - self.accepted_at,
        )
