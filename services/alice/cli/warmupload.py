"""The synthetic workload of ``alice bench warmup``: sessions of Swedish questions with timestamps.

**Everything here is synthetic except the sentences.** Three made-up tenants (a family, an office, a school)
start sessions at times drawn from their own daily profiles (weekdays and weekends differ). A session follows a
*routine* — a typical order of intents (morning: greeting → weather → date → calendar; cooking: timer →
arithmetic → a question → timer status; homework: greeting → question → arithmetic → question; …) — taking
each step with probability ``follow`` and otherwise an intent drawn uniformly from all of Alice's intents, and
ending early after its second request with probability ``stop``. Users wait a log-normal time between requests
(median 50 s). The questions are Alice's own training utterances (``services/nlu/data/intents_sv.jsonl``, written
for Alice; never ``../shared`` test files): each tenant has its own pool of ``pool_size`` sentences per intent,
asked with Zipf popularity (exponent ``zipf_s``), so a tenant repeats its favourite questions.

What this makes easy for the model and hard to trust as a forecast: the routines are few and clean, time of day
and tenant really do decide the routine, and the sentences are ones the NLU was trained on (its intents are
nearly always right). Real traffic is messier; the bench measures the mechanism, not a promise.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from alice.errors import ConfigError

DATA = Path(__file__).resolve().parents[2] / "nlu" / "data" / "intents_sv.jsonl"
START = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Stockholm"))  # a Monday
DAY_S = 86_400

ROUTINES: dict[str, tuple[str, ...]] = {
    "morgon": ("greeting.hello", "weather.lookup", "date.today", "calendar.create_draft", "smalltalk"),
    "matlagning": ("timer.set", "math.calculate", "info.query", "timer.status", "timer.cancel"),
    "kväll": ("home.control", "weather.lookup", "timer.set", "smalltalk"),
    "kontor": ("greeting.hello", "email.create_draft", "calendar.create_draft", "info.query", "smalltalk"),
    "läxor": ("greeting.hello", "info.query", "math.calculate", "info.query", "smalltalk"),
    "fråga": ("info.query", "info.query", "math.calculate", "smalltalk"),
    "småprat": ("greeting.hello", "smalltalk", "smalltalk", "info.query"),
    "minne": ("memory.store", "memory.query", "time.now", "smalltalk"),
}


@dataclass(frozen=True)
class Window:
    """A daily window in which a tenant starts sessions: hours, sessions per weekday / weekend day, routines."""

    start_h: float
    end_h: float
    weekday: float
    weekend: float
    routines: dict[str, float]


TENANTS: dict[str, tuple[Window, ...]] = {
    "familjen": (
        Window(6.5, 9.0, 4, 2, {"morgon": 6, "småprat": 1, "minne": 1}),
        Window(16.5, 19.0, 4, 4, {"matlagning": 6, "fråga": 1, "minne": 1}),
        Window(19.5, 22.5, 3, 4, {"kväll": 5, "småprat": 2, "fråga": 1}),
    ),
    "kontoret": (
        Window(8.0, 10.0, 4, 0, {"kontor": 5, "morgon": 2}),
        Window(10.0, 17.0, 6, 0.5, {"fråga": 4, "kontor": 2, "minne": 1}),
    ),
    "skolan": (
        Window(9.0, 15.0, 4, 0, {"läxor": 4, "fråga": 2}),
        Window(18.0, 21.0, 3, 3, {"läxor": 3, "småprat": 3}),
    ),
}


@dataclass(frozen=True)
class WorkloadConfig:
    """Size and shape of the workload (seeded: the same config gives the same requests)."""

    train_days: int = 21
    replay_days: int = 7
    seed: int = 7
    follow: float = 0.8
    stop: float = 0.15
    pool_size: int = 13
    zipf_s: float = 1.1
    gap_median_s: float = 50.0
    gap_sigma: float = 0.6


@dataclass(frozen=True)
class Request:
    """One synthetic request: when, who, which session, the routine's intent (the label) and the question."""

    ts: float
    tenant: str
    session: str
    label: str
    text: str


def utterances(path: Path = DATA) -> dict[str, list[str]]:
    """Alice's training utterances by intent."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    for line in lines:
        if line.strip():
            row = json.loads(line)
            by_intent[str(row["intent"])].append(str(row["text"]))
    return {intent: sorted(set(texts)) for intent, texts in by_intent.items()}


class _Questions:
    """Each tenant's pool of questions per intent, asked with Zipf popularity."""

    def __init__(self, texts: dict[str, list[str]], config: WorkloadConfig, rng: random.Random) -> None:
        self._rng = rng
        self._pools: dict[tuple[str, str], list[str]] = {}
        weights = [1 / (rank**config.zipf_s) for rank in range(1, config.pool_size + 1)]
        for tenant in TENANTS:
            for intent, sentences in sorted(texts.items()):
                self._pools[(tenant, intent)] = rng.sample(sentences, min(config.pool_size, len(sentences)))
        self._weights = weights

    def ask(self, tenant: str, intent: str) -> str:
        pool = self._pools[(tenant, intent)]
        return self._rng.choices(pool, weights=self._weights[: len(pool)])[0]


def _session(
    start: float, routine: Sequence[str], intents: Sequence[str], config: WorkloadConfig, rng: random.Random
) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    ts = start
    for step, wanted in enumerate(routine):
        if step >= 2 and rng.random() < config.stop:
            break
        intent = wanted if rng.random() < config.follow else rng.choice(intents)
        out.append((ts, intent))
        ts += min(600.0, max(5.0, rng.lognormvariate(math.log(config.gap_median_s), config.gap_sigma)))
    return out


def generate(config: WorkloadConfig, texts: dict[str, list[str]]) -> tuple[list[Request], list[Request]]:
    """The training period's requests and the replay period's, each in time order."""
    rng = random.Random(config.seed)  # noqa: S311 - a seeded, reproducible workload, not a secret
    questions = _Questions(texts, config, rng)
    intents = sorted(texts)
    missing = {i for r in ROUTINES.values() for i in r} - set(intents)
    if missing:
        raise ConfigError(f"{DATA}: no sentences for the routines' intents {sorted(missing)}")
    requests: list[Request] = []
    origin = START.timestamp()
    for day in range(config.train_days + config.replay_days):
        midnight = datetime.fromtimestamp(origin + day * DAY_S, START.tzinfo).replace(hour=0, minute=0)
        weekend = midnight.weekday() >= 5
        for tenant, windows in TENANTS.items():
            for w, window in enumerate(windows):
                mean = window.weekend if weekend else window.weekday
                for n in range(_poisson(rng, mean)):
                    start = midnight.timestamp() + rng.uniform(window.start_h, window.end_h) * 3600
                    routine = rng.choices(list(window.routines), weights=list(window.routines.values()))[0]
                    session = f"{tenant}-{day}-{w}-{n}"
                    for ts, intent in _session(start, ROUTINES[routine], intents, config, rng):
                        requests.append(Request(ts, tenant, session, intent, questions.ask(tenant, intent)))
    requests.sort(key=lambda r: (r.ts, r.tenant, r.session))
    cut = origin + config.train_days * DAY_S
    return [r for r in requests if r.ts < cut], [r for r in requests if r.ts >= cut]


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
