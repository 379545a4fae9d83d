"""The planner route: a request with several tasks, or one the tools cannot take as it stands.

1. **Split** the message into tasks at sequencing words, commas and "och" (:func:`split_tasks`), and read each
   task with the NLU. A task the NLU reads as a tool intent at confidence ≥ φ⁻¹ (0.618) runs that tool at once,
   without an LLM (a free-text task
   such as an e-mail keeps a trailing "och …" clause as its body). A tool task without its arguments ("sätt en
   timer", "boka möte med Anna") gets the tool's follow-up question instead ("Hur lång ska timern vara?").
2. **Budget**: the number of tasks (1, 2, 3+) picks the most tool calls from ``FIB_ROUTER_MAX_TOOL_CALLS``
   (1 → 2 → 3); tasks beyond it are not run, and the answer says so.
3. **Steps**: what no tool took goes to the LLM, one schema-constrained step at a time
   (``{"namn": <a tool or "inget">, "uppgift": …, "svar": …}``): it names a tool and restates the task in full,
   or answers. The LLM is offered only tools that change nothing (time, date, arithmetic, weather, timer status,
   memory lookup): an action (a timer, a draft, a memory) runs only when the NLU read it in the user's own
   words. A restated task runs only when the NLU reads it as the chosen tool and every entity in it is in the
   message (no invented arguments); its Swedish result is fed into the next step. A tool runs at most once.
4. **Answer**: the tools' answers in task order, the follow-up questions, then the LLM's ``svar``.

No FastAPI here; the chat flow hands in how to ask the LLM and how to run a tool.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alice.errors import ToolDeniedError
from orchestrator.llm import Message
from orchestrator.nlu import NluResult
from orchestrator.tools.base import ToolResult

NONE: Final = "inget"
GREETING: Final = "greeting.hello"
#: Tools that change nothing: the only ones the LLM may choose (actions come from the NLU's reading alone).
READ_ONLY_TOOLS: Final = frozenset(
    {"time.now", "date.today", "math.calculate", "weather.lookup", "timer.status", "memory.query"}
)
#: The question a tool task without its arguments gets (the NLU's route hint says they are missing).
FOLLOW_UPS: Final[dict[str, str]] = {
    "timer.set": "Hur lång ska timern vara?",
    "math.calculate": "Vad vill du att jag ska räkna ut?",
    "calendar.create_draft": "Vilken dag och tid ska jag lägga in det?",
}
GENERIC_FOLLOW_UP: Final = "Jag behöver fler uppgifter för att göra det: {task}. Kan du berätta mer?"
#: A planner task runs its tool without the LLM only at this NLU confidence or above (φ⁻¹): the planner gets
#: what the NLU was unsure of, and a fragment such as "avboka min tid" is read as ``time.now`` at 0.36.
PIECE_MIN_CONFIDENCE: Final = 0.618
#: The LLM's tool choice must be plausible in the user's own words: the NLU gives the tool at least this
#: probability for one of the tasks left to the LLM ("jag planerar en resa till Japan" is no weather question).
PLAUSIBLE_MIN_P: Final = 0.1
#: Tools that need no argument: a task the NLU sends to the planner anyway (a bare "Klockan 14") does not run them.
_NO_ARGUMENT_TOOLS: Final = frozenset({"time.now", "date.today", "timer.status"})
NOT_DONE: Final = "Det här kan jag tyvärr inte hjälpa till med: {tasks}."
#: The most LLM steps per request (each one is a whole LLM call).
MAX_LLM_STEPS: Final = 2
#: Intents whose task carries free text: a following clause without a tool of its own belongs to it.
FREE_TEXT_INTENTS: Final = frozenset({"email.create_draft", "calendar.create_draft", "memory.store"})
#: Sequencing words, commas and semicolons always separate tasks; a bare "och" does when both sides are tasks.
_SEQUENCE_WORDS: Final = (
    r"(?:sen|sedan|så|sa|därefter|darefter|efter det|slutligen|till sist|sist|dessutom|också|ocksa|även|aven)"
    r"\b(?!\s+att\b)"  # a whole word ("Sara", "sista" are names and words), and "så att" is no sequence
)
_STRONG: Final = re.compile(
    rf"\s*(?:[,;]\s*(?:och\s+)?(?P<after_comma>{_SEQUENCE_WORDS})?|"
    rf"\boch\s+(?P<after_and>{_SEQUENCE_WORDS})|"
    r"\b(?P<alone>därefter|darefter|efter det|slutligen)\b)\s*",
    re.IGNORECASE,
)
_AND: Final = re.compile(r"\s+och\s+", re.IGNORECASE)
_STOPWORDS: Final = frozenset(
    "till inte vill mycket gärna kunna något några bara också sedan efter från över under eller samt detta "
    "dessa denna vara blir bliva göra kolla titta säga säg berätta undrar snälla tack just".split()
)
_TRAILING: Final = re.compile(r"^[\s.!?]+|[\s.!?]+$")
MAX_TASK_CHARS: Final = 500

#: The Swedish one-liners the step prompt lists (a tool's own description is written for developers).
TOOL_HINTS: Final[dict[str, str]] = {
    "time.now": "vad klockan är, här eller i en annan stad",
    "date.today": "dagens datum, veckodag eller vecka",
    "math.calculate": "räkna ut ett tal eller en procentsats",
    "timer.set": "sätta, pausa eller fortsätta en timer (kräver en tid)",
    "timer.status": "hur lång tid som är kvar på timrar",
    "timer.cancel": "stoppa eller ta bort en timer",
    "weather.lookup": "väder och prognos för en ort",
    "calendar.create_draft": "kalenderutkast för ett möte (kräver dag eller tid)",
    "email.create_draft": "mejlutkast (mottagare och innehåll)",
    "memory.store": "komma ihåg något användaren berättar",
    "memory.query": "svara ur det användaren bett dig komma ihåg",
}

STEP_PROMPT: Final = (
    "Du är Alice, en svensk assistent. Du får en begäran och det som återstår av den. Verktyg:\n{tools}\n"
    'Svara endast med JSON: {{"namn": ..., "uppgift": ..., "svar": ...}}. '
    'Behövs ett verktyg för det som återstår: "namn" = verktyget, "uppgift" = uppgiften med användarens egna '
    'detaljer, "svar" = "". Annars: "namn" = "inget", "uppgift" = "" och "svar" = ditt korta svar på svenska '
    "till användaren. Kan du inte göra något (ringa, betala, köpa, spela musik, styra lampor), säg det vänligt. "
    "Säg aldrig att något är gjort om det inte står under Redan gjort.\n"
    "Exempel:\n"
    "Begäran: ring mamma\nÅterstår: ring mamma\n"
    '{{"namn": "inget", "uppgift": "", "svar": "Jag kan tyvärr inte ringa samtal åt dig."}}\n'
    "Begäran: jag ska till Kiruna, hur kallt blir det där och spela lite jazz\n"
    "Återstår: jag ska till Kiruna, hur kallt blir det där; spela lite jazz\n"
    '{{"namn": "weather.lookup", "uppgift": "vädret i Kiruna", "svar": ""}}'
)


def split_pieces(text: str) -> list[tuple[str, bool]]:
    """The pieces of a message, in order, each with whether a sequencing word ("sen", "slutligen", "därefter"…)
    introduced it: split at sequencing words, commas, semicolons and every "och"."""
    parts: list[tuple[str, bool]] = []
    start, sequenced = 0, False
    for match in _STRONG.finditer(text):
        if match.end() == match.start():
            continue
        parts.append((text[start : match.start()], sequenced))
        start, sequenced = match.end(), any(match.group(g) for g in ("after_comma", "after_and", "alone"))
    parts.append((text[start:], sequenced))
    pieces: list[tuple[str, bool]] = []
    for part, first_sequenced in parts:
        for i, piece in enumerate(_AND.split(part)):
            cleaned = _TRAILING.sub("", piece)
            if cleaned:
                pieces.append((cleaned, first_sequenced and i == 0))
    return pieces or [(text.strip(), False)]


def split_tasks(text: str) -> list[str]:
    """The pieces' texts (:meth:`Planner.tasks` joins back the pieces that turn out not to be tasks)."""
    return [piece for piece, _ in split_pieces(text)]


