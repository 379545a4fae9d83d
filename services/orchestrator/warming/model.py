"""The next-intent model: a feature spec, the classes and a forest, in one ``.npz`` file in the model folder.

``alice predict train`` writes ``<ORCHESTRATOR_WARMING_MODEL_DIR>/warming-model.npz`` (default
``$ALICE_HOME/warming``) atomically; the warmer reads it at start and again whenever the file changes, so a new
training reaches a running orchestrator within one warming interval. The file holds arrays and one JSON string
(spec, classes, training report); it is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from orchestrator.warming.features import FeatureSpec, Moment
from orchestrator.warming.forest import Forest

log = structlog.get_logger("orchestrator.warming")

MODEL_FILE = "warming-model.npz"
FORMAT = 1


class ModelFileError(ValueError):
    """A model file that cannot be read (missing arrays, another format, not an ``.npz``)."""


@dataclass(frozen=True)
class WarmingModel:
    """Predicts the next intent of a session from a :class:`Moment`."""

    spec: FeatureSpec
    classes: tuple[str, ...]
    forest: Forest
    #: What training reported (rows, parameters, held-out accuracy, when); shown by ``alice predict train``.
    info: dict[str, Any] = field(default_factory=dict)

    def predict(self, moments: Sequence[Moment]) -> np.ndarray:
        """Class probabilities per moment (columns in :attr:`classes` order)."""
        if not moments:
            return np.zeros((0, len(self.classes)))
        return self.forest.predict_proba(self.spec.matrix(moments))

    def top(self, moments: Sequence[Moment], k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` most likely next intents of each moment, most likely first."""
        proba = self.predict(moments)
        out = []
        for row in proba:
            order = np.argsort(-row, kind="stable")[:k]
            out.append([(self.classes[i], float(row[i])) for i in order])
        return out

    def save(self, folder: Path) -> Path:
        """Write the model to ``folder/warming-model.npz`` (atomically); returns the path."""
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "spec": self.spec.to_json(), "classes": list(self.classes), "info": self.info}
        target = folder / MODEL_FILE
        tmp = folder / f".{MODEL_FILE}.tmp.npz"
        arrays = {"meta": np.asarray(json.dumps(meta, ensure_ascii=False)), **self.forest.arrays()}
        np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(target)
        return target

    @classmethod
    def load(cls, path: Path) -> WarmingModel:
        """The model in ``path``; :class:`ModelFileError` when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as saved:
                meta = json.loads(str(saved["meta"]))
                forest = Forest.from_arrays(saved)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(f"{path}: not a warming model ({type(exc).__name__}: {exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(f"{path}: unknown model format")
        classes = tuple(str(c) for c in meta["classes"])
        if forest.value.shape[1] != len(classes):
            raise ModelFileError(f"{path}: {forest.value.shape[1]} class columns for {len(classes)} classes")
        return cls(FeatureSpec.from_json(meta["spec"]), classes, forest, dict(meta.get("info") or {}))


class ModelSource:
    """The model in the model folder, read again when its file changes; None while there is none (logged once)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / MODEL_FILE
        self._model: WarmingModel | None = None
        self._stamp: tuple[int, int] | None = None
        self._reported: str | None = None

    def current(self) -> WarmingModel | None:
        """The newest readable model."""
        try:
            stat = self.path.stat()
        except OSError:
            self._report("warming_model_missing", f"no model at {self.path}: run `alice predict train`")
            self._model, self._stamp = None, None
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                self._model = WarmingModel.load(self.path)
            except ModelFileError as exc:
                self._report("warming_model_unreadable", str(exc))
                self._model = None
            else:
                log.info("warming_model_loaded", path=str(self.path), classes=len(self._model.classes))
                self._reported = None
            self._stamp = stamp
        return self._model

    def _report(self, event: str, detail: str) -> None:
        if self._reported != event:
            log.warning(event, detail=detail)
            self._reported = event
