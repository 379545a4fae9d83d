"""The pure parts of ``alice bench peers``: the mix, the report's arithmetic, GPTCache's threshold mapping."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from alice.cli import peersinstall
from alice.cli.fixedbackend import FixedLatencyServer
from alice.cli.peerscache import cosine_for, protocol, rates, sweep, threshold_for
from alice.cli.peersload import direct_target, run_phase
from alice.cli.peersmix import Prompt, Timed, added, build_mix, compare, llm_pairs, percentile, ratio, summarise
from alice.cli.peerstargets import litellm_config

PAIRS = [(f"fråga {i}", f"Fråga nummer {i}?") for i in range(40)]


def test_llm_pairs_drops_tool_questions_exact_lookalikes_and_reused_texts() -> None:
    pairs = [("Vad är AI?", "vad är ai"), ("Hur blir vädret?", "Blir det regn?"), ("Vad är ett moln?", "Moln?"),
             ("Vad är ett moln?", "Vad betyder moln?"), ("Vem var Palme?", "Vem var Olof Palme?")]  # fmt: skip
    got = llm_pairs(pairs, lambda text: "väder" not in text and "regn" not in text, lambda t: t.casefold().strip("?"))
    assert got == [("Vad är ett moln?", "Moln?"), ("Vem var Palme?", "Vem var Olof Palme?")]


def test_build_mix_gives_each_level_its_own_pairs_news_first() -> None:
    warmup, mix = build_mix(PAIRS, per_kind=10, levels=[1, 8, 32])
    assert len(warmup.news) == 8
    texts = [p.text for p in warmup.news] + [p.text for phase in mix.values() for p in phase.news]
    assert len(texts) == len(set(texts)) == 38
    for phase in mix.values():
        assert {p.kind for p in phase.news} == {"new"}
        kinds = [p.kind for p in phase.followups]
        assert kinds.count("repeat") == kinds.count("paraphrase") == 10
        assert {p.text for p in phase.followups if p.kind == "repeat"} == {p.text for p in phase.news}
        paraphrased = {b for a, b in PAIRS if a in {p.text for p in phase.news}}
        assert {p.text for p in phase.followups if p.kind == "paraphrase"} == paraphrased
    assert build_mix(PAIRS, 10, [1, 8, 32]) == (warmup, mix)  # seeded: every target gets the same lists


def test_build_mix_refuses_too_few_pairs() -> None:
    with pytest.raises(ValueError, match="need 38 usable pairs"):
        build_mix(PAIRS[:30], per_kind=10, levels=[1, 8, 32])


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) is None


def test_summarise_counts_hits_errors_rates_and_cpu() -> None:
    rows = [Timed("new", 210.0, 200, False, route="deep"), Timed("repeat", 10.0, 200, True, "exact"),
            Timed("paraphrase", 40.0, 200, True, "semantic"), Timed("paraphrase", 0.0, 0, False)]  # fmt: skip
    got = summarise(rows, wall_s=2.0, cpu_s=0.5)
    assert got["rps"] == 2.0
    assert got["cpu_s_per_1k"] == 125.0
    assert got["all"]["errors"] == 1
    assert got["paraphrase"]["error_statuses"] == {"0": 1}
    assert got["all"]["hit_share"] == round(2 / 3, 3)
    assert got["paraphrase"]["hits_by_kind"] == {"semantic": 1}
    assert got["hits"]["n"] == 2
    assert got["hits"]["p95_ms"] == 40.0
    assert got["routes"] == {"deep": 1}


def test_added_latency_and_ratios_against_the_direct_call() -> None:
    direct = summarise([Timed(k, 200.0, 200, False) for k in ("new", "repeat", "paraphrase")], 3.0, 0.03)
    target = summarise(
        [Timed("new", 250.0, 200, False), Timed("repeat", 20.0, 200, True), Timed("paraphrase", 260.0, 200, False)],
        1.0,
        0.3,
    )
    got = compare(target, direct)
    assert got["added_ms"]["new"]["p50"] == 50.0
    assert got["added_ms"]["repeat"]["p95"] == -180.0
    assert got["ratio_to_direct"]["repeat"]["p50"] == 0.1
    assert got["ratio_to_direct"]["rps"] == 3.0
    assert got["ratio_to_direct"]["cpu_s_per_1k"] == 10.0
    assert ratio(1.0, 0.0) is None
    assert added(None, 1.0) is None


@pytest.mark.parametrize(("threshold", "max_distance", "cos"), [(0.8, 4.0, 0.6), (0.98, 4.0, 0.96), (0.95, 2.0, 0.95)])
def test_gptcache_threshold_maps_to_a_cosine_floor(threshold: float, max_distance: float, cos: float) -> None:
    assert cosine_for(threshold, max_distance) == pytest.approx(cos)
    assert threshold_for(cos, max_distance) == pytest.approx(threshold)


def test_the_mapping_agrees_with_gptcaches_rule_on_unit_vectors() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=32)
    base /= np.linalg.norm(base)
    threshold, max_distance = 0.97, 4.0
    for scale in np.linspace(0.05, 1.5, 60):
        other = base + scale * rng.normal(size=32) / math.sqrt(32)
        other /= np.linalg.norm(other)
        d2 = float(np.sum((base - other) ** 2))  # faiss IndexFlatL2 returns the squared distance
        rank = max_distance - min(max(d2, 0.0), max_distance)  # SearchDistanceEvaluation(positive=False)
        hit = rank >= max_distance * threshold  # GPTCache's adapter: rank >= (max - min) * T
        assert hit == (float(base @ other) >= cosine_for(threshold, max_distance) - 1e-9)


def test_protocol_leaves_out_lookups_that_would_be_exact() -> None:
    pairs = [("a1", "b1", 1), ("a2", "a1", 0), ("a1", "a1", 1), ("a3", "b3", 0)]
    stored, lookups = protocol(pairs)
    assert stored == ["a1", "a2", "a3"]
    assert lookups == [("a1", "b1", 1), ("a3", "b3", 0)]


def test_rates_split_own_and_other_hits() -> None:
    got = rates([0, 5, None, 2], own=[0, 1, 2, 2], labels=[1, 1, 0, 0])
    assert got["hit_rate"] == 0.5
    assert got["false_hit_rate"] == 0.5
    assert got["other_hit_rate"] == 0.25


def test_sweep_finds_the_threshold_with_the_wanted_hit_rate() -> None:
    rank = [3.96, 3.9, 3.8, 3.7, 3.95]  # ranks of the best candidates (max_distance 4)
    answers = [0, 1, 2, 3, 4]
    own, labels = [0, 1, 2, 3, 4], [1, 1, 1, 1, 0]
    threshold, got = sweep(rank, answers, own, labels, "hit_rate", 0.5)
    assert got["hit_rate"] == 0.5
    assert 3.8 < 4.0 * threshold <= 3.9
    assert got["false_hit_rate"] == 1.0


def test_litellm_config_is_offline_with_a_redis_cache() -> None:
    config = litellm_config("http://127.0.0.1:1", 6390)
    settings = config["litellm_settings"]
    assert isinstance(settings, dict)
    assert settings["cache_params"] == {"type": "redis", "host": "127.0.0.1", "port": 6390, "ttl": 3600}
    assert config["model_list"] == [
        {"model_name": "fixed", "litellm_params": {"model": "ollama_chat/fixed", "api_base": "http://127.0.0.1:1"}}
    ]


def test_a_peer_counts_as_installed_only_with_the_same_pins(tmp_path: Path) -> None:
    venv = peersinstall.venv_dir(tmp_path, "gptcache")
    assert not peersinstall.installed(tmp_path, "gptcache")
    venv.mkdir(parents=True)
    (venv / "alice-pins.txt").write_text("gptcache==0.0.1\n")
    assert not peersinstall.installed(tmp_path, "gptcache")
    (venv / "alice-pins.txt").write_text("\n".join(peersinstall.PINS["gptcache"]) + "\n")
    assert peersinstall.installed(tmp_path, "gptcache")


def test_a_phase_sends_every_prompt_within_its_bounds() -> None:
    server = FixedLatencyServer(0, delay_s=0.02)
    server.start()
    try:
        prompts = [Prompt("new", f"fråga {i}") for i in range(12)]
        rows, _ = run_phase(direct_target(server.url), prompts, concurrency=4, budget_s=30)
        assert len(rows) == 12 and all(r.status == 200 and not r.hit for r in rows)
        assert server.stats()["generations"] == 12
        late, _ = run_phase(direct_target(server.url), prompts, concurrency=4, budget_s=0)
        assert [r.status for r in late] == [0] * 12  # past the deadline nothing is sent
        assert server.stats()["generations"] == 12
    finally:
        server.shutdown()
        server.server_close()