def max_tool_calls(tasks: int, steps: Sequence[int]) -> int:
    """The most tool calls for a request of ``tasks`` tasks: ``steps[tasks - 1]`` (1 → 2 → 3), clamped."""
    index = max(0, min(tasks, len(steps)) - 1)
    return int(steps[index])


class PlannerStep(BaseModel):
    """One step the LLM proposes."""

    model_config = ConfigDict(extra="ignore")

    namn: str = Field(min_length=1, max_length=64)
    uppgift: str = Field(default="", max_length=MAX_TASK_CHARS)
    svar: str = Field(default="", max_length=1000)


def step_schema(tools: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of one step: ``namn`` is one of ``tools`` or ``inget``."""
    return {
        "type": "object",
        "properties": {
            "namn": {"type": "string", "enum": [*tools, NONE]},
            "uppgift": {"type": "string"},
            "svar": {"type": "string"},
        },
        "required": ["namn", "uppgift", "svar"],
    }


def parse_step(raw: str, tools: Sequence[str]) -> PlannerStep | None:
    """The step in the LLM's JSON, or None when it is not one (or names a tool it was not offered)."""
    try:
        step = PlannerStep.model_validate_json(raw.strip())
    except ValidationError:
        return None
    if step.namn != NONE and step.namn not in tools:
        return None
    return step


def step_messages(message: str, tools: Sequence[str], done: Sequence[ToolResult], left: Sequence[str]) -> list[Message]:
    """The step prompt: the granted tools, the request, what the tools did so far and what is left."""
    listed = "\n".join(f"- {name}: {TOOL_HINTS.get(name, name)}" for name in tools) or "- (inga)"
    lines = [f"Begäran: {message}"]
    if done:
        lines.append("Redan gjort:")
        lines.extend(f"- {r.name}: {r.answer}" for r in done)
    if left:
        lines.append("Återstår: " + "; ".join(left))
    return [
        {"role": "system", "content": STEP_PROMPT.format(tools=listed)},
        {"role": "user", "content": "\n".join(lines)},
    ]


@dataclass
class PlannerRun:
    """What the planner did: the tool results in order, the LLM's answer for the rest, and its LLM calls."""

    results: list[ToolResult] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    reply: str = ""
    llm_steps: int = 0
    skipped: list[str] = field(default_factory=list)
    reason: str = "planner"
    #: Tasks no tool took (the LLM was asked about them).
    left: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to say: no tool ran, nothing to ask, and the LLM gave no reply (an open question, which the
        deep route answers better)."""
        return not (self.results or self.questions or self.skipped or self.reply.strip())

    def answer(self) -> str:
        """The Swedish answer: each tool's answer, what was skipped for the budget, then the LLM's reply."""
        parts = [r.answer.strip() for r in self.results if r.answer.strip()]
        parts.extend(q for q in self.questions if q not in parts)
        if self.skipped:
            parts.append("Jag hann inte med allt på en gång. Fråga gärna igen om: " + "; ".join(self.skipped) + ".")
        if self.reply.strip():
            parts.append(self.reply.strip())
        elif self.left and parts:
            parts.append(NOT_DONE.format(tasks="; ".join(self.left)))
        return " ".join(parts) or "Jag kunde tyvärr inte hjälpa till med det. Kan du formulera om frågan?"


#: Runs a granted tool for a task as the NLU read it: the result, or None when its arguments are not there.
RunTool = Callable[[str, str, NluResult], Awaitable[ToolResult | None]]
#: Asks the LLM one step (messages, JSON schema) and returns its raw text.
AskLlm = Callable[[list[Message], dict[str, Any]], Awaitable[str]]
Parse = Callable[[str], Awaitable[NluResult | None]]


@dataclass
class Task:
    """One task of the message and the NLU's reading of it."""

    text: str
    nlu: NluResult | None
    #: A sequencing word introduced it ("…, och slutligen kolla …"): a task of its own, never a continuation.
    sequenced: bool = False

    def tool(self, tools: Sequence[str]) -> str | None:
        """The tool the NLU reads this task as, if it is one of ``tools`` and the NLU is sure of it
        (:data:`PIECE_MIN_CONFIDENCE`)."""
        nlu = self.nlu
        if nlu is None or nlu.intent not in tools or nlu.confidence < PIECE_MIN_CONFIDENCE:
            return None
        if nlu.intent in _NO_ARGUMENT_TOOLS and nlu.route_hint == "planner":
            return None  # the NLU says this is no plain question about now ("Klockan 14" states a time)
        return nlu.intent

    def follow_up(self) -> str | None:
        """The tool's follow-up question when the NLU says its arguments are missing (route hint ``planner``)."""
        nlu = self.nlu
        if nlu is None or nlu.route_hint == "tool":
            return None
        return FOLLOW_UPS.get(nlu.intent)


class Planner:
    """Splits, runs the tools it can, and asks the LLM step by step for the rest (see the module docstring)."""

    def __init__(self, parse: Parse, run_tool: RunTool, ask: AskLlm, max_calls: Sequence[int] = (1, 2, 3)) -> None:
        self._parse = parse
        self._run_tool = run_tool
        self._ask = ask
        self._max_calls = tuple(max_calls)

    async def tasks(self, message: str, whole: NluResult | None) -> list[Task]:
        """The message's tasks with their readings; pieces that are no task of their own join the one before."""
        pieces = split_pieces(message)
        if len(pieces) == 1:
            return [Task(pieces[0][0], whole)]
        readings = await asyncio.gather(*(self._parse(text) for text, _ in pieces))
        tasks: list[Task] = []
        tools = tuple(TOOL_HINTS)
        for (text, sequenced), nlu in zip(pieces, readings, strict=True):
            piece = Task(text, nlu, sequenced)
            last = tasks[-1] if tasks else None
            if last is not None and _continues(last, piece, tools):
                joined = f"{last.text} och {text}"
                tasks[-1] = Task(joined, await self._parse(joined), last.sequenced)
            else:
                tasks.append(piece)
        # "Hej Alice, kan du …": a greeting beside tasks is no task of its own
        return [t for t in tasks if t.nlu is None or t.nlu.intent != GREETING] or tasks

    async def run(
        self, message: str, whole: NluResult | None, tools: Sequence[str], granted_tools: Sequence[str]
    ) -> PlannerRun:
        """Plan and carry out ``message``. A task the NLU gives a tool in ``tools`` runs it (a tool the caller
        may not run is refused by ``run_tool``); the LLM is offered ``granted_tools`` only, in that order."""
        tasks = await self.tasks(message, whole)
        denied = [t.tool(tools) for t in tasks if t.tool(tools) not in (None, *granted_tools)]
        if denied:  # before any tool runs: a 403 must not hide a timer that was set
            raise ToolDeniedError(f"Your API key may not run the tool {denied[0]}.")
        budget = max_tool_calls(len(tasks), self._max_calls)
        run = PlannerRun()
        used: set[str] = set()
        left: list[Task] = []
        for task in tasks:
            name = task.tool(tools)
            question = task.follow_up()
            if name is None or name in used:
                left.append(task)
            elif question is not None:
                run.questions.append(question)
            elif len(used) >= budget:
                run.skipped.append(task.text)
            else:
                result = await self._run_tool(name, task.text, task.nlu)  # type: ignore[arg-type]
                used.add(name)
                if result is None:
                    run.questions.append(FOLLOW_UPS.get(name) or GENERIC_FOLLOW_UP.format(task=task.text))
                else:
                    run.results.append(result)
        run.left = [task.text for task in left]
        if left:
            offered = [t for t in granted_tools if t in READ_ONLY_TOOLS]
            await self._steps(message, offered, run, used, left, budget)
        if not run.llm_steps:
            run.reason = "planner_tools" if run.results else "planner_questions"
        return run

    async def _steps(
        self, message: str, tools: Sequence[str], run: PlannerRun, used: set[str], left: Sequence[Task], budget: int
    ) -> None:
        """LLM steps until it answers, the step or tool budget is spent, or its tool call does not hold up.

        The system prompt lists the same tools on every step (the server reuses its cached prefix); what may
        still be chosen is narrowed by the schema's enum."""
        while run.llm_steps < MAX_LLM_STEPS:
            last = run.llm_steps == MAX_LLM_STEPS - 1
            choosable = [t for t in tools if t not in used] if len(used) < budget and not last else []
            raw = await self._ask(step_messages(message, tools, run.results, run.left), step_schema(choosable))
            run.llm_steps += 1
            step = parse_step(raw, choosable)
            if step is None:
                run.reply = _salvage(raw)
                return
            if step.namn == NONE or not step.uppgift.strip():
                run.reply = step.svar.strip()
                return
            used.add(step.namn)
            nlu = await self._parse(step.uppgift)
            if not _holds_up(nlu, step.namn, step.uppgift, message, left):
                run.reason = "planner_step_refused"
                continue
            result = await self._run_tool(step.namn, step.uppgift, nlu)  # type: ignore[arg-type]
            if result is not None:
                run.results.append(result)


def _continues(last: Task, piece: Task, tools: Sequence[str]) -> bool:
    """True when ``piece`` belongs to the free-text task before it: the same intent ("boka möte med Anna och Per
    …"), or no task of its own ("mejla Eva och säg att …")."""
    if piece.sequenced:
        return False
    intent = last.nlu.intent if last.nlu else None
    if intent in FREE_TEXT_INTENTS and piece.nlu is not None and piece.nlu.intent == intent:
        return True
    if piece.tool(tools) is not None:
        return False
    return intent in FREE_TEXT_INTENTS


def _holds_up(nlu: NluResult | None, tool: str, task: str, message: str, left: Sequence[Task]) -> bool:
    """True when the LLM's restated ``task`` comes from the user's words: the NLU reads it as ``tool``, the NLU
    finds ``tool`` plausible (:data:`PLAUSIBLE_MIN_P`) for a task left to do, each of the restated task's entities
    is in the message, and it shares a content word with what is left to do."""
    if nlu is None or nlu.intent != tool:
        return False
    if not any(t.nlu is not None and t.nlu.probability(tool) >= PLAUSIBLE_MIN_P for t in left):
        return False
    said = _folded(message)
    if not all(_folded(str(e.get("text") or e.get("value") or "")) in said for e in nlu.entities):
        return False
    return bool(_stems(task) & _stems(" ".join(t.text for t in left)))


def _stems(text: str) -> set[str]:
    """The first three letters of each content word of four letters or more ("vädret" and "väder": "väd")."""
    words = re.findall(r"\w{4,}", text.casefold())
    return {w[:3] for w in words if w not in _STOPWORDS and not w.isdigit()}


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


def _salvage(raw: str) -> str:
    """The ``svar`` of a step that did not fit the schema, when there is one; else nothing."""
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        return ""
    svar = body.get("svar") if isinstance(body, dict) else None
    return svar.strip() if isinstance(svar, str) else ""
