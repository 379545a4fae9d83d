"""Token and time accounting of one generation, with an injected clock."""

from __future__ import annotations

from modelserver.meter import GenerationMeter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_prompt_tokens_evaluated_vs_reused_and_ollama_durations() -> None:
    clock = Clock()
    meter = GenerationMeter(clock)  # accepted at 100.0
    clock.now = 100.5
    meter.start()  # waited 0.5 s for the worker
    meter.on_eval(12)  # only the suffix: 88 of 100 prompt tokens came from the KV cache
    clock.now = 101.0
    meter.on_sample(100)
    for _ in range(4):
        meter.on_eval(1)
        meter.on_sample(101)
    clock.now = 102.0
    stats = meter.finish()
    assert (stats.prompt_tokens, stats.prompt_evaluated, stats.prompt_cached) == (100, 12, 88)
    assert stats.generated == 5
    assert stats.time_to_first_token_s == 1.0
    assert stats.tokens_per_second == 4.0  # 4 tokens after the first, in one second
    fields = stats.ollama_fields()
    assert fields == {
        "total_duration": 2_000_000_000,
        "load_duration": 0,
        "prompt_eval_count": 12,
        "prompt_eval_duration": 500_000_000,
        "eval_count": 5,
        "eval_duration": 1_000_000_000,
    }


def test_nothing_sampled_has_no_speed_or_first_token() -> None:
    clock = Clock()
    meter = GenerationMeter(clock)
    meter.start()
    meter.on_eval(7)
    clock.now = 101.0
    stats = meter.finish()
    assert stats.generated == 0
    assert stats.time_to_first_token_s is None
    assert stats.tokens_per_second is None
    assert stats.prompt_tokens == 7
