"""What the guardian's handlers need, built once per app by the lifespan (the composition root)."""

from __future__ import annotations

from dataclasses import dataclass

from guardian.audit import Auditor
from guardian.keys import KeyStore
from guardian.policy import Pipeline
from guardian.settings import GuardianSettings
from guardian.upstream import Upstream


@dataclass(frozen=True)
class Gateway:
    """Settings, keys, the route pipelines, the orchestrator client and the audit trail."""

    settings: GuardianSettings
    keys: KeyStore
    upstream: Upstream
    chat: Pipeline
    status: Pipeline
    feedback: Pipeline
    monitoring: Pipeline
    cache_invalidate: Pipeline
    cache_flush: Pipeline
    drafts: Pipeline
    memory: Pipeline
    auditor: Auditor
