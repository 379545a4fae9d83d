"""How recalled context enters the LLM's messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.conversation import Turn
from orchestrator.recall import FACTS_HEADER, TURN_CHARS, Recall
from orchestrator.settings import OrchestratorSettings
from orchestrator.tools.memory import Memory

SECRET = "recall-test-secret-0123456789abcdef"
MESSAGES = [{"role": "system", "content": "Du är Alice."}, {"role": "user", "content": "Vad heter hon?"}]


def test_an_empty_recall_changes_nothing() -> None:
    assert Recall().empty and Recall().apply(MESSAGES) == MESSAGES
    assert Recall().facts_block() == "" and Recall().history_block() == ""


def test_turns_go_before_the_message_and_facts_into_the_system_prompt() -> None:
    recall = Recall(
        turns=(Turn("Jag har en dotter.", "Vad roligt!", 1.0), Turn("Hon fyller år.", "Grattis!", 2.0)),
        facts=((Memory("m1", "min dotter heter Elsa", 0.5), 0.93),),
    )
    out = recall.apply(MESSAGES)
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert out[0]["content"].startswith("Du är Alice.") and FACTS_HEADER in out[0]["content"]
    assert "- min dotter heter Elsa" in out[0]["content"]
    assert out[1]["content"] == "Jag har en dotter." and out[-1] == MESSAGES[-1]
    assert MESSAGES[0]["content"] == "Du är Alice."  # the input is not changed
    assert recall.info() == {"turns": 2, "facts": [{"id": "m1", "text": "min dotter heter Elsa", "score": 0.93}]}


def test_long_turns_are_cut() -> None:
    recall = Recall(turns=(Turn("a" * 5000, "b" * 5000, 1.0),))
    out = recall.apply(MESSAGES)
    assert len(out[1]["content"]) == TURN_CHARS and len(out[2]["content"]) == TURN_CHARS
    assert recall.history_block().startswith("Tidigare i samtalet:\nAnvändaren: a")


def test_list_items_say_their_list() -> None:
    recall = Recall(facts=((Memory("m2", "mjölk", 0.5, "inköpslista"), 0.9),))
    assert "- mjölk (på inköpslista)" in recall.facts_block()


def test_the_working_memory_window_is_a_fibonacci_number() -> None:
    assert OrchestratorSettings(internal_secret=SECRET, working_memory_turns=8).working_memory_turns == 8
    with pytest.raises(ValidationError, match="Fibonacci"):
        OrchestratorSettings(internal_secret=SECRET, working_memory_turns=4)


def test_a_turn_round_trips_through_json() -> None:
    turn = Turn("hej", "hej hej", 3.5, "deep", "rid-1", ("m1",))
    assert Turn.from_json(turn.to_json()) == turn
