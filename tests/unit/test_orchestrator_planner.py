"""The planner's pure logic: task splitting, the 1 → 2 → 3 budget, tools straight from the NLU, LLM steps with
their results fed back, a tool never run twice, and broken LLM output. Fakes stand in for the NLU, the tools and
the LLM (the real ones are exercised in tests/integration/test_planner_chat.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from alice.errors import ToolDeniedError
from orchestrator.llm import Message
from orchestrator.nlu import NluResult
from orchestrator.planner import (
    NONE,
    Planner,
    PlannerRun,
    max_tool_calls,
    parse_step,
    split_pieces,
    split_tasks,
    step_messages,
    step_schema,
)
from orchestrator.tools.base import ToolResult

TOOLS = ("time.now", "timer.set", "weather.lookup", "email.create_draft")

#: What the fake NLU reads: a keyword in the text → (intent, route hint).
READINGS = {
    "klocka": ("time.now", "tool"),
    "timer": ("timer.set", "tool"),
    "väd": ("weather.lookup", "tool"),
    "mejl": ("email.create_draft", "tool"),
    "lamp": ("home.control", "tool"),
    "hej": ("greeting.hello", "micro"),
}


PLACES = ("Luleå", "Paris", "Tokyo")
#: Runner-up readings of texts the fake NLU files under out_of_scope: "kika ut" might be about the weather.
MAYBE = {"kika ut": (("weather.lookup", 0.3),)}


async def fake_parse(text: str) -> NluResult:
    entities = tuple({"type": "place", "text": p, "value": p} for p in PLACES if p in text)
    for word, (intent, hint) in READINGS.items():
        if word in text.lower():
            if intent == "timer.set" and not any(c.isdigit() for c in text) and "tio" not in text:
                hint = "planner"  # as the NLU: a timer without a duration lacks its argument
            return NluResult(intent, 0.95, hint, entities)
    maybe = next((alts for words, alts in MAYBE.items() if words in text), ())
    return NluResult("out_of_scope", 0.4, "planner", entities, alternatives=maybe)


class Recorder:
    """The planner's ports: records tool runs and LLM prompts; answers LLM steps from a script."""

    def __init__(self, steps: list[str] | None = None, missing: frozenset[str] = frozenset()) -> None:
        self.steps = list(steps or [])
        self.missing = missing
        self.ran: list[tuple[str, str]] = []
        self.prompts: list[list[Message]] = []
        self.schemas: list[dict[str, Any]] = []

    async def run_tool(self, name: str, text: str, nlu: NluResult) -> ToolResult | None:
        self.ran.append((name, text))
        if name in self.missing:
            return None
        return ToolResult(name, {"text": text}, {}, f"[{name} klart]")

    async def ask(self, messages: list[Message], schema: dict[str, Any]) -> str:
        self.prompts.append(messages)
        self.schemas.append(schema)
        return self.steps.pop(0)

    def planner(self, calls: tuple[int, ...] = (1, 2, 3)) -> Planner:
        return Planner(fake_parse, self.run_tool, self.ask, calls)

    async def plan(self, message: str, granted: tuple[str, ...] = TOOLS) -> PlannerRun:
        return await self.planner().run(message, await fake_parse(message), TOOLS, granted)


def step(namn: str, uppgift: str = "", svar: str = "") -> str:
    return json.dumps({"namn": namn, "uppgift": uppgift, "svar": svar}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("text", "tasks"),
    [
        ("vad är klockan", ["vad är klockan"]),
        ("sätt en timer på 5 min och sen kolla vädret", ["sätt en timer på 5 min", "kolla vädret"]),
        ("släck lampan, spela musik och sätt en timer", ["släck lampan", "spela musik", "sätt en timer"]),
        ("kolla vädret; därefter klockan i Tokyo.", ["kolla vädret", "klockan i Tokyo"]),
        ("hej, och sedan vädret", ["hej", "vädret"]),
        ("boka möte kl 15, och slutligen kolla mejlen", ["boka möte kl 15", "kolla mejlen"]),
    ],
)
def test_split_tasks(text: str, tasks: list[str]) -> None:
    assert split_tasks(text) == tasks


def test_names_and_so_that_clauses_are_not_sequencing_words() -> None:
    assert split_pieces("boka möte med Anna och Sara på fredag") == [
        ("boka möte med Anna", False),
        ("Sara på fredag", False),
    ]
    assert split_pieces("mejla Karin, så att hon vet") == [("mejla Karin", False), ("så att hon vet", False)]
    assert split_pieces("den sista dagen, sen vädret") == [("den sista dagen", False), ("vädret", True)]


def test_pieces_say_whether_a_sequencing_word_introduced_them() -> None:
    assert split_pieces("mejla Eva, säg att jag kommer och sen kolla vädret, slutligen klockan") == [
        ("mejla Eva", False),
        ("säg att jag kommer", False),
        ("kolla vädret", True),
        ("klockan", True),
    ]


