"""The modelserver's Prometheus metrics, registered on the app's registry (``app.state.registry``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from alice.fibonacci import FIBONACCI_SEQUENCE
from alice.metrics import FIB_BUCKETS_S
from modelserver.meter import GenerationStats

# Tokens per second on a CPU: 1 … 377 (Fibonacci).
TOKENS_PER_SECOND_BUCKETS: tuple[float, ...] = tuple(float(n) for n in sorted(set(FIBONACCI_SEQUENCE[1:14])))


class ModelServerMetrics:
    """Tokens, speed, time to first token, queue depth and embeddings, labelled by model."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.tokens_generated = Counter(
            "alice_modelserver_tokens_generated_total",
            "Tokens sampled by the model (the end-of-sequence token included).",
            ["model"],
            registry=registry,
        )
        self.prompt_tokens = Counter(
            "alice_modelserver_prompt_tokens_total",
            "Prompt tokens, by whether llama.cpp evaluated them or reused them from the KV cache.",
            ["model", "source"],
            registry=registry,
        )
        self.generations = Counter(
            "alice_modelserver_generations_total",
            "Finished generations, by outcome (stop, length, cancelled, error).",
            ["model", "outcome"],
            registry=registry,
        )
        self.tokens_per_second = Histogram(
            "alice_modelserver_generation_speed_tokens_per_second",
            "Generation speed after the first token.",
            ["model"],
            buckets=TOKENS_PER_SECOND_BUCKETS,
            registry=registry,
        )
        self.time_to_first_token = Histogram(
            "alice_modelserver_time_to_first_token_seconds",
            "From accepting a request (queue wait included) to its first token (Fibonacci ms buckets).",
            ["model"],
            buckets=FIB_BUCKETS_S,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "alice_modelserver_queue_depth",
            "Requests accepted and waiting for the model's worker thread.",
            ["model"],
            registry=registry,
        )
        self.model_ready = Gauge(
            "alice_modelserver_model_ready",
            "1 when the model is loaded and verified, else 0.",
            ["model"],
            registry=registry,
        )
        self.embedded_texts = Counter(
            "alice_modelserver_embedded_texts_total",
            "Texts embedded.",
            ["model"],
            registry=registry,
        )

    def generation_finished(self, model: str, outcome: str, stats: GenerationStats) -> None:
        """Record one generation (called from the worker thread; prometheus_client is thread-safe)."""
        self.generations.labels(model, outcome).inc()
        self.tokens_generated.labels(model).inc(stats.generated)
        self.prompt_tokens.labels(model, "evaluated").inc(stats.prompt_evaluated)
        self.prompt_tokens.labels(model, "cached").inc(stats.prompt_cached)
        ttft = stats.time_to_first_token_s
        if ttft is not None:
            self.time_to_first_token.labels(model).observe(ttft)
        speed = stats.tokens_per_second
        if speed is not None:
            self.tokens_per_second.labels(model).observe(speed)
