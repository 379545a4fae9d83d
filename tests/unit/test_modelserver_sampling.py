"""Ollama options and format → llama-cpp-python sampling arguments and grammar (no model loaded)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alice.errors import BadRequestError
from modelserver.sampling import Sampling, grammar_for_format, sampling_from_options
from modelserver.schemas import ChatRequest, GenerationOptions


def test_defaults_are_ollamas_not_llama_cpp_pythons() -> None:
    s = sampling_from_options(None)
    assert (s.temperature, s.top_k, s.top_p, s.min_p, s.repeat_penalty) == (0.8, 40, 0.9, 0.0, 1.1)
    assert s.max_tokens is None
    assert s.stop == ()


def test_options_map_onto_llama_kwargs() -> None:
    opts = GenerationOptions(temperature=0, num_predict=12, seed=7, stop=["\n\n", ""], top_p=0.5, top_k=3)
    kwargs = sampling_from_options(opts).llama_kwargs()
    assert kwargs["temperature"] == 0
    assert kwargs["max_tokens"] == 12
    assert kwargs["seed"] == 7
    assert kwargs["stop"] == ["\n\n"]  # empty stop strings would stop at once
    assert (kwargs["top_p"], kwargs["top_k"]) == (0.5, 3)


def test_mirostat_and_single_stop_string() -> None:
    s = sampling_from_options(GenerationOptions(mirostat=2, mirostat_tau=3.0, stop="END"))
    assert (s.mirostat_mode, s.mirostat_tau, s.stop) == (2, 3.0, ("END",))


@pytest.mark.parametrize("num_predict", [-1, -2, None])
def test_unlimited_num_predict_means_rest_of_context(num_predict: int | None) -> None:
    assert sampling_from_options(GenerationOptions(num_predict=num_predict)).max_tokens is None


def test_num_predict_zero_is_refused() -> None:
    with pytest.raises(BadRequestError, match="num_predict"):
        sampling_from_options(GenerationOptions(num_predict=0))


def test_without_seed_each_request_gets_its_own() -> None:
    seeds = {sampling_from_options(None).seed for _ in range(20)}
    assert len(seeds) > 1


def test_load_time_and_unknown_options_are_reported_as_ignored() -> None:
    opts = GenerationOptions.model_validate({"num_ctx": 8192, "num_thread": 4, "temperature": 0.1})
    s = sampling_from_options(opts)
    assert s.ignored == ("num_ctx", "num_thread")
    assert s.temperature == 0.1


def test_bad_option_types_fail_validation() -> None:
    with pytest.raises(ValidationError):
        GenerationOptions.model_validate({"temperature": "hot"})
    with pytest.raises(ValidationError):
        GenerationOptions.model_validate({"top_p": 1.5})


def test_no_format_no_grammar() -> None:
    assert grammar_for_format(None) is None
    assert grammar_for_format("") is None


def test_json_format_gives_an_object_grammar() -> None:
    grammar = grammar_for_format("json")
    assert grammar is not None
    assert "root" in grammar and "object" in grammar


def test_schema_format_gives_a_grammar_naming_its_properties() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    }
    grammar = grammar_for_format(schema)
    assert grammar is not None
    assert '\\"city\\"' in grammar and '\\"days\\"' in grammar


def test_unsupported_schema_is_a_400() -> None:
    with pytest.raises(BadRequestError, match="unsupported JSON schema"):
        grammar_for_format({"type": "object", "properties": {"x": {"$ref": "#/nowhere"}}})


def test_unknown_format_string_is_refused_at_parse_time() -> None:
    with pytest.raises(ValidationError, match="format must be"):
        ChatRequest.model_validate({"model": "m", "messages": [], "format": "xml"})


def test_sampling_is_comparable_without_ignored() -> None:
    assert Sampling(seed=1, ignored=("a",)) == Sampling(seed=1)
