"""Training the next-intent model: a scikit-learn random forest with the seed's parameters, checked on held-out
sessions against two plain baselines.

The seed's parameters (:class:`ForestParams`): 55 trees, depth at most 8, ``min_samples_split`` 3,
``min_samples_leaf`` 1, ``max_features`` the golden-ratio threshold φ⁻¹ ≈ 0.618 (a share of the features
considered at each split: ``alice.fibonacci.calculate_golden_ratio_threshold(1.0, "medium")``), and
``class_weight="balanced"`` (rare next intents weigh as much as common ones; this trades some top-1 accuracy on
the common intents for recall on the rare ones, which the report shows).

Held out: the last :data:`TEST_SHARE` of the sessions by start time (the model is judged on later traffic than it
learnt from, as in use). Baselines, fitted on the same training sessions: **transition** — the most frequent next
intents after the previous intent (a first-order Markov table, falling back to the overall frequencies), and
**frequency** — the overall most frequent intents. The model that is saved is then fitted on every session.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from alice.fibonacci import calculate_golden_ratio_threshold
from orchestrator.warming.features import FeatureSpec, Moment
from orchestrator.warming.forest import Forest
from orchestrator.warming.model import WarmingModel
from orchestrator.warming.sessions import Event, sessions, transitions

TEST_SHARE = 0.2
#: Fewer (moment, next intent) pairs than this cannot train anything worth predicting with.
MIN_ROWS = 20


class NotEnoughDataError(ValueError):
    """Too little telemetry to train (the message says how much there is)."""


@dataclass(frozen=True)
class ForestParams:
    """The random forest's parameters (the seed's by default)."""

    n_estimators: int = 55
    max_depth: int = 8
    min_samples_split: int = 3
    min_samples_leaf: int = 1
    max_features: float = calculate_golden_ratio_threshold(1.0, "medium")
    class_weight: str | None = "balanced"
    random_state: int = 13

    def build(self) -> Any:
        """An unfitted ``RandomForestClassifier`` (one job: the machine's cores belong to the services)."""
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_split=self.min_samples_split,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            class_weight=self.class_weight,
            random_state=self.random_state,
            n_jobs=1,
        )


class TransitionBaseline:
    """The plain alternative: the most frequent next intents after the previous intent."""

    def __init__(self, pairs: Sequence[tuple[Moment, str]]) -> None:
        self.after: dict[str, Counter[str]] = defaultdict(Counter)
        self.overall: Counter[str] = Counter()
        for moment, target in pairs:
            self.after[moment.history[0] if moment.history else ""][target] += 1
            self.overall[target] += 1

    def top(self, moment: Moment, k: int) -> list[str]:
        """The ``k`` most frequent next intents after the moment's last intent (then the overall ones)."""
        seen = self.after.get(moment.history[0] if moment.history else "", Counter())
        ranked = [i for i, _n in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))]
        ranked += [i for i, _n in sorted(self.overall.items(), key=lambda kv: (-kv[1], kv[0])) if i not in ranked]
        return ranked[:k]


def fit(pairs: Sequence[tuple[Moment, str]], params: ForestParams) -> WarmingModel:
    """A model fitted on ``pairs``."""
    moments = [m for m, _t in pairs]
    targets = [t for _m, t in pairs]
    spec = FeatureSpec.fit(moments, targets)
    forest = params.build()
    forest.fit(spec.matrix(moments), np.asarray(targets))
    classes = tuple(str(c) for c in forest.classes_)
    return WarmingModel(spec, classes, Forest.from_sklearn(forest))


def top_k_hits(ranked: Sequence[Sequence[str]], targets: Sequence[str], k: int) -> float | None:
    """The share of targets among the first ``k`` of their ranking."""
    if not targets:
        return None
    return round(sum(t in r[:k] for r, t in zip(ranked, targets, strict=True)) / len(targets), 4)


def evaluate(model: WarmingModel, baseline: TransitionBaseline, pairs: Sequence[tuple[Moment, str]]) -> dict[str, Any]:
    """Top-1 and top-3 accuracy of the model and the two baselines on ``pairs``."""
    moments = [m for m, _t in pairs]
    targets = [t for _m, t in pairs]
    forest = [[intent for intent, _p in row] for row in model.top(moments, 3)]
    plain = [baseline.top(m, 3) for m in moments]
    frequent = [i for i, _n in sorted(baseline.overall.items(), key=lambda kv: (-kv[1], kv[0]))][:3]
    out: dict[str, Any] = {"rows": len(pairs)}
    for name, ranked in (("forest", forest), ("transition_baseline", plain), ("frequency_baseline", [frequent])):
        rows = ranked if len(ranked) == len(targets) else ranked * len(targets)
        out[name] = {"top1": top_k_hits(rows, targets, 1), "top3": top_k_hits(rows, targets, 3)}
    return out


def train(
    events: Sequence[Event],
    params: ForestParams | None = None,
    test_share: float = TEST_SHARE,
    say: Callable[[str], None] = lambda _msg: None,
) -> tuple[WarmingModel, dict[str, Any]]:
    """Check the forest on held-out sessions, then fit it on all of them; returns the model and the report."""
    params = params or ForestParams()
    started = time.perf_counter()
    grouped = sessions(events)
    pairs = transitions(grouped)
    if len(pairs) < MIN_ROWS:
        raise NotEnoughDataError(
            f"{len(events)} events in {len(grouped)} sessions give {len(pairs)} (request → next request) pairs; "
            f"training needs at least {MIN_ROWS}"
        )
    cut = max(1, int(round(len(grouped) * (1 - test_share))))
    train_pairs, test_pairs = transitions(grouped[:cut]), transitions(grouped[cut:])
    say(f"predict: {len(pairs)} pairs from {len(grouped)} sessions; checking on the last {len(grouped) - cut}")
    held_out: dict[str, Any] | None = None
    if train_pairs and test_pairs:
        held_out = evaluate(fit(train_pairs, params), TransitionBaseline(train_pairs), test_pairs)
    say("predict: fitting on every session")
    model = fit(pairs, params)
    report = {
        "events": len(events),
        "sessions": len(grouped),
        "rows": len(pairs),
        "classes": list(model.classes),
        "tenants": len(model.spec.tenants),
        "features": model.spec.width,
        "params": asdict(params),
        "held_out": held_out,
        "trained_at": round(time.time(), 3),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return WarmingModel(model.spec, model.classes, model.forest, report), report
