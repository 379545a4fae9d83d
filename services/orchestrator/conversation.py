"""Session memory: the exchanges of one conversation (``session_id``), kept in Redis for 24 h.

Each exchange is a :class:`Turn`: the user's message as the guardian forwarded it (redacted), Alice's answer,
the route, the request id and the ids of any long-term memories it stored (so "glöm det" can take them back).

Layout (prefix ``alice:conv:``; tenant and user percent-encoded inside a ``{…}`` hash tag so one user's keys
share a Redis Cluster slot, as the memory tools' keys do):

- ``alice:conv:{<tenant>:<user>}:s:<session>``  list of turn JSON, oldest first, capped at ``max_turns``
- ``alice:conv:{<tenant>:<user>}:sessions``     sorted set: session id by the time of its last turn

Every key expires ``ttl_s`` (default 24 h) after the session's last turn; nothing reads across users. The
*working memory* is the last few turns of the list (:meth:`ConversationStore.recent`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from redis.asyncio import Redis

PREFIX = "alice:conv:"
SESSION_TTL_S = 86_400
#: The most turns kept per session (the working memory reads only the last few of them).
MAX_TURNS = 89
MAX_TEXT_CHARS = 4000

# KEYS: session list, sessions index; ARGV: turn JSON, max turns, ttl, session id, now.
_APPEND_LUA = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[5]) - tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[2], ARGV[3])
return redis.call('LLEN', KEYS[1])
"""


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation."""

    user: str
    assistant: str
    at: float
    route: str = ""
    request_id: str | None = None
    #: Ids of the long-term memories this exchange stored (``memory.store``).
    memories: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        data = asdict(self)
        data["user"] = self.user[:MAX_TEXT_CHARS]
        data["assistant"] = self.assistant[:MAX_TEXT_CHARS]
        data["memories"] = list(self.memories)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Turn:
        d = json.loads(raw)
        return cls(
            user=str(d["user"]),
            assistant=str(d["assistant"]),
            at=float(d["at"]),
            route=str(d.get("route") or ""),
            request_id=d.get("request_id"),
            memories=tuple(str(m) for m in d.get("memories") or ()),
        )


def user_base(tenant: str, user: str) -> str:
    """The prefix of every conversation key of one user."""
    return f"{PREFIX}{{{quote(tenant, safe='')}:{quote(user, safe='')}}}"


def session_key(tenant: str, user: str, session: str) -> str:
    """The list of one session's turns."""
    return f"{user_base(tenant, user)}:s:{quote(session, safe='')}"


def sessions_key(tenant: str, user: str) -> str:
    """The user's sessions, by the time of their last turn."""
    return f"{user_base(tenant, user)}:sessions"


class ConversationStore:
    """Every user's sessions in Redis (see the module docstring)."""

    def __init__(self, redis: Redis, ttl_s: int = SESSION_TTL_S, max_turns: int = MAX_TURNS) -> None:
        if ttl_s < 1 or max_turns < 1:
            raise ValueError("ttl_s and max_turns must be positive")
        # This client never decodes: replies are bytes, decoded here.
        self.redis: Any = redis
        self.ttl_s = ttl_s
        self.max_turns = max_turns
        self._append: Any = self.redis.register_script(_APPEND_LUA)

    async def append(self, tenant: str, user: str, session: str, turn: Turn) -> int:
        """Add ``turn`` to the session (dropping the oldest beyond ``max_turns``); returns the session's length."""
        keys = [session_key(tenant, user, session), sessions_key(tenant, user)]
        args = [turn.to_json(), self.max_turns, self.ttl_s, session, repr(turn.at)]
        return int(await self._append(keys=keys, args=args))

    async def recent(self, tenant: str, user: str, session: str, n: int) -> list[Turn]:
        """The session's last ``n`` turns, oldest first (unreadable entries skipped)."""
        if n < 1:
            return []
        raw = await self.redis.lrange(session_key(tenant, user, session), -n, -1)
        return _turns(raw)

    async def pop_last(self, tenant: str, user: str, session: str) -> Turn | None:
        """Remove and return the session's last turn (None when it has none)."""
        raw = await self.redis.rpop(session_key(tenant, user, session))
        turns = _turns([raw]) if raw is not None else []
        return turns[0] if turns else None

    async def sessions(self, tenant: str, user: str) -> list[tuple[str, int, float]]:
        """The user's live sessions: (id, turns, time of the last turn), newest first."""
        entries = await self.redis.zrevrange(sessions_key(tenant, user), 0, -1, withscores=True)
        ids = [raw.decode() if isinstance(raw, bytes) else str(raw) for raw, _ in entries]
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip, not one per session
            for session in ids:
                pipe.llen(session_key(tenant, user, session))
            lengths = await pipe.execute() if ids else []
        return [
            (session, int(turns), float(last))
            for session, turns, (_, last) in zip(ids, lengths, entries, strict=True)
            if turns
        ]

    async def delete_session(self, tenant: str, user: str, session: str) -> int:
        """Forget one session; returns how many turns it held."""
        key = session_key(tenant, user, session)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.llen(key)
            pipe.delete(key)
            pipe.zrem(sessions_key(tenant, user), session)
            turns, _deleted, _removed = await pipe.execute()
        return int(turns)

    async def delete_user(self, tenant: str, user: str) -> int:
        """Forget every session of the user (also ones the index lost); returns how many sessions were deleted."""
        keys = [k async for k in self.redis.scan_iter(match=glob_escape(user_base(tenant, user)) + ":*", count=500)]
        if not keys:
            return 0
        await self.redis.delete(*keys)
        return sum(1 for k in keys if (k.decode() if isinstance(k, bytes) else str(k)).rsplit(":", 2)[-2] == "s")


def glob_escape(text: str) -> str:
    """``text`` with Redis glob characters escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _turns(raw: list[bytes | str]) -> list[Turn]:
    out = []
    for item in raw:
        try:
            out.append(Turn.from_json(item))
        except (KeyError, TypeError, ValueError):
            continue  # not one of ours: ignored, never fatal
    return out
