"""The caller's own memory, as the caller sees and deletes it (any key; each key sees only its own data).

- ``GET /api/memory``: the live sessions (id, turns, last turn) and the long-term memories.
- ``GET /api/memory/sessions/{session_id}``: one session's turns, oldest first.
- ``DELETE /api/memory``: forget every trace of the caller (``orchestrator.forget.Forgetter.forget_user``);
  answers what was removed, by kind.
- ``DELETE /api/memory/sessions/{session_id}``: forget one session.

503 ``dependency_down`` without Redis (memory is off) or while it fails.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Path, Request
from redis.exceptions import RedisError

from alice.errors import DependencyDownError
from alice.signing import Claims
from orchestrator.deps import ClaimsDep
from orchestrator.forget import Forgetter

router = APIRouter(tags=["memory"])
T = TypeVar("T")
SessionId = Annotated[str, Path(min_length=1, max_length=128)]


def _forgetter(request: Request) -> Forgetter:
    forgetter = getattr(request.app.state, "forgetter", None)
    if forgetter is None:
        raise DependencyDownError("Conversation memory is off (it needs REDIS_URL).", retry_after=60)
    return cast(Forgetter, forgetter)


async def _redis(call: Awaitable[T]) -> T:
    try:
        return await call
    except (RedisError, OSError):
        raise DependencyDownError("The memory store (Redis) is unavailable.", retry_after=5) from None


def _who(claims: Claims) -> dict[str, str]:
    return {"tenant": claims.tenant, "user": claims.key_id}


@router.get("/api/memory")
async def memory(request: Request, claims: ClaimsDep) -> dict[str, Any]:
    """What Alice holds about the caller: sessions and long-term memories."""
    forgetter = _forgetter(request)
    now = datetime.now(UTC)
    sessions = (
        await _redis(forgetter.conversations.sessions(claims.tenant, claims.key_id)) if forgetter.conversations else []
    )
    memories = await _redis(forgetter.bank.all(claims.tenant, claims.key_id)) if forgetter.bank else []
    return {
        **_who(claims),
        "sessions": [
            {"id": sid, "turns": turns, "last": datetime.fromtimestamp(last, UTC).isoformat()}
            for sid, turns, last in sessions
        ],
        "memories": [m.describe(now) for m, _ in memories],
    }


@router.get("/api/memory/sessions/{session_id}")
async def session(request: Request, claims: ClaimsDep, session_id: SessionId) -> dict[str, Any]:
    """One of the caller's sessions, turn by turn."""
    forgetter = _forgetter(request)
    store = forgetter.conversations
    turns = await _redis(store.recent(claims.tenant, claims.key_id, session_id, store.max_turns)) if store else []
    return {
        **_who(claims),
        "session_id": session_id,
        "turns": [
            {
                "user": t.user,
                "assistant": t.assistant,
                "at": datetime.fromtimestamp(t.at, UTC).isoformat(),
                "route": t.route,
                "request_id": t.request_id,
            }
            for t in turns
        ],
    }


@router.delete("/api/memory")
async def forget_me(request: Request, claims: ClaimsDep) -> dict[str, Any]:
    """Forget every trace of the caller; answers how much of each kind was removed."""
    removed = await _redis(_forgetter(request).forget_user(claims.tenant, claims.key_id))
    return {**_who(claims), "removed": removed}


@router.delete("/api/memory/sessions/{session_id}")
async def forget_session(request: Request, claims: ClaimsDep, session_id: SessionId) -> dict[str, Any]:
    """Forget one of the caller's sessions."""
    removed = await _redis(_forgetter(request).forget_session(claims.tenant, claims.key_id, session_id))
    return {**_who(claims), "session_id": session_id, "removed": removed}