def test_a_sequenced_piece_is_its_own_task_and_a_greeting_is_none() -> None:
    # without "slutligen" the clause after the e-mail would be its text; with it, it is a task of its own
    rec = Recorder([step(NONE, svar="Mejlen kan jag inte läsa.")])
    tasks = asyncio.run(rec.planner().tasks("hej, mejla Eva att jag kommer, och slutligen kolla posten", None))
    assert [t.text for t in tasks] == ["mejla Eva att jag kommer", "kolla posten"]
    joined = asyncio.run(rec.planner().tasks("mejla Eva, säg att jag kommer", None))
    assert [t.text for t in joined] == ["mejla Eva och säg att jag kommer"]


def test_the_budget_follows_the_fibonacci_steps_and_clamps() -> None:
    assert [max_tool_calls(n, (1, 2, 3)) for n in (0, 1, 2, 3, 4, 9)] == [1, 1, 2, 3, 3, 3]
    assert max_tool_calls(2, (2, 5)) == 5


def test_every_task_a_tool_takes_runs_without_the_llm() -> None:
    rec = Recorder()
    run = asyncio.run(rec.plan("vad är klockan och sen hur är vädret i Malmö"))
    assert rec.ran == [("time.now", "vad är klockan"), ("weather.lookup", "hur är vädret i Malmö")]
    assert run.llm_steps == 0 and rec.prompts == [] and run.reason == "planner_tools"
    assert run.answer() == "[time.now klart] [weather.lookup klart]"


def test_what_no_tool_takes_goes_to_the_llm_with_the_results_so_far() -> None:
    rec = Recorder([step(NONE, svar="Lampor och musik kan jag inte styra.")])
    run = asyncio.run(rec.plan("släck lampan, spela musik och sätt en timer på tio minuter"))
    assert rec.ran == [("timer.set", "sätt en timer på tio minuter")]
    assert run.llm_steps == 1 and run.reason == "planner"
    prompt = rec.prompts[0][1]["content"]
    assert "[timer.set klart]" in prompt and "släck lampan" in prompt  # fed back: done and left
    assert run.answer() == "[timer.set klart] Lampor och musik kan jag inte styra."
    assert "timer.set" not in rec.schemas[0]["properties"]["namn"]["enum"]  # a tool runs once per request


def test_an_llm_step_restates_the_task_and_its_result_is_fed_into_the_next_step() -> None:
    rec = Recorder([step("weather.lookup", "vädret i Luleå"), step(NONE, svar="Något mer?")])
    run = asyncio.run(rec.plan("kan du kika ut åt mig, jag ska till Luleå"))
    assert rec.ran == [("weather.lookup", "vädret i Luleå")]
    assert "[weather.lookup klart]" in rec.prompts[1][1]["content"]
    assert run.llm_steps == 2 and run.answer() == "[weather.lookup klart] Något mer?"


def test_the_budget_stops_tool_calls_and_the_answer_says_what_was_skipped() -> None:
    rec = Recorder()
    planner = Planner(fake_parse, rec.run_tool, rec.ask, (1, 1, 1))
    message = "vad är klockan och sen kolla vädret"
    run = asyncio.run(planner.run(message, None, TOOLS, TOOLS))
    assert rec.ran == [("time.now", "vad är klockan")]
    assert run.skipped == ["kolla vädret"] and "kolla vädret" in run.answer()


def test_a_task_for_a_tool_the_key_lacks_refuses_the_whole_request_before_any_tool_runs() -> None:
    rec = Recorder()
    with pytest.raises(ToolDeniedError):
        asyncio.run(rec.plan("sätt en timer på 5 min och sen vad är klockan", granted=("time.now",)))
    assert rec.ran == []


def test_the_llm_is_offered_only_granted_tools_and_none_once_the_budget_is_spent() -> None:
    rec = Recorder([step(NONE, svar="Det kan jag inte.")])
    asyncio.run(rec.plan("ring tandläkaren", granted=("time.now",)))
    assert rec.schemas[0]["properties"]["namn"]["enum"] == ["time.now", NONE]
    rec = Recorder([step(NONE, svar="Klart.")])
    asyncio.run(Planner(fake_parse, rec.run_tool, rec.ask, (1,)).run("klockan och musik", None, TOOLS, TOOLS))
    assert rec.schemas[0]["properties"]["namn"]["enum"] == [NONE]


def test_a_tool_task_without_its_arguments_gets_the_tools_follow_up_question_without_the_llm() -> None:
    rec = Recorder()
    run = asyncio.run(rec.plan("sätt en timer"))
    assert rec.ran == [] and rec.prompts == [] and run.reason == "planner_questions"
    assert run.answer() == "Hur lång ska timern vara?"
    rec = Recorder(missing=frozenset({"weather.lookup"}))  # the NLU said complete, the tool found no place
    run = asyncio.run(rec.plan("hur blir vädret"))
    assert rec.ran == [("weather.lookup", "hur blir vädret")] and "fler uppgifter" in run.answer()


