"""Ollama ``options`` and ``format`` turned into llama-cpp-python sampling arguments and a GBNF grammar.

Defaults are Ollama's (temperature 0.8, top_k 40, top_p 0.9, min_p 0, repeat_penalty 1.1), not
llama-cpp-python's, so a request means the same thing here as on a real Ollama. A request without a seed
gets a fresh random one: llama-cpp-python would otherwise keep the last request's seed.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from alice.errors import BadRequestError
from modelserver.schemas import FormatValue, GenerationOptions

SEED_LIMIT = 2**31


@dataclass(frozen=True)
class Sampling:
    """Everything llama-cpp-python needs to sample one reply."""

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.0
    typical_p: float = 1.0
    tfs_z: float = 1.0
    repeat_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    mirostat_mode: int = 0
    mirostat_tau: float = 5.0
    mirostat_eta: float = 0.1
    seed: int = 0
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    ignored: tuple[str, ...] = field(default=(), compare=False)

    def llama_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``create_completion`` / ``create_chat_completion``."""
        return {
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "min_p": self.min_p,
            "typical_p": self.typical_p,
            "tfs_z": self.tfs_z,
            "repeat_penalty": self.repeat_penalty,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "mirostat_mode": self.mirostat_mode,
            "mirostat_tau": self.mirostat_tau,
            "mirostat_eta": self.mirostat_eta,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
        }


def _max_tokens(num_predict: int | None) -> int | None:
    """Ollama: -1 = until the model stops, -2 = fill the context; llama-cpp-python: None = the rest of it."""
    if num_predict is None or num_predict < 0:
        return None
    return num_predict


def _stop(value: list[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    return tuple(s for s in items if s)


def sampling_from_options(options: GenerationOptions | None) -> Sampling:
    """Map Ollama options onto :class:`Sampling`; unknown and load-time keys are listed in ``ignored``."""
    opts = options or GenerationOptions()
    base = Sampling()
    pick = opts.model_dump(exclude_none=True)
    extra = sorted((opts.model_extra or {}).keys())
    if opts.num_predict == 0:
        raise BadRequestError("options.num_predict must not be 0 (use -1 for no limit)")
    return Sampling(
        temperature=pick.get("temperature", base.temperature),
        top_k=pick.get("top_k", base.top_k),
        top_p=pick.get("top_p", base.top_p),
        min_p=pick.get("min_p", base.min_p),
        typical_p=pick.get("typical_p", base.typical_p),
        tfs_z=pick.get("tfs_z", base.tfs_z),
        repeat_penalty=pick.get("repeat_penalty", base.repeat_penalty),
        presence_penalty=pick.get("presence_penalty", base.presence_penalty),
        frequency_penalty=pick.get("frequency_penalty", base.frequency_penalty),
        mirostat_mode=pick.get("mirostat", base.mirostat_mode),
        mirostat_tau=pick.get("mirostat_tau", base.mirostat_tau),
        mirostat_eta=pick.get("mirostat_eta", base.mirostat_eta),
        seed=opts.seed if opts.seed is not None and opts.seed >= 0 else secrets.randbelow(SEED_LIMIT),
        max_tokens=_max_tokens(opts.num_predict),
        stop=_stop(opts.stop),
        ignored=tuple(extra),
    )


def grammar_for_format(fmt: FormatValue) -> str | None:
    """GBNF that forces valid JSON: any object for ``"json"``, the schema's shape for a schema; else None."""
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return JSON_GBNF
    if not isinstance(fmt, dict):
        raise BadRequestError('format must be "json" or a JSON schema object')
    try:
        return json_schema_to_gbnf(json.dumps(fmt))
    except Exception as exc:  # noqa: BLE001 - the converter raises bare Exceptions for unsupported schemas
        raise BadRequestError(f"format: unsupported JSON schema ({exc})") from None
