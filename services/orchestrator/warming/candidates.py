"""From predicted next intents to the questions worth warming (pure functions).

For each active session the model gives its most likely next intents. "The next likely questions" of an intent
are the questions of that intent the tenant asked most often lately (a *pool*, from the newest telemetry
events). A question's score is the expected number of the active sessions that ask it next, under two plain
assumptions: the session's next intent follows the model, and within an intent questions come in their recent
proportions: ``Σ over the tenant's active sessions of P(intent | session) × count(question) / count(intent)``.
Candidates are warmed highest score first until the run's budget is spent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from orchestrator.cache.tiers import IntentRule, rule_for
from orchestrator.warming.features import NO_INTENT, Moment
from orchestrator.warming.sessions import Event


@dataclass(frozen=True)
class Pool:
    """An intent's recent questions of one tenant: the most frequent ones and how often the intent was asked."""

    total: int
    top: tuple[tuple[str, int], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Candidate:
    """A question to warm for a tenant, with its score (expected askers among the active sessions)."""

    tenant: str
    question: str
    intent: str
    score: float


def cacheable(rules: tuple[IntentRule, ...], intent: str | None) -> bool:
    """True for an intent whose answers the cache keeps (ordinary or volatile intents; never the live-data,
    personal and action intents of ``ORCHESTRATOR_CACHE_NEVER_INTENTS``)."""
    if intent is None or intent == NO_INTENT:
        return False
    rule = rule_for(rules, intent)
    return rule is None or rule.ttl_s is not None


def question_pools(events: Iterable[Event], per_intent: int) -> dict[str, Pool]:
    """Each intent's ``per_intent`` most frequent questions in ``events`` (ties: alphabetical)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        if event.question:
            counts[event.intent][event.question] += 1
    return {
        intent: Pool(sum(c.values()), tuple(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:per_intent]))
        for intent, c in counts.items()
    }


def plan_candidates(
    moments: Sequence[Moment],
    predictions: Sequence[Sequence[tuple[str, float]]],
    pools: dict[str, dict[str, Pool]],
    min_probability: float,
    warmable: Iterable[str] | None = None,
) -> list[Candidate]:
    """The questions to warm, best first: ``predictions[i]`` are moment ``i``'s likely next intents (most likely
    first); ``pools[tenant][intent]`` its recent questions; only intents in ``warmable`` (when given) count."""
    allowed = set(warmable) if warmable is not None else None
    scores: dict[tuple[str, str], float] = defaultdict(float)
    intents: dict[tuple[str, str], str] = {}
    for moment, ranked in zip(moments, predictions, strict=True):
        tenant_pools = pools.get(moment.tenant, {})
        for intent, probability in ranked:
            if probability < min_probability or (allowed is not None and intent not in allowed):
                continue
            pool = tenant_pools.get(intent)
            if pool is None or pool.total <= 0:
                continue
            for question, count in pool.top:
                key = (moment.tenant, question)
                scores[key] += probability * count / pool.total
                intents.setdefault(key, intent)
    ranked_keys = sorted(scores, key=lambda k: (-scores[k], k))
    return [Candidate(t, q, intents[(t, q)], round(scores[(t, q)], 6)) for t, q in ranked_keys]