def test_the_llm_may_choose_only_tools_that_change_nothing() -> None:
    rec = Recorder([step(NONE, svar="Det kan jag inte.")])
    asyncio.run(rec.plan("ring tandläkaren"))
    assert rec.schemas[0]["properties"]["namn"]["enum"] == ["time.now", "weather.lookup", NONE]


def test_a_tool_the_users_own_words_do_not_suggest_is_not_run() -> None:
    # every word of the restated task is in the message, but the NLU finds no weather question in it
    rec = Recorder([step("weather.lookup", "vädret i Tokyo"), step(NONE, svar="Låter som en fin resa!")])
    run = asyncio.run(rec.plan("jag planerar en resa till Tokyo"))
    assert rec.ran == [] and run.reason == "planner_step_refused" and run.answer() == "Låter som en fin resa!"


def test_a_bare_time_the_nlu_sends_to_the_planner_does_not_run_the_clock() -> None:
    async def parse(text: str) -> NluResult:
        return NluResult("time.now", 0.7, "planner", ({"type": "time", "text": text, "value": "14:00"},))

    rec = Recorder([step(NONE, svar="Klockan 14 – vad ska hända då?")])
    run = asyncio.run(Planner(parse, rec.run_tool, rec.ask).run("Klockan 14", None, TOOLS, TOOLS))
    assert rec.ran == [] and run.answer() == "Klockan 14 – vad ska hända då?"


def test_a_restated_task_with_an_invented_argument_or_another_reading_is_not_run() -> None:
    rec = Recorder([step("weather.lookup", "vädret i Paris"), step(NONE, svar="Vilken ort menar du?")])
    run = asyncio.run(rec.plan("kan du kika ut åt mig, jag ska till Luleå"))
    assert rec.ran == [] and run.reason == "planner_step_refused"
    assert rec.schemas[1]["properties"]["namn"]["enum"] == [NONE]  # the last step may only answer
    assert run.answer() == "Vilken ort menar du?"
    rec = Recorder([step("time.now", "sätt en timer på 5 min"), step(NONE, svar="Okej.")])
    asyncio.run(rec.plan("gör något kul"))
    assert rec.ran == []  # the NLU reads the restated task as a timer, not as the time
    rec = Recorder([step("time.now", "vad är klockan"), step(NONE, svar="Jag kan inte ringa.")])
    run = asyncio.run(rec.plan("ring tandläkaren och avboka min tid"))
    assert rec.ran == [] and run.answer() == "Jag kan inte ringa."  # a task the user never asked for


def test_broken_llm_output_keeps_a_readable_answer_or_says_what_was_not_done() -> None:
    assert parse_step("inte json", TOOLS) is None
    assert parse_step(step("bank.pay", "betala"), TOOLS) is None  # a tool it was not offered
    rec = Recorder(['{"namn": "bank.pay", "svar": "Jag kan inte betala räkningar."}'])
    assert asyncio.run(rec.plan("betala elräkningen")).answer() == "Jag kan inte betala räkningar."
    rec = Recorder(["{{{"])
    assert asyncio.run(rec.plan("betala elräkningen")).empty  # nothing to say: the chat flow asks deep
    rec = Recorder(["{{{"])
    run = asyncio.run(rec.plan("sätt en timer på 5 min och betala elräkningen"))
    assert run.answer() == "[timer.set klart] Det här kan jag tyvärr inte hjälpa till med: betala elräkningen."


def test_a_piece_the_nlu_is_unsure_of_sets_nothing_off() -> None:
    async def unsure(text: str) -> NluResult:
        if text == "avboka min tid":
            return NluResult("time.now", 0.36, "tool")
        return NluResult("out_of_scope", 0.4, "planner")

    rec = Recorder([step(NONE, svar="Jag kan inte ringa eller avboka.")])
    planner = Planner(unsure, rec.run_tool, rec.ask, (1, 2, 3))
    run = asyncio.run(planner.run("ring tandläkaren och avboka min tid", None, TOOLS, TOOLS))
    assert rec.ran == [] and run.answer() == "Jag kan inte ringa eller avboka."
    rec.steps = [step(NONE, svar="Vad menar du?")]
    whole = asyncio.run(planner.run("avboka min tid", NluResult("time.now", 0.36, "planner"), TOOLS, TOOLS))
    assert rec.ran == [] and whole.answer() == "Vad menar du?"


def test_a_free_text_task_keeps_its_trailing_clause() -> None:
    rec = Recorder()
    asyncio.run(rec.plan("skriv ett mejl till Eva och säg att jag blir sen, och sen vad är klockan"))
    assert rec.ran[0] == ("email.create_draft", "skriv ett mejl till Eva och säg att jag blir sen")
    assert rec.ran[1] == ("time.now", "vad är klockan")


def test_step_schema_and_prompt() -> None:
    schema = step_schema(("time.now",))
    assert schema["required"] == ["namn", "uppgift", "svar"]
    messages = step_messages("hej", ("time.now",), [], ["hej"])
    assert "time.now: vad klockan är" in messages[0]["content"] and "Återstår: hej" in messages[1]["content"]
