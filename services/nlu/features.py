"""Classifier input: the sentence embedding (meaning), hashed character n-grams (spelling) and Swedish cue
classes (:mod:`nlu.cues`: what the sentence does and what it is about).

The n-grams are taken from the lower-cased text with å/ä/ö folded to a/a/o, so "vädret" and "vadret" share
them; hashing keeps the artifact free of a vocabulary and the transform stateless.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.utils import murmurhash3_32

from nlu.cues import NAMES as CUE_NAMES
from nlu.cues import cue_indices, cue_matrix

_RUNS_OF_SPACE = re.compile(r"\s\s+")
_ASCII_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "Å": "A", "Ä": "A", "Ö": "O"})


def typed_variant(text: str) -> str:
    """How text often arrives from a phone keyboard: lower case, å/ä/ö as a/a/o."""
    return text.lower().translate(_ASCII_FOLD)


@dataclass(frozen=True)
class FeatureConfig:
    """How texts and embeddings become one feature row; stored in the artifact."""

    embedding_weight: float = 3.0
    ngram_min: int = 2
    ngram_max: int = 4
    n_features: int = 2**15
    #: Weight of the cue columns (0 leaves them out).
    cue_weight: float = 1.0

    def width(self, embedding_dim: int) -> int:
        """Number of feature columns for embeddings of ``embedding_dim``."""
        return embedding_dim + self.n_features + (len(CUE_NAMES) if self.cue_weight else 0)


def featurize(texts: Sequence[str], embeddings: np.ndarray, config: FeatureConfig) -> sparse.csr_matrix:
    """``[embedding * weight | hashed n-grams | cues * weight]`` as a CSR matrix, one row per text."""
    parts = [sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64) * config.embedding_weight)]
    if config.n_features:
        parts.append(char_ngram_matrix(texts, config))
    if config.cue_weight:
        parts.append(cue_matrix(texts, config.cue_weight))
    return parts[0] if len(parts) == 1 else sparse.hstack(parts, format="csr")


def linear_scores(
    texts: Sequence[str], embeddings: np.ndarray, config: FeatureConfig, coef: np.ndarray, intercept: np.ndarray
) -> np.ndarray:
    """``featurize(texts, embeddings, config) @ coef.T + intercept``, block by block: the per-request path, which
    skips building and stacking the sparse matrix (about 1 ms of a single parse)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    dim = emb.shape[1]
    scores = (emb * config.embedding_weight) @ coef[:, :dim].T + intercept
    col = dim
    if config.n_features:
        block = coef[:, col : col + config.n_features]
        for row, text in enumerate(texts):
            indices, values = char_ngrams(text, config)
            scores[row] += block[:, indices] @ values
        col += config.n_features
    if config.cue_weight:
        for row, text in enumerate(texts):
            present = cue_indices(text)
            if present:
                scores[row] += config.cue_weight * coef[:, [col + j for j in present]].sum(axis=1)
    return np.asarray(scores)


def char_ngrams(text: str, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Hashed character n-grams of one text as (column indices, L2-normalised counts).

    The same columns as scikit-learn's ``HashingVectorizer(analyzer="char_wb", alternate_sign=False, norm="l2")``
    with :func:`typed_variant` as preprocessor (a unit test holds them equal), at a tenth of its per-call cost:
    n-grams inside each word padded with one space, a word no longer than ``n`` counted once, MurmurHash3
    (seed 0) modulo ``n_features``.
    """
    counts: dict[int, float] = {}
    for word in _RUNS_OF_SPACE.sub(" ", typed_variant(text)).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(config.ngram_min, config.ngram_max + 1):
            for i in range(max(length - n + 1, 1)):
                column = abs(murmurhash3_32(padded[i : i + n], seed=0)) % config.n_features
                counts[column] = counts.get(column, 0.0) + 1.0
            if length <= n:
                break
    indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    norm = float(np.linalg.norm(values))
    return indices, values / norm if norm else values


def char_ngram_matrix(texts: Sequence[str], config: FeatureConfig) -> sparse.csr_matrix:
    """:func:`char_ngrams` of every text as a CSR matrix with ``config.n_features`` columns."""
    rows = [char_ngrams(text, config) for text in texts]
    indptr = np.cumsum([0] + [len(indices) for indices, _ in rows])
    indices = np.concatenate([i for i, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
    data = np.concatenate([v for _, v in rows]) if rows else np.zeros(0)
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(texts), config.n_features))
    matrix.sort_indices()
    return matrix
