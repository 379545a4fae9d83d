"""Prometheus metrics with Fibonacci latency buckets; one registry per app so apps never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from alice.breaker import STATE_VALUES, BreakerState
from alice.fibonacci import LATENCY_BUCKETS_MS, fibonacci_progression

# Base unit is seconds (promtool's lint rule); the bucket bounds are Fibonacci milliseconds.
FIB_BUCKETS_S: tuple[float, ...] = tuple(ms / 1000 for ms in LATENCY_BUCKETS_MS)
# LLM answers run for seconds: the Fibonacci millisecond buckets (to 6.765 s), continued to ~196 s.
LLM_BUCKETS_S: tuple[float, ...] = FIB_BUCKETS_S + tuple(
    ms / 1000 for ms in fibonacci_progression(27) if ms / 1000 > FIB_BUCKETS_S[-1]
)


class HttpMetrics:
    """The per-service HTTP metrics every Alice service exposes."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.registry = registry
        self.requests = Counter(
            "alice_http_requests_total",
            "HTTP requests handled, by route template, method and status.",
            ["service", "method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "alice_http_request_duration_seconds",
            "HTTP request latency (Fibonacci millisecond buckets).",
            ["service", "method", "route"],
            buckets=FIB_BUCKETS_S,
            registry=registry,
        )
        self.answers = Histogram(
            "alice_answer_duration_seconds",
            "Request latency by what answered: the chat route (tool, micro, planner, deep), cache, or the HTTP "
            "route (Fibonacci millisecond buckets); outcome error is a 5xx.",
            ["service", "answered_by", "outcome"],
            buckets=LLM_BUCKETS_S,
            registry=registry,
        )
        self.in_flight = Gauge(
            "alice_http_requests_in_flight",
            "HTTP requests being handled now.",
            ["service"],
            registry=registry,
        )
        self.ready = Gauge(
            "alice_ready",
            "1 when the last readiness check passed, else 0.",
            ["service"],
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.requests.labels(self.service, method, route, str(status)).inc()
        self.latency.labels(self.service, method, route).observe(seconds)

    def answered(self, name: str, status: int, seconds: float) -> None:
        """Record one finished request under what answered it (a chat route, ``cache``, or the HTTP route)."""
        self.answers.labels(self.service, name, "ok" if status < 500 else "error").observe(seconds)


def new_registry() -> CollectorRegistry:
    """A fresh registry (no process-wide default collectors, so apps stay independent)."""
    return CollectorRegistry(auto_describe=True)


class BreakerMetrics:
    """Circuit breakers (``alice.breaker``): the state of each, and its transitions."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.state = Gauge(
            "alice_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["breaker"],
            registry=registry,
        )
        self.transitions = Counter(
            "alice_breaker_transitions_total",
            "Circuit breaker state changes, by the state entered.",
            ["breaker", "state"],
            registry=registry,
        )

    def watch(self, name: str) -> None:
        """Show ``name`` as closed before its first transition."""
        self.state.labels(name).set(0)

    def changed(self, name: str, _old: object, new: object) -> None:
        """The ``on_change`` hook of a breaker."""
        state = BreakerState(str(new))
        self.state.labels(name).set(STATE_VALUES[state])
        self.transitions.labels(name, state.value).inc()
