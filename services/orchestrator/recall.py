"""Tiered conversation memory, as the planner and deep routes see it.

Three tiers:

1. **Working memory**: the last ``window`` turns of this session (a Fibonacci number, default 5,
   ``ORCHESTRATOR_WORKING_MEMORY_TURNS``), put before the message as user / assistant messages.
2. **Session memory**: every turn of the session, in Redis for 24 h (:mod:`orchestrator.conversation`); the
   working memory is read from it, so a session goes on across replicas and restarts.
3. **Long-term memory**: what the user asked Alice to remember (``memory.store``), per user, in Redis without
   expiry; ranked by cosine between the message's e5 embedding and each memory's, widened 1 → 2 → 3 → 5 by the
   memory tool's rule (:func:`orchestrator.tools.memory.widen`). Found across sessions, never across users.

The micro and tool routes use none of it (they answer from the message alone, fast). An answer written with any
recalled context is never cached: it depends on more than the message. Redis failures degrade to no context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import structlog
from redis.exceptions import RedisError

from orchestrator.conversation import ConversationStore, Turn
from orchestrator.llm import Message
from orchestrator.tools.memory import CONFIDENT, FLOOR, MARGIN, Memory, MemoryBank, MemoryQuery, unit, widen

log = structlog.get_logger("orchestrator.recall")

#: Each recalled turn is cut to this many characters in the prompt (small models have small contexts).
TURN_CHARS = 600
FACTS_HEADER = "Det här har användaren tidigare bett dig komma ihåg (använd det bara om det hör till frågan):"


@dataclass(frozen=True)
class Recall:
    """What the memory tiers give one message: recent turns of its session and long-term facts."""

    turns: tuple[Turn, ...] = ()
    facts: tuple[tuple[Memory, float], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.turns or self.facts)

    def facts_block(self) -> str:
        """The long-term facts as lines for a system prompt ("" when none)."""
        if not self.facts:
            return ""
        lines = [f"- {m.text}" + (f" (på {m.list_name})" if m.list_name else "") for m, _ in self.facts]
        return "\n".join([FACTS_HEADER, *lines])

    def history_block(self) -> str:
        """The recent turns as text lines (for a prompt that is not a chat, such as the planner's step)."""
        lines = []
        for turn in self.turns:
            lines.append(f"Användaren: {turn.user[:TURN_CHARS]}")
            lines.append(f"Alice: {turn.assistant[:TURN_CHARS]}")
        return "Tidigare i samtalet:\n" + "\n".join(lines) if lines else ""

    def apply(self, messages: Sequence[Message]) -> list[Message]:
        """``messages`` (system first, the user's message last) with the facts added to the system prompt and the
        recent turns put before the user's message."""
        out = [dict(m) for m in messages]
        if not out:
            return []
        facts = self.facts_block()
        if facts and out[0]["role"] == "system":
            out[0]["content"] = f"{out[0]['content']}\n\n{facts}"
        history: list[Message] = []
        for turn in self.turns:
            history.append({"role": "user", "content": turn.user[:TURN_CHARS]})
            history.append({"role": "assistant", "content": turn.assistant[:TURN_CHARS]})
        return [*out[:-1], *history, out[-1]]

    def info(self) -> dict[str, object]:
        """What the response shows of it: how many turns, and which memories (the caller's own)."""
        return {
            "turns": len(self.turns),
            "facts": [{"id": m.id, "text": m.text, "score": round(s, 4)} for m, s in self.facts],
        }


@dataclass
class Recaller:
    """Reads the tiers for a message and writes each answered exchange to its session."""

    conversations: ConversationStore | None
    bank: MemoryBank | None
    window: int = 5
    steps: tuple[int, ...] = (1, 2, 3, 5)
    floor: float = FLOOR
    confident: float = CONFIDENT
    margin: float = MARGIN

    async def recall(
        self, tenant: str, user: str, session: str | None, embedding: Sequence[float] | np.ndarray | None
    ) -> Recall:
        """The session's last turns and the user's memories that match the message (empty on Redis failure)."""
        turns: list[Turn] = []
        facts: list[tuple[Memory, float]] = []
        try:
            if session and self.conversations is not None and self.window > 0:
                turns = await self.conversations.recent(tenant, user, session, self.window)
            query = unit(embedding)
            if query is not None and self.bank is not None:
                ranked = MemoryQuery.rank(query, await self.bank.all(tenant, user))
                k = widen([s for _, s in ranked], self.steps, self.floor, self.confident, self.margin)
                facts = ranked[:k]
        except (RedisError, OSError) as exc:
            log.warning("recall_unavailable", error_type=type(exc).__name__)
            return Recall()
        return Recall(tuple(turns), tuple(facts))

    async def remember(self, tenant: str, user: str, session: str | None, turn: Turn) -> None:
        """Add the exchange to its session (nothing without a session; a Redis failure is logged, not raised)."""
        if not session or self.conversations is None:
            return
        try:
            await self.conversations.append(tenant, user, session, turn)
        except (RedisError, OSError) as exc:
            log.warning("session_not_stored", error_type=type(exc).__name__)
