"""``alice bench peers`` end to end in miniature: the fixed backend directly and behind Alice's whole mesh (no
LiteLLM or GPTCache: installing them is no test's business); the JSON holds what docs/PERFORMANCE.md reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from procs import REPO

pytestmark = [pytest.mark.e2e]

# general-knowledge questions (the LLM answers them, no tool) and a rewording of each
PAIRS = [
    ("Vad är fotosyntes?", "Kan du förklara vad fotosyntes är?"),
    ("Varför är himlen blå?", "Varför ser himlen blå ut?"),
    ("Vem skrev Röda rummet?", "Vem är författare till Röda rummet?"),
    ("Vad är en svart hål?", "Vad menas med ett svart hål?"),
    ("Hur fungerar en vindturbin?", "Hur fungerar ett vindkraftverk?"),
    ("Vad är demokrati?", "Vad betyder demokrati?"),
    ("Varför har vi årstider?", "Varför finns det årstider?"),
    ("Vad är skillnaden mellan virus och bakterier?", "Hur skiljer sig virus från bakterier?"),
    ("Vem var Gustav Vasa?", "Vem var kung Gustav Vasa?"),
    ("Vad är inflation?", "Vad innebär inflation?"),
    ("Hur bildas regnbågar?", "Hur uppstår en regnbåge?"),
    ("Vad gör mitokondrier?", "Vilken funktion har mitokondrier?"),
]


def test_a_tiny_peers_run_measures_alice_against_the_direct_call(tmp_path: Path) -> None:
    data = tmp_path / "pairs.dev.jsonl"
    data.write_text("".join(json.dumps({"a": a, "b": b, "label": 1}, ensure_ascii=False) + "\n" for a, b in PAIRS))
    args = ["--targets", "direct,alice", "--no-semantic", "--concurrency", "1,2", "--requests", "6"]
    run = subprocess.run(
        [sys.executable, "-m", "alice.cli", "bench", "peers", *args, "--delay", "0.05", "--data", str(data)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "peers: c=2 alice" in run.stderr  # progress on stderr, the JSON alone on stdout
    result = json.loads(run.stdout.strip().splitlines()[-1])
    gateways = result["gateways"]
    for level in ("c1", "c2"):
        direct, alice = gateways[level]["direct"], gateways[level]["alice"]
        assert direct["all"]["errors"] == 0 and alice["all"]["errors"] == 0
        assert direct["all"]["hit_share"] == 0.0
        assert direct["backend_calls_per_request"] == 1.0
        assert alice["repeat"]["hit_share"] == 1.0  # the exact tier answers every repeat
        assert alice["new"]["hit_share"] == 0.0
        assert alice["hits"]["p50_ms"] < direct["all"]["p50_ms"]  # a hit never waits for the backend
        assert alice["cpu_s_per_1k"] > 0 and direct["cpu_s_per_1k"] is not None
        assert alice["vs_direct"]["added_ms"]["new"]["p50"] > 0  # a miss pays for the gateway
        assert set(alice["routes"]) <= {"micro", "planner", "deep", "cache"}
    assert "litellm" not in gateways["c1"] and "semantic_cache" not in result
