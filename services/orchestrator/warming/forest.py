"""A trained random forest as plain arrays: predicted with numpy, stored as ``.npz`` without pickle.

scikit-learn trains the forest (``alice predict train``, :mod:`.training`); the orchestrator only predicts. The
trees' node arrays (children, split feature, threshold, leaf class shares) are copied out of the fitted
``RandomForestClassifier`` into one flat set of arrays, so the orchestrator needs neither scikit-learn at run time
nor pickle (nothing in a model file is executed on load — the same rule as the NLU's and the guardian's models).
:meth:`Forest.predict_proba` gives what scikit-learn's ``predict_proba`` gives (a unit test checks it): the mean
over trees of each tree's leaf class shares, with the features compared as float32 like scikit-learn does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

LEAF = -1


@dataclass(frozen=True)
class Forest:
    """The nodes of every tree, concatenated; ``roots[t]`` is tree ``t``'s first node."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    #: Per node, the class shares of the training rows that reached it (rows sum to 1).
    value: np.ndarray
    roots: np.ndarray
    depth: int

    @property
    def trees(self) -> int:
        """How many trees."""
        return int(self.roots.shape[0])

    @classmethod
    def from_sklearn(cls, model: Any) -> Forest:
        """The arrays of a fitted ``sklearn.ensemble.RandomForestClassifier`` (single output)."""
        lefts, rights, features, thresholds, values, roots = [], [], [], [], [], []
        offset = 0
        depth = 0
        for estimator in model.estimators_:
            tree = estimator.tree_
            left = tree.children_left.astype(np.int32)
            right = tree.children_right.astype(np.int32)
            lefts.append(np.where(left == LEAF, LEAF, left + offset))
            rights.append(np.where(right == LEAF, LEAF, right + offset))
            features.append(tree.feature.astype(np.int32))
            thresholds.append(tree.threshold.astype(np.float64))
            counts = tree.value[:, 0, :].astype(np.float64)
            totals = counts.sum(axis=1, keepdims=True)
            values.append(np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0))
            roots.append(offset)
            offset += tree.node_count
            depth = max(depth, int(tree.max_depth))
        return cls(
            left=np.concatenate(lefts),
            right=np.concatenate(rights),
            feature=np.concatenate(features),
            threshold=np.concatenate(thresholds),
            value=np.vstack(values),
            roots=np.asarray(roots, dtype=np.int32),
            depth=depth,
        )

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for each row of ``x`` (shape ``(rows, classes)``)."""
        rows = np.asarray(x, dtype=np.float32)
        if rows.ndim != 2:
            raise ValueError("x must be a 2-D array")
        n = rows.shape[0]
        node = np.repeat(self.roots[:, None], n, axis=1)  # (trees, rows)
        columns = np.arange(n)[None, :]
        for _ in range(self.depth + 1):
            left = self.left[node]
            inner = left != LEAF
            if not inner.any():
                break
            feature = np.where(inner, self.feature[node], 0)
            goes_left = rows[columns, feature].astype(np.float64) <= self.threshold[node]
            node = np.where(inner, np.where(goes_left, left, self.right[node]), node)
        proba: np.ndarray = self.value[node].mean(axis=0)
        return proba

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to store (``np.savez``)."""
        return {
            "left": self.left,
            "right": self.right,
            "feature": self.feature,
            "threshold": self.threshold,
            "value": self.value,
            "roots": self.roots,
            "depth": np.asarray(self.depth, dtype=np.int32),
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> Forest:
        """The forest :meth:`arrays` stored (an ``np.load`` result or a dict)."""
        return cls(
            left=np.asarray(arrays["left"], dtype=np.int32),
            right=np.asarray(arrays["right"], dtype=np.int32),
            feature=np.asarray(arrays["feature"], dtype=np.int32),
            threshold=np.asarray(arrays["threshold"], dtype=np.float64),
            value=np.asarray(arrays["value"], dtype=np.float64),
            roots=np.asarray(arrays["roots"], dtype=np.int32),
            depth=int(arrays["depth"]),
        )
