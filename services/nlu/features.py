"""Classifier input: the sentence embedding (meaning), hashed character n-grams (spelling) and Swedish cue
classes (:mod:`nlu.cues`: what the sentence does and what it is about).

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

from nlu.cues import NAMES as CUE_NAMES
from nlu.cues import cue_matrix

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
        return embedding_dim + self.n_features + (len(CUE_NAMES) if self.cue_weight else 0)


def featurize(texts: Sequence[str], embeddings: np.ndarray, config: FeatureConfig) -> sparse.csr_matrix:
    """``[embedding * weight | hashed n-grams | cues * weight]`` as a CSR matrix, one row per text."""
    parts = [sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64) * config.embedding_weight)]
    if config.n_features:
        parts.append(_vectorizer(config).transform(list(texts)))
    if config.cue_weight:
        parts.append(cue_matrix(texts, config.cue_weight))
    return parts[0] if len(parts) == 1 else sparse.hstack(parts, format="csr")


@lru_cache(maxsize=8)
def _vectorizer(config: FeatureConfig) -> HashingVectorizer:
    return config.vectorizer()
