"""The real NLU service as a uvicorn subprocess: trains its model at start in a fresh directory, then parses
Swedish through HTTP like the orchestrator does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from procs import Proc, start_service, wait_http

pytestmark = pytest.mark.timeout(900)

READY_TIMEOUT_S = 600.0


def _start(log_dir: Path, model_dir: Path) -> Proc:
    env = {"NLU_MODEL_DIR": str(model_dir), "ALICE_LOG_FORMAT": "json", "ALICE_HOME": str(log_dir)}
    proc = start_service("nlu", "nlu.app:create_app", log_dir, env=env)
    wait_http(proc, "/ready", READY_TIMEOUT_S)
    return proc


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nlu-models")


@pytest.fixture(scope="module")
def nlu(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Proc]:
    proc = _start(tmp_path_factory.mktemp("nlu-logs"), model_dir)
    yield proc
    proc.stop()


def _parse(nlu: Proc, text: str, **extra: object) -> dict[str, object]:
    r = httpx.post(f"{nlu.url}/api/nlu/parse", json={"text": text, **extra}, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


@pytest.mark.parametrize(
    ("text", "intent", "route"),
    [
        ("Hej Alice!", "greeting.hello", "micro"),
        ("vad är klockan", "time.now", "tool"),
        ("sätt en timer på fem minuter", "timer.set", "tool"),
        ("hur blir vädret i Göteborg imorgon", "weather.lookup", "tool"),
    ],
)
def test_swedish_examples(nlu: Proc, text: str, intent: str, route: str) -> None:
    body = _parse(nlu, text)
    assert body["intent"]["label"] == intent, body["intent"]  # type: ignore[index]
    assert body["route_hint"] == route
    assert 0.5 <= body["intent"]["confidence"] <= 1.0  # type: ignore[index,operator]
    alternatives = body["alternatives"]
    assert isinstance(alternatives, list) and len(alternatives) == 3
    assert intent not in {a["label"] for a in alternatives}


def test_response_shape_embedding_entities_and_timings(nlu: Proc) -> None:
    body = _parse(nlu, "sätt en timer på fem minuter")
    embedding = body["embedding"]
    assert isinstance(embedding, list) and len(embedding) == 384
    assert abs(sum(v * v for v in embedding) - 1.0) < 1e-3
    assert body["entities"] == [{"type": "duration", "value": 300, "text": "fem minuter", "start": 17, "end": 28}]
    timings = body["timings_ms"]
    assert isinstance(timings, dict) and timings["total"] >= timings["embed"] > 0
    assert str(body["model_version"]).startswith("nlu-")


def test_embedding_can_be_left_out(nlu: Proc) -> None:
    body = _parse(nlu, "tänd lampan i köket", include_embedding=False)
    assert "embedding" not in body
    assert body["intent"]["label"] == "home.control"  # type: ignore[index]


def test_gibberish_goes_to_the_planner_as_out_of_scope(nlu: Proc) -> None:
    body = _parse(nlu, "qwpoeiru zxmcnv asdjkl")
    assert body["intent"]["label"] == "out_of_scope"  # type: ignore[index]
    assert body["route_hint"] == "planner"


@pytest.mark.parametrize("payload", [{"text": ""}, {"text": "   "}, {}, {"text": "x" * 2001}])
def test_invalid_text_is_a_422_problem(nlu: Proc, payload: dict[str, str]) -> None:
    r = httpx.post(f"{nlu.url}/api/nlu/parse", json=payload, timeout=10)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "validation_failed" and problem["status"] == 422
    assert problem["request_id"] == r.headers["x-request-id"]


def test_batch_parses_in_order(nlu: Proc) -> None:
    texts = ["Hej Alice!", "avbryt timern", "skriv ett mejl till anna@example.com"]
    r = httpx.post(f"{nlu.url}/api/nlu/parse/batch", json={"texts": texts, "include_embedding": False}, timeout=30)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["intent"]["label"] for x in results] == ["greeting.hello", "timer.cancel", "email.create_draft"]
    assert results[2]["entities"][0]["value"] == "anna@example.com"
    assert all("embedding" not in x for x in results)
    too_many = httpx.post(f"{nlu.url}/api/nlu/parse/batch", json={"texts": ["hej"] * 65}, timeout=10)
    assert too_many.status_code == 422


def test_intents_listing(nlu: Proc) -> None:
    body = httpx.get(f"{nlu.url}/api/nlu/intents", timeout=10).json()
    labels = {i["label"]: i for i in body["intents"]}
    assert len(labels) == 16 and all(i["trained"] for i in labels.values())
    assert labels["info.query"]["route_hint"] == "deep"
    assert 0.0 <= body["min_confidence"] <= 1.0


def test_metrics_count_intents_and_latency(nlu: Proc) -> None:
    _parse(nlu, "vilket datum är det idag")
    text = httpx.get(f"{nlu.url}/metrics", timeout=10).text
    assert 'alice_nlu_intent_total{intent="date.today",route_hint="tool"}' in text
    assert 'alice_nlu_classify_duration_seconds_bucket{le="0.001",stage="classify"}' in text
    assert "alice_nlu_model_info{version=" in text


def test_restart_loads_the_saved_artifact_instead_of_training(
    nlu: Proc, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    artifacts = sorted(p.name for p in model_dir.iterdir())
    version = _parse(nlu, "hej")["model_version"]
    assert artifacts == [f"{version}.json", f"{version}.npz"]
    started = time.monotonic()
    second = _start(tmp_path_factory.mktemp("nlu-logs-2"), model_dir)
    try:
        assert time.monotonic() - started < 60
        assert "nlu_model_loading" in second.log_text() and "nlu_train_done" not in second.log_text()
        assert _parse(second, "hej")["model_version"] == version
    finally:
        second.stop()
