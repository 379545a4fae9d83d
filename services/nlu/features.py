"""Classifier input: the sentence embedding (meaning) next to hashed character n-grams (spelling).

The n-grams are taken from the lower-cased text with å/ä/ö folded to a/a/o, so "vädret" and "vadret" share
them; hashing keeps the artifact free of a vocabulary and the transform stateless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

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

    def vectorizer(self) -> HashingVectorizer:
        """The (stateless) character n-gram hasher."""
        return HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(self.ngram_min, self.ngram_max),
            n_features=self.n_features,
            alternate_sign=False,
            norm="l2",
            preprocessor=typed_variant,
        )

    def width(self, embedding_dim: int) -> int:
        """Number of feature columns for embeddings of ``embedding_dim``."""
        return embedding_dim + (self.n_features if self.n_features else 0)


def featurize(texts: Sequence[str], embeddings: np.ndarray, config: FeatureConfig) -> sparse.csr_matrix:
    """``[embedding * weight | hashed n-grams]`` as a CSR matrix, one row per text."""
    dense = sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64) * config.embedding_weight)
    if not config.n_features:
        return dense
    grams = _vectorizer(config).transform(list(texts))
    return sparse.hstack([dense, grams], format="csr")


@lru_cache(maxsize=8)
def _vectorizer(config: FeatureConfig) -> HashingVectorizer:
    return config.vectorizer()
