"""Forgetting: "glöm det", "glöm allt om mig", "glöm att …" in a chat, and ``DELETE /api/memory``.

What a user can ask, read by rules before the cache and the NLU (a forget request is never cached, and never
misread as another intent: "glöm det" is small talk to the NLU, "glöm timern" stays a timer command):

- **last** ("glöm det", "glöm det där", "glöm vad jag just sa"): the session's previous exchange is removed from
  session memory, with any long-term memory it stored. Without a session: the user's newest memory, if it was
  stored in the last ``recent_s`` seconds (default 10 min).
- **about** ("glöm att min portkod är 4512", "glöm bort portkoden"): the user's memories whose words match.
- **all** ("glöm allt", "glöm allt om mig"): every trace of the user, as :meth:`Forgetter.forget_user`.

:meth:`Forgetter.forget_user` deletes, for one tenant and user: every session, every long-term memory and list,
the timers, the drafts (calendar, e-mail) the user made, the stored idempotent answers, and whatever the
``extra`` erasers hold (the warming telemetry). Nothing else in Redis holds a user's text: the answer cache never
stores memory, timer, draft or context-dependent answers, and logs and audit entries never hold text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from orchestrator.conversation import ConversationStore, glob_escape
from orchestrator.idempotency import owner
from orchestrator.tools.drafts import DRAFT_KEY_PREFIX
from orchestrator.tools.memory import MemoryBank, fold, memory_keys
from orchestrator.tools.timers import timer_key

Scope = Literal["last", "about", "all"]
#: Erases one kind of a user's data elsewhere (tenant, user) → how many items it removed.
Eraser = Callable[[str, str], Awaitable[int]]

RECENT_S: Final = 600.0
_LEAD: Final = r"^\s*(?:(?:hej\s+)?alice[,:]?\s+)?(?:(?:kan du|snalla|vill du|jag vill att du)\s+)*"
_TAIL: Final = r"(?:\s+(?:tack|snalla|igen))?\s*[.!]*\s*$"
_ALL_RE: Final = re.compile(
    _LEAD
    + r"glom\s+(?:bort\s+)?allt(?:\s+(?:om mig|du vet om mig|du vet|jag (?:har )?sagt|vi (?:har )?pratat om))?"
    + _TAIL
)
_LAST_RE: Final = re.compile(
    _LEAD + r"glom\s+(?:bort\s+)?(?:det(?:\s+(?:dar|har|sista))?|det jag (?:just )?sa|vad jag (?:just )?sa"
    r"|det senaste|sista(?:\s+meddelandet)?)" + _TAIL
)
_ABOUT_RE: Final = re.compile(_LEAD + r"glom\s+(?:bort\s+att|att|bort)\s+(?P<what>.+?)" + _TAIL)
_WORD_RE: Final = re.compile(r"\w+")
#: Words that say nothing about which memory is meant.
_FILLER: Final = frozenset("min mitt mina din ditt att jag du ar det den en ett och som pa i".split())


@dataclass(frozen=True)
class ForgetRequest:
    """What a forget message asks for."""

    scope: Scope
    what: str = ""


def parse_forget(text: str) -> ForgetRequest | None:
    """The forget request in ``text``, or None when it is none ("glöm inte att …" stores; "glöm timern" is a
    timer command)."""
    folded = fold(text)
    if _ALL_RE.match(folded):
        return ForgetRequest("all")
    if _LAST_RE.match(folded):
        return ForgetRequest("last")
    m = _ABOUT_RE.match(folded)
    if m and not m.group("what").startswith("inte "):
        return ForgetRequest("about", text[m.start("what") : m.end("what")].strip())
    return None


def _words(text: str) -> set[str]:
    return {w for w in _WORD_RE.findall(fold(text)) if w not in _FILLER}


def matches(what: str, memory_text: str) -> bool:
    """Whether ``memory_text`` is what "glöm att <what>" names: one contains the other, or at least half of the
    named words (and at least one) are in the memory."""
    a, b = " ".join(_WORD_RE.findall(fold(what))), " ".join(_WORD_RE.findall(fold(memory_text)))
    if a and (a in b or b in a):
        return True
    named = _words(what)
    return bool(named) and len(named & _words(memory_text)) * 2 >= len(named)


class Forgetter:
    """Deletes a user's data across the stores (see the module docstring)."""

    def __init__(
        self,
        redis: Any,
        conversations: ConversationStore | None,
        bank: MemoryBank | None,
        extra: Sequence[tuple[str, Eraser]] = (),
        recent_s: float = RECENT_S,
        clock: Callable[[], float] = time.time,
        on_forget: Callable[[str], None] = lambda _scope: None,
    ) -> None:
        #: Called with the scope of every forget request (a metric).
        self.on_forget = on_forget
        self.redis = redis
        self.conversations = conversations
        self.bank = bank
        self.extra = tuple(extra)
        self.recent_s = recent_s
        self._clock = clock

    async def forget_last(self, tenant: str, user: str, session: str | None) -> dict[str, int]:
        """The previous exchange of the session and the memories it stored (see the module docstring)."""
        self.on_forget("last")
        ids: list[str] = []
        turns = 0
        if session and self.conversations is not None:
            turn = await self.conversations.pop_last(tenant, user, session)
            if turn is not None:
                turns, ids = 1, list(turn.memories)
        elif self.bank is not None:
            memories = await self.bank.all(tenant, user)
            if memories and self._clock() - memories[-1][0].created <= self.recent_s:
                ids = [memories[-1][0].id]
        removed = await self.bank.remove(tenant, user, ids) if self.bank is not None and ids else 0
        return {"turns": turns, "memories": removed}

    async def forget_about(self, tenant: str, user: str, what: str) -> dict[str, Any]:
        """The user's memories matching ``what``."""
        self.on_forget("about")
        if self.bank is None:
            return {"memories": 0, "texts": []}
        hits = [m for m, _ in await self.bank.all(tenant, user) if matches(what, m.text)]
        removed = await self.bank.remove(tenant, user, [m.id for m in hits])
        return {"memories": removed, "texts": [m.text for m in hits]}

    async def forget_session(self, tenant: str, user: str, session: str) -> dict[str, int]:
        """One session's turns."""
        self.on_forget("session")
        turns = await self.conversations.delete_session(tenant, user, session) if self.conversations else 0
        return {"turns": turns}

    async def forget_user(self, tenant: str, user: str) -> dict[str, int]:
        """Every trace of the user; returns what was removed, by kind."""
        self.on_forget("all")
        counts: dict[str, int] = {}
        counts["sessions"] = await self.conversations.delete_user(tenant, user) if self.conversations else 0
        counts["memories"] = len(await self.bank.all(tenant, user)) if self.bank is not None else 0
        counts["timers"] = int(await self.redis.hlen(timer_key(tenant, user)))
        await self.redis.delete(*memory_keys(tenant, user), timer_key(tenant, user))
        counts["drafts"] = await self._delete_drafts(tenant, user)
        counts["idempotent_answers"] = await self._delete_matching(glob_escape(owner(tenant, user)) + "*")
        for name, erase in self.extra:
            counts[name] = await erase(tenant, user)
        return counts

    async def _delete_drafts(self, tenant: str, user: str) -> int:
        """The tenant's drafts whose ``user`` field is this user (drafts live 24 h, so the scan is short)."""
        gone = 0
        async for key in self.redis.scan_iter(match=glob_escape(f"{DRAFT_KEY_PREFIX}{tenant}:") + "*", count=500):
            owner_raw = await self.redis.hget(key, "user")
            if owner_raw is not None and _text(owner_raw) == user:
                gone += int(await self.redis.delete(key))
        return gone

    async def _delete_matching(self, pattern: str) -> int:
        keys = [k async for k in self.redis.scan_iter(match=pattern, count=500)]
        return int(await self.redis.delete(*keys)) if keys else 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
