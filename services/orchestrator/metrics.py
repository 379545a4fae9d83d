"""The orchestrator's Prometheus metrics, on the app's own registry (``app.state.registry``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from alice.metrics import FIB_BUCKETS_S, LLM_BUCKETS_S


class ChatMetrics:
    """Chat outcomes, LLM latency, time to first token and token counts."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "alice_chat_requests_total",
            "Chat requests, by the route that answered, the NLU intent and the outcome.",
            ["route", "intent", "outcome"],
            registry=registry,
        )
        self.llm_latency = Histogram(
            "alice_llm_request_duration_seconds",
            "Duration of LLM calls, from the request to the last token (Fibonacci buckets).",
            ["route", "model"],
            buckets=LLM_BUCKETS_S,
            registry=registry,
        )
        self.ttft = Histogram(
            "alice_llm_time_to_first_token_seconds",
            "Time from the LLM request to its first streamed token (Fibonacci buckets).",
            ["route", "model"],
            buckets=LLM_BUCKETS_S,
            registry=registry,
        )
        self.tokens = Counter(
            "alice_llm_tokens_total",
            "Tokens the LLM read (prompt) and wrote (completion).",
            ["route", "model", "kind"],
            registry=registry,
        )
        self.decisions = Counter(
            "alice_route_decisions_total",
            "Routing decisions that answered, by route and the reason it was chosen (cache hits are not routed).",
            ["route", "reason"],
            registry=registry,
        )
        self.micro_repairs = Counter(
            "alice_micro_invalid_outputs_total",
            "Micro answers that did not fit the schema: repaired once (repair), or handed to deep (fallback).",
            ["action"],
            registry=registry,
        )
        self.memory = Counter(
            "alice_memory_context_total",
            "Planner and deep answers given recalled context, by tier: working (the session's last turns) and "
            "long_term (the user's memories); none when neither had anything.",
            ["tier"],
            registry=registry,
        )
        self.forgets = Counter(
            "alice_memory_forget_total",
            "Forget requests, by scope (last, about, all, session).",
            ["scope"],
            registry=registry,
        )
        self.nlu_failures = Counter(
            "alice_nlu_failures_total",
            "NLU calls that failed (the chat went on without an intent), by error code.",
            ["code"],
            registry=registry,
        )

    def chat(self, route: str, intent: str | None, outcome: str) -> None:
        """Count one finished chat request."""
        self.requests.labels(route, intent or "none", outcome).inc()

    def llm_call(self, route: str, model: str, seconds: float, prompt_tokens: int, completion_tokens: int) -> None:
        """Record one finished LLM call."""
        self.llm_latency.labels(route, model).observe(seconds)
        self.tokens.labels(route, model, "prompt").inc(prompt_tokens)
        self.tokens.labels(route, model, "completion").inc(completion_tokens)


class CacheMetrics:
    """Cache lookups by tier and outcome, lookup latency, stores and negative hits (this replica)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lookups = Counter(
            "alice_cache_lookups_total",
            "Cache lookups by tier (exact, semantic, negative) and result (hit, miss).",
            ["tier", "result"],
            registry=registry,
        )
        self.lookup_latency = Histogram(
            "alice_cache_lookup_duration_seconds",
            "Duration of cache lookups by tier (Fibonacci buckets).",
            ["tier"],
            buckets=FIB_BUCKETS_S,
            registry=registry,
        )
        self.hit_tier = Counter(
            "alice_cache_hits_by_level_total",
            "Cache hits by the Fibonacci level (L1-L10) of the entry that answered.",
            ["level"],
            registry=registry,
        )
        self.stores = Counter(
            "alice_cache_stores_total",
            "Answers offered to the cache, by outcome (stored, skipped).",
            ["outcome"],
            registry=registry,
        )

    def lookup(self, tier: str, hit: bool, seconds: float) -> None:
        """Record one lookup."""
        self.lookups.labels(tier, "hit" if hit else "miss").inc()
        self.lookup_latency.labels(tier).observe(seconds)
