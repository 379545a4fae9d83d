"""The guardian's own Prometheus metrics, registered on the app's registry (``app.state.registry``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from alice.metrics import FIB_BUCKETS_S


class GuardianMetrics:
    """Auth failures by reason, forwarded requests by upstream status, upstream latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.auth_failures = Counter(
            "alice_guardian_auth_failures_total",
            "Requests refused by authentication (missing, malformed, unknown_id, revoked, ...) or by role "
            "(role: a non-admin key on an admin route), by reason.",
            ["reason"],
            registry=registry,
        )
        self.forwarded = Counter(
            "alice_guardian_forwarded_total",
            "Requests forwarded to the orchestrator, by path and upstream status "
            "(connect_error, timeout or protocol_error when no status came back).",
            ["path", "status"],
            registry=registry,
        )
        self.upstream_latency = Histogram(
            "alice_guardian_upstream_duration_seconds",
            "Time until the orchestrator's response headers arrived (Fibonacci millisecond buckets).",
            ["path"],
            buckets=FIB_BUCKETS_S,
            registry=registry,
        )

        self.rate = Counter(
            "alice_guardian_ratelimit_total",
            "Rate-limit decisions: admitted, limited (429), unavailable (Redis down: let through).",
            ["outcome"],
            registry=registry,
        )
        self.audit_errors = Counter(
            "alice_guardian_audit_errors_total",
            "Audit entries a sink failed to write (the request went on), by sink.",
            ["sink"],
            registry=registry,
        )
        self.load_transitions = Counter(
            "alice_guardian_load_transitions_total",
            "Load state changes (normal, brownout, emergency), by from and to.",
            ["before", "after"],
            registry=registry,
        )
        self.load_level = Gauge(
            "alice_guardian_load_level", "The load state: 0 normal, 1 brownout, 2 emergency.", registry=registry
        )
        self.injection = Counter(
            "alice_guardian_injection_total",
            "Chat messages flagged as prompt injection, by outcome (blocked, shadow) and reason.",
            ["outcome", "reason"],
            registry=registry,
        )
        self.injection_verdicts = Counter(
            "alice_guardian_injection_verdict_cache_total",
            "Injection screenings looked up in the verdict cache, by result (hit: the message was not screened again).",
            ["result"],
            registry=registry,
        )
        self.pii = Counter(
            "alice_guardian_pii_total",
            "Pieces of personal data found in chat messages, by kind and action (redacted, blocked).",
            ["kind", "action"],
            registry=registry,
        )

    def rate_decision(self, outcome: str) -> None:
        """Count one rate-limit decision (admitted, limited, unavailable)."""
        self.rate.labels(outcome).inc()

    def audit_error(self, sink: str) -> None:
        """Count one audit entry a sink could not write."""
        self.audit_errors.labels(sink).inc()

    def load_changed(self, before: str, after: str, _sample: object) -> None:
        """Count one load state change and set the gauge."""
        self.load_transitions.labels(before, after).inc()
        self.load_level.set(("normal", "brownout", "emergency").index(after))

    def injection_flagged(self, outcome: str, reason: str) -> None:
        """Count one flagged message."""
        self.injection.labels(outcome, reason).inc()

    def injection_verdict_lookup(self, hit: bool) -> None:
        """Count one verdict cache lookup."""
        self.injection_verdicts.labels("hit" if hit else "miss").inc()

    def pii_found(self, kind: str, action: str, count: int) -> None:
        """Count personal data found in one message."""
        self.pii.labels(kind, action).inc(count)

    def auth_failure(self, reason: str) -> None:
        """Count one refused request."""
        self.auth_failures.labels(reason).inc()

    def forwarded_request(self, path: str, status: int | str, seconds: float | None) -> None:
        """Count one forwarded request (and its latency when the orchestrator answered)."""
        self.forwarded.labels(path, str(status)).inc()
        if seconds is not None:
            self.upstream_latency.labels(path).observe(seconds)
