"""The services the scaler watches, and the ``service=value,…`` form of its per-service settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

ORCHESTRATOR = "orchestrator"
NLU = "nlu"
#: The LLM servers (the bundled modelserver, or any Ollama-API server): one replica per server.
MODELSERVER = "modelserver"
SERVICES = (ORCHESTRATOR, NLU, MODELSERVER)

N = TypeVar("N", int, float)


def parse_service_map(value: Any, cast: Callable[[str], N]) -> dict[str, N] | Any:
    """``"nlu=2, modelserver=3"`` as ``{"nlu": 2, "modelserver": 3}``; a dict passes through to validation.

    Raises ValueError (pydantic turns it into a settings error naming the variable) for an unknown service, a
    malformed pair or a value that is not a positive number.
    """
    if not isinstance(value, str):
        return value
    out: dict[str, N] = {}
    for pair in (p.strip() for p in value.replace(";", ",").split(",")):
        if not pair:
            continue
        name, sep, raw = (s.strip() for s in pair.partition("="))
        if not sep or name not in SERVICES:
            raise ValueError(f"expected service=value pairs with services from {', '.join(SERVICES)}; got {pair!r}")
        try:
            number = cast(raw)
        except ValueError:
            raise ValueError(f"{name}: {raw!r} is not a number") from None
        if not number > 0:
            raise ValueError(f"{name}: must be > 0")
        out[name] = number
    return out
