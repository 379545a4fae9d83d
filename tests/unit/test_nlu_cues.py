"""The Swedish cue classes: each cue fires on the phrasings it names and not on its look-alikes."""

from __future__ import annotations

import numpy as np
import pytest

from nlu.cues import NAMES, cue_digest, cue_matrix, cues_of
from nlu.features import FeatureConfig, featurize, linear_scores


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("Dra för gardinerna i vardagsrummet", {"close", "cover"}, {"open", "switch_on"}),
        ("hissa ner markisen", {"close", "cover"}, {"open"}),
        ("rulla upp persiennerna", {"open", "cover"}, {"close"}),
        ("stäng av lampan i hallen", {"switch_off", "light"}, {"close"}),
        ("stäng fönstret", {"close", "cover"}, {"switch_off"}),
        ("tänd ljuset i köket", {"switch_on", "light"}, {"switch_off"}),
        ("släck allt", {"switch_off", "all"}, {"switch_on"}),
        ("lås upp altandörren", {"unlock", "cover"}, {"lock"}),
        ("lås ytterdörren", {"lock"}, {"unlock"}),
        ("ta bort 3 minuter från äggklockan", {"decrease", "timer", "from", "duration"}, {"cancel"}),
        ("ta bort timern", {"cancel", "timer"}, {"decrease"}),
        ("lägg på tio minuter till på timern", {"increase", "timer", "duration"}, {"decrease"}),
        ("avbryt 10 minuters timern", {"cancel", "sized", "timer"}, {"decrease"}),
        ("hur lång tid är det kvar på pastatimern", {"remaining", "timer"}, {"cancel"}),
        ("återuppta musiken", {"resume", "media"}, {"pause"}),
        ("pausa låten", {"pause", "media"}, {"resume"}),
        ("är lampan i hallen tänd?", {"state_q", "state_adj", "light"}, set()),
        ("vem är hemma", {"state_q"}, set()),
        ("skicka dammsugaren till laddstationen", {"dock", "vacuum"}, set()),
        ("vad ar vadret imorgon", {"weather"}, {"clock"}),
        ("hur mycket ar klockan", {"clock"}, {"weather"}),
        ("sätt ljusstyrkan till 40 %", {"level", "light", "has_number"}, set()),
    ],
)
def test_cue_classes(text: str, present: set[str], absent: set[str]) -> None:
    found = set(cues_of(text))
    assert present <= found, f"{text!r}: missing {present - found}"
    assert not (absent & found), f"{text!r}: should not have {absent & found}"


def test_cue_matrix_matches_cues_of_and_weight() -> None:
    texts = ["dra ner rullgardinen", "hej"]
    matrix = cue_matrix(texts, 0.5).toarray()
    assert matrix.shape == (2, len(NAMES))
    for row, text in zip(matrix, texts, strict=True):
        assert [NAMES[i] for i in np.flatnonzero(row)] == cues_of(text)
        assert set(row[row > 0]) <= {0.5}


def test_features_append_cue_columns_only_when_weighted() -> None:
    emb = np.ones((1, 4), dtype=np.float32) / 2
    with_cues = featurize(["stäng av tv:n"], emb, FeatureConfig(n_features=16, cue_weight=1.0))
    without = featurize(["stäng av tv:n"], emb, FeatureConfig(n_features=16, cue_weight=0.0))
    assert with_cues.shape[1] == FeatureConfig(n_features=16).width(4) == without.shape[1] + len(NAMES)
    assert with_cues[:, -len(NAMES) :].sum() == len(cues_of("stäng av tv:n"))


def test_digest_is_stable() -> None:
    assert cue_digest() == cue_digest() and len(cue_digest()) == 12


def test_linear_scores_equal_the_stacked_features_times_weights() -> None:
    rng = np.random.default_rng(0)
    texts = ["dra ner rullgardinen i köket", "hej", "ta bort 5 minuter från timern"]
    emb = rng.normal(size=(3, 8))
    config = FeatureConfig(n_features=64, cue_weight=0.7)
    coef = rng.normal(size=(5, config.width(8)))
    intercept = rng.normal(size=5)
    expected = np.asarray(featurize(texts, emb, config) @ coef.T) + intercept
    assert np.allclose(linear_scores(texts, emb, config, coef, intercept), expected)


def test_char_ngrams_equal_scikit_learns_hashing_vectorizer() -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    from nlu.features import char_ngram_matrix, typed_variant

    config = FeatureConfig()
    reference = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(config.ngram_min, config.ngram_max),
        n_features=config.n_features,
        alternate_sign=False,
        norm="l2",
        preprocessor=typed_variant,
    )
    texts = ["va e klockan", "  Sätt   en TIMER på 5 min ", "ö", "a b", "Vädret i Göteborg?", "İstanbul", ""]
    ours, theirs = char_ngram_matrix(texts, config), reference.transform(texts)
    assert ours.shape == theirs.shape
    assert abs(ours - theirs).max() < 1e-12
