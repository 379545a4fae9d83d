"""Text in, parse results out: classification, entities and route hint (no FastAPI here)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nlu.classifier import IntentModel, Prediction
from nlu.entities import extract_entities
from nlu.routing import plan_route


@dataclass(frozen=True)
class ParseResult:
    """Everything the service answers for one text."""

    prediction: Prediction
    entities: list[dict[str, Any]]
    route_hint: str
    embedding: NDArray[np.float32]

    def embedding_list(self) -> list[float]:
        """The embedding as JSON-ready floats (built only when a caller asks for it)."""
        return [round(float(v), 6) for v in self.embedding]


@dataclass(frozen=True)
class ParseBatch:
    results: list[ParseResult]
    embed_ms: float
    classify_ms: float
    total_ms: float


def parse_texts(model: IntentModel, texts: Sequence[str]) -> ParseBatch:
    """Classify and extract entities for ``texts`` (blocking: call it from a worker thread)."""
    start = time.perf_counter()
    classified = model.classify(texts)
    results = []
    for text, prediction, vector in zip(texts, classified.predictions, classified.embeddings, strict=True):
        entities = extract_entities(text)
        alternatives = prediction.alternatives(1)
        hint = plan_route(
            prediction.label, prediction.accepted, entities, text, alternatives[0] if alternatives else None
        )
        results.append(ParseResult(prediction, entities, hint, vector))
    total_ms = (time.perf_counter() - start) * 1000
    return ParseBatch(results, classified.embed_ms, classified.classify_ms, total_ms)
