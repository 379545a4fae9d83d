"""A replayed cache workload: the Fibonacci tiers against flat TTLs of equal memory, from one run.

The workload is built from the Swedish dev pairs (``../shared/data/paraphrase/*.dev.jsonl``): sentences joined
by a label-1 pair are one *topic* (one answer, several phrasings); every other sentence is a topic of its own,
and the label-0 pairs put look-alike questions with different answers side by side. Requests arrive evenly
over ``span_days``; each picks a topic by a Zipf law (exponent ``zipf_s``, seeded) and one of its phrasings at
random. Each topic's true answer changes at random (exponential, mean ``change_days``), so a hit after a change
is *stale*.

Every policy sees the same requests and uses the same lookups as the orchestrator: the exact tier (canonical
text), then the semantic tier (same scope, :class:`~orchestrator.cache.semantic.SemanticMatcher` on the best
cosine), a paraphrase hit aliasing its text, intent rules (never / fixed TTL) and, at ``capacity`` entries,
eviction of the entry nearest its expiry. Only the TTLs differ: the tiers start at 1 h and climb (TierPolicy:
an entry expires its tier's TTL after entering the tier), a flat policy expires every entry a fixed time after
it was written.

Per policy: ``hit_rate`` (hits / requests), ``false_hit_share`` (hits that served another topic's answer /
hits), ``stale_hit_share`` (hits that served an outdated answer / hits), and the mean number of live entries.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orchestrator.cache.keys import canonical_text
from orchestrator.cache.semantic import Question, SemanticMatcher, scope_key
from orchestrator.cache.tiers import IntentRule, TierPolicy, TierState, rule_for

DAY_S = 86_400.0
TENANT = "replay"


@dataclass(frozen=True)
class Workload:
    """Distinct sentences (as the NLU reads them), their topic ids and their unit embeddings (one row each)."""

    questions: tuple[Question, ...]
    topics: np.ndarray
    vectors: np.ndarray

    @property
    def n_topics(self) -> int:
        return int(self.topics.max()) + 1 if len(self.topics) else 0


def topics_from_pairs(texts: Sequence[str], pairs: Sequence[tuple[str, str, int]]) -> np.ndarray:
    """A topic id per text: texts linked by label-1 pairs (transitively) share one."""
    index = {t: i for i, t in enumerate(texts)}
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b, label in pairs:
        if label == 1:
            ra, rb = find(index[a]), find(index[b])
            if ra != rb:
                parent[rb] = ra
    roots: dict[int, int] = {}
    return np.array([roots.setdefault(find(i), len(roots)) for i in range(len(texts))], dtype=np.int64)


@dataclass
class _Entry:
    text: int
    topic: int
    version: int
    scope: str
    state: TierState
    expires: float
    fixed_ttl: int | None


@dataclass
class _Cache:
    """One policy's cache during a replay."""

    policy: TierPolicy
    capacity: int
    entries: dict[int, _Entry] = field(default_factory=dict)
    exact: dict[str, int] = field(default_factory=dict)
    scopes: dict[str, set[int]] = field(default_factory=dict)
    heap: list[tuple[float, int]] = field(default_factory=list)
    next_id: int = 0

    def live(self, entry_id: int | None, now: float) -> _Entry | None:
        entry = self.entries.get(entry_id) if entry_id is not None else None
        if entry is not None and entry.expires <= now:
            self.drop(entry_id)  # type: ignore[arg-type]
            return None
        return entry

    def drop(self, entry_id: int) -> None:
        entry = self.entries.pop(entry_id, None)
        if entry is not None:
            self.scopes.get(entry.scope, set()).discard(entry_id)

    def expire_until(self, now: float) -> None:
        while self.heap and self.heap[0][0] <= now:
            expires, entry_id = heapq.heappop(self.heap)
            entry = self.entries.get(entry_id)
            if entry is not None and entry.expires == expires:
                self.drop(entry_id)

    def set_expiry(self, entry_id: int, entry: _Entry, expires: float) -> None:
        entry.expires = expires
        heapq.heappush(self.heap, (expires, entry_id))

    def evict_to_capacity(self) -> int:
        evicted = 0
        while len(self.entries) > self.capacity and self.heap:
            expires, entry_id = heapq.heappop(self.heap)
            entry = self.entries.get(entry_id)
            if entry is not None and entry.expires == expires:
                self.drop(entry_id)
                evicted += 1
        return evicted


