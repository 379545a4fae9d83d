"""Prometheus metrics of the NLU service (registered on the app's own registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from alice.metrics import FIB_BUCKETS_S


class NLUMetrics:
    """Intents answered, stage latencies and the loaded model."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.intents = Counter(
            "alice_nlu_intent_total",
            "Texts parsed, by returned intent and route hint.",
            ["intent", "route_hint"],
            registry=registry,
        )
        self.latency = Histogram(
            "alice_nlu_classify_duration_seconds",
            "NLU latency per request by stage: embed, classify, total (Fibonacci millisecond buckets).",
            ["stage"],
            buckets=FIB_BUCKETS_S,
            registry=registry,
        )
        self.model_info = Gauge(
            "alice_nlu_model_info", "1 for the loaded model version.", ["version"], registry=registry
        )

    def observe(self, intents: list[tuple[str, str]], embed_ms: float, classify_ms: float, total_ms: float) -> None:
        """Record one parse request (``intents`` as (label, route_hint) pairs)."""
        for label, hint in intents:
            self.intents.labels(label, hint).inc()
        self.latency.labels("embed").observe(embed_ms / 1000)
        self.latency.labels("classify").observe(classify_ms / 1000)
        self.latency.labels("total").observe(total_ms / 1000)
