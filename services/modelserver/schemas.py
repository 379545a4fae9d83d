"""Request and response bodies of the Ollama API subset, shaped like Ollama's own (``docs/api.md``).

Unknown fields are ignored, as Ollama does, so newer clients keep working; fields whose meaning this server
cannot honour (images, tools, a custom template) are accepted here and refused by the handlers with a 400.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["system", "user", "assistant", "tool"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChatMessage(_Lenient):
    """One chat message; ``content`` may be omitted (the official client drops empty fields)."""

    role: Role
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_name: str | None = None


class GenerationOptions(BaseModel):
    """Ollama's ``options``. Load-time ones (``num_ctx``, ``num_thread``, …) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    seed: int | None = None
    num_predict: int | None = Field(default=None, ge=-2)
    temperature: float | None = Field(default=None, ge=0)
    top_k: int | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    min_p: float | None = Field(default=None, ge=0, le=1)
    typical_p: float | None = Field(default=None, ge=0, le=1)
    tfs_z: float | None = Field(default=None, ge=0)
    repeat_penalty: float | None = Field(default=None, ge=0)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    mirostat: Literal[0, 1, 2] | None = None
    mirostat_tau: float | None = Field(default=None, ge=0)
    mirostat_eta: float | None = Field(default=None, ge=0)
    stop: list[str] | str | None = None


FormatValue = str | dict[str, Any] | None


def _check_format(value: FormatValue) -> FormatValue:
    if isinstance(value, str) and value not in ("", "json"):
        raise ValueError('format must be "json" or a JSON schema object')
    return value


class _GenerationRequest(_Lenient):
    model: str = Field(min_length=1)
    stream: bool = True
    format: FormatValue = None
    options: GenerationOptions | None = None
    keep_alive: float | str | None = None
    think: bool | str | None = None

    @field_validator("format")
    @classmethod
    def _format(cls, value: FormatValue) -> FormatValue:
        return _check_format(value)


class ChatRequest(_GenerationRequest):
    """``POST /api/chat``."""

    messages: list[ChatMessage] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None


class GenerateRequest(_GenerationRequest):
    """``POST /api/generate``."""

    prompt: str = ""
    system: str | None = None
    raw: bool = False
    suffix: str | None = None
    template: str | None = None
    context: list[int] | None = None
    images: list[str] | None = None


class EmbedRequest(_Lenient):
    """``POST /api/embed``: one text or a list."""

    model: str = Field(min_length=1)
    input: str | list[str]
    truncate: bool = True
    options: dict[str, Any] | None = None
    keep_alive: float | str | None = None
    dimensions: int | None = Field(default=None, ge=1)


class EmbeddingsRequest(_Lenient):
    """``POST /api/embeddings`` (Ollama's older, single-text endpoint)."""

    model: str = Field(min_length=1)
    prompt: str = ""
    options: dict[str, Any] | None = None
    keep_alive: float | str | None = None


class ShowRequest(_Lenient):
    """``POST /api/show`` (``name`` is the older spelling of ``model``)."""

    model: str = ""
    name: str = ""
    verbose: bool = False

    @property
    def model_name(self) -> str:
        return self.model or self.name


class Usage(BaseModel):
    """The usage fields of a final object (nanoseconds and token counts)."""

    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatResponse(Usage):
    """One object of a chat stream, or the whole reply with ``stream: false``."""

    model: str
    created_at: str
    message: AssistantMessage
    done: bool
    done_reason: str | None = None


class GenerateResponse(Usage):
    """One object of a generate stream, or the whole reply with ``stream: false``."""

    model: str
    created_at: str
    response: str
    done: bool
    done_reason: str | None = None


class EmbedResponse(BaseModel):
    model: str
    embeddings: list[list[float]]
    total_duration: int
    load_duration: int
    prompt_eval_count: int


class EmbeddingsResponse(BaseModel):
    embedding: list[float]


class ModelDetails(BaseModel):
    parent_model: str = ""
    format: str
    family: str
    families: list[str]
    parameter_size: str
    quantization_level: str


class ModelEntry(BaseModel):
    """One model in ``GET /api/tags`` and ``GET /api/ps``."""

    name: str
    model: str
    modified_at: str
    size: int
    digest: str
    details: ModelDetails


class TagsResponse(BaseModel):
    models: list[ModelEntry]


class ShowResponse(BaseModel):
    modelfile: str
    parameters: str
    template: str
    license: str
    details: ModelDetails
    model_info: dict[str, Any]
    capabilities: list[str]
    modified_at: str


class VersionResponse(BaseModel):
    version: str