@dataclass
class _Tally:
    hits: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    false_hits: int = 0
    stale_hits: int = 0
    evicted: int = 0
    size_sum: int = 0


def _lookup(
    cache: _Cache, work: Workload, matcher: SemanticMatcher, text: int, key: str, scope: str, now: float
) -> tuple[int, str] | None:
    entry_id = cache.exact.get(key)
    if cache.live(entry_id, now) is not None:
        return entry_id, "exact"  # type: ignore[return-value]
    members = list(cache.scopes.get(scope, ()))  # expire_until(now) already dropped the expired ones
    if not members:
        return None
    rows = np.array([cache.entries[m].text for m in members])
    sims = work.vectors[rows] @ work.vectors[text]
    best = int(np.argmax(sims))
    candidate = work.questions[int(rows[best])]
    if matcher.accepts(work.questions[text], candidate, float(sims[best])):
        cache.exact[key] = members[best]
        return members[best], "semantic"
    return None


def _serve(cache: _Cache, tally: _Tally, entry_id: int, kind: str, topic: int, version: int, now: float) -> None:
    entry = cache.entries[entry_id]
    tally.hits += 1
    tally.exact_hits += kind == "exact"
    tally.semantic_hits += kind == "semantic"
    tally.false_hits += entry.topic != topic
    tally.stale_hits += entry.topic == topic and entry.version != version
    if entry.fixed_ttl is None:
        before = entry.state.tier
        entry.state = cache.policy.on_hit(entry.state, now)
        if entry.state.tier != before:
            cache.set_expiry(entry_id, entry, cache.policy.expires(entry.state))


def _store(
    cache: _Cache,
    tally: _Tally,
    text: int,
    key: str,
    scope: str,
    topic: int,
    version: int,
    rule: IntentRule | None,
    now: float,
) -> None:
    fixed = rule.ttl_s if rule is not None else None
    state = cache.policy.start(now)
    entry_id = cache.next_id
    cache.next_id += 1
    ttl = fixed if fixed is not None else cache.policy.ttl(state.tier)
    entry = _Entry(text, topic, version, scope, state, now + ttl, fixed)
    cache.entries[entry_id] = entry
    heapq.heappush(cache.heap, (entry.expires, entry_id))
    cache.exact[key] = entry_id
    if fixed is None:
        cache.scopes.setdefault(scope, set()).add(entry_id)
    tally.evicted += cache.evict_to_capacity()


@dataclass(frozen=True)
class ReplayConfig:
    """The workload's shape (defaults: two weeks, ~1 request every 24 s, a 600-answer cache)."""

    requests: int = 50_000
    span_days: float = 14.0
    zipf_s: float = 1.0
    change_days: float = 7.0
    capacity: int = 600
    seed: int = 7


def replay(
    work: Workload,
    policies: dict[str, TierPolicy],
    matcher: SemanticMatcher,
    rules: tuple[IntentRule, ...],
    config: ReplayConfig,
) -> dict[str, dict[str, Any]]:
    """Replay one request sequence through a cache per policy; the tallies per policy name."""
    rng = random.Random(config.seed)  # noqa: S311 - a seeded workload, not a secret
    n_topics = work.n_topics
    ranks = list(range(n_topics))
    rng.shuffle(ranks)
    weights = np.array([1.0 / (r + 1) ** config.zipf_s for r in ranks])
    picks = np.random.default_rng(config.seed).choice(n_topics, size=config.requests, p=weights / weights.sum())
    phrasings: list[list[int]] = [[] for _ in range(n_topics)]
    for i, topic in enumerate(work.topics):
        phrasings[int(topic)].append(i)
    keys = [canonical_text(q.text) for q in work.questions]
    scopes = [scope_key(TENANT, q.intent, q.entities, q.text) for q in work.questions]
    text_rules = [rule_for(rules, q.intent) for q in work.questions]
    versions = [0] * n_topics
    next_change = [rng.expovariate(1 / (config.change_days * DAY_S)) for _ in range(n_topics)]
    caches = {name: _Cache(policy, config.capacity) for name, policy in policies.items()}
    tallies = {name: _Tally() for name in policies}
    step = config.span_days * DAY_S / config.requests
    for i, pick in enumerate(picks):
        now, topic = i * step, int(pick)
        while next_change[topic] <= now:
            versions[topic] += 1
            next_change[topic] += rng.expovariate(1 / (config.change_days * DAY_S))
        text = rng.choice(phrasings[topic])
        rule = text_rules[text]
        for name, cache in caches.items():
            tally = tallies[name]
            cache.expire_until(now)
            if rule is not None and rule.ttl_s is None:
                tally.size_sum += len(cache.entries)
                continue
            found = _lookup(cache, work, matcher, text, keys[text], scopes[text], now)
            if found is not None:
                _serve(cache, tally, found[0], found[1], topic, versions[topic], now)
            else:
                _store(cache, tally, text, keys[text], scopes[text], topic, versions[topic], rule, now)
            tally.size_sum += len(cache.entries)
    return {name: _summary(t, config.requests) for name, t in tallies.items()}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _summary(t: _Tally, requests: int) -> dict[str, Any]:
    return {
        "hit_rate": round(t.hits / requests, 4),
        "exact_hit_rate": round(t.exact_hits / requests, 4),
        "semantic_hit_rate": round(t.semantic_hits / requests, 4),
        "false_hit_share": _share(t.false_hits, t.hits),
        "stale_hit_share": _share(t.stale_hits, t.hits),
        "evictions": t.evicted,
        "mean_entries": round(t.size_sum / requests, 1),
    }


def compare(
    results: dict[str, dict[str, Any]], baseline_names: Sequence[str], subject: str = "fibonacci"
) -> dict[str, dict[str, float | None]]:
    """The subject's rates as ratios to each baseline's (same run)."""
    out: dict[str, dict[str, float | None]] = {}
    for name in baseline_names:
        base, ours = results[name], results[subject]
        out[f"{subject}_vs_{name}"] = {
            metric: (round(ours[metric] / base[metric], 3) if ours[metric] is not None and base[metric] else None)
            for metric in ("hit_rate", "false_hit_share", "stale_hit_share")
        }
    return out


def bench_replay(
    pair_rows: Sequence[tuple[str, str, int]],
    parse: Callable[[Sequence[str]], dict[str, Question]],
    config: ReplayConfig,
    tier_hours: Sequence[int],
    flat_hours: Sequence[float] = (1, 24, 89),
    rules: tuple[IntentRule, ...] = (),
    say: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Build the workload from the pairs, replay it through the Fibonacci tiers and each flat TTL."""
    texts = list(dict.fromkeys(t for a, b, _label in pair_rows for t in (a, b)))
    questions = parse(texts)
    ordered = tuple(questions[t] for t in texts)
    vectors = np.vstack([np.asarray(q.embedding, dtype=np.float32) for q in ordered])
    work = Workload(ordered, topics_from_pairs(texts, pair_rows), vectors)
    policies = {"fibonacci": TierPolicy.from_hours(list(tier_hours))}
    for hours in flat_hours:
        policies[f"flat_{hours:g}h"] = TierPolicy((int(hours * 3600),))
    say(
        f"replay: {config.requests} requests over {work.n_topics} topics ({len(texts)} phrasings), "
        f"{len(policies)} policies"
    )
    started = time.perf_counter()
    results = replay(work, policies, SemanticMatcher(), rules, config)
    say(f"replay: done in {time.perf_counter() - started:.1f} s")
    baselines = [name for name in policies if name != "fibonacci"]
    return {
        "workload": {
            "requests": config.requests,
            "span_days": config.span_days,
            "topics": work.n_topics,
            "phrasings": len(texts),
            "zipf_s": config.zipf_s,
            "answer_change_mean_days": config.change_days,
            "capacity_entries": config.capacity,
            "seed": config.seed,
        },
        "policies": results,
        "ratios": compare(results, baselines),
    }
