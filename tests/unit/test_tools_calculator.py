"""math.calculate: precedence, exact decimals, percentages, Swedish number words, refusals, limits, answers."""

from __future__ import annotations

import builtins
import datetime as dt
import time
from fractions import Fraction
from typing import Any

import pytest
from pydantic import BaseModel

from nlu.entities import extract_entities
from orchestrator.tools.base import STOCKHOLM, ToolArgumentsError, ToolContext, ToolResult, json_schema
from orchestrator.tools.calculator import (
    MAX_LENGTH,
    CalculateArgs,
    CalculateTool,
    evaluate,
    format_number,
    formula_from_text,
    parse,
    render,
    word_value,
)

NOW = dt.datetime(2026, 3, 3, 14, 5, tzinfo=STOCKHOLM)


def context(text: str = "", entities: list[dict[str, Any]] | None = None) -> ToolContext:
    return ToolContext(tenant="t", user="u", text=text, now=NOW, entities=entities or [])


async def calculate(expression: str) -> ToolResult:
    return await CalculateTool().run(CalculateArgs(expression=expression), context())


async def ask(text: str, entities: list[dict[str, Any]] | None = None) -> ToolResult:
    tool = CalculateTool()
    ctx = context(text, entities)
    args = tool.args_from_context(ctx)
    assert args is not None, text
    return await tool.run(args, ctx)


def value(expression: str) -> Fraction | float:
    return evaluate(parse(expression))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2+3*4", 14), ("(2+3)*4", 20), ("10-4-3", 3), ("100/10/5", 2), ("2^3^2", 512), ("2**10", 1024),
        ("-2^2", -4), ("(-2)^2", 4), ("2^-1", Fraction(1, 2)), ("-(3-5)", 2), ("--3", 3), ("+4", 4),
        ("2*-3", -6), ("sqrt(16)+sqrt 9", 7), ("sqrt(2)^2", 2), ("15%*200", 30), ("50%", Fraction(1, 2)),
        ("7 × 6 ÷ 3 − 1", 13), ("√81", 9), ("1/3*3", 1), ("0.1+0.2", Fraction(3, 10)), (".5*4", 2),
    ],
)  # fmt: skip
def test_precedence_and_associativity(expression: str, expected: float) -> None:
    assert value(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    "expression",
    ["6/3*2", "6/(3*2)", "2-(3-4)", "-(2+3)^2", "(-2)^3", "2^-(1+1)", "sqrt(2+2)*3", "sqrt(2)^2", "(10+5)%*200",
     "2^3^2", "(2^3)^2", "-(-3)", "100-10%*50"],
)  # fmt: skip
def test_the_normalised_formula_means_the_same(expression: str) -> None:
    tree = parse(expression)
    assert value(render(tree, pretty=False)) == evaluate(tree)


def test_arithmetic_is_exact_on_decimals() -> None:
    assert value("0,1 + 0,2") == Fraction(3, 10)
    assert value("2,5 + 1,25") == Fraction(15, 4)
    assert isinstance(value("sqrt(2)"), float)


@pytest.mark.parametrize(
    ("expression", "answer"),
    [
        ("12*3", "12 × 3 = 36."),
        ("2,5 + 1,25", "2,5 + 1,25 = 3,75."),
        ("0.1+0.2", "0,1 + 0,2 = 0,3."),
        ("15%*200", "15 % av 200 är 30."),
        ("15%*7", "15 % av 7 är 1,05."),
        ("1000000/3", "1 000 000 / 3 ≈ 333 333,33."),
        ("2/3", "2 / 3 ≈ 0,66666667."),
        ("12345*1000", "12 345 × 1 000 = 12 345 000."),
        ("sqrt(81)", "√81 = 9."),
        ("sqrt(80+1)", "√(80 + 1) = 9."),
        ("sqrt(2)", "√2 ≈ 1,4142136."),
        ("sqrt(2)^2", "(√2)^2 = 2."),
        ("(2+3)*4", "(2 + 3) × 4 = 20."),
        ("-5+3", "-5 + 3 = -2."),
        ("2^10", "2^10 = 1 024."),
        ("10^-20", "10^-20 ≈ 1 × 10^-20."),
        ("2.50*2", "2,5 × 2 = 5."),
        ("6/3*2", "6 / 3 × 2 = 4."),
        ("6/(3*2)", "6 / (3 × 2) = 1."),
        ("2-(3-4)", "2 - (3 - 4) = 3."),
        ("(2*3)+4", "2 × 3 + 4 = 10."),
        ("-(2^2)", "-2^2 = -4."),
        ("(-2)^2", "(-2)^2 = 4."),
    ],
)
async def test_answers_are_swedish(expression: str, answer: str) -> None:
    result = await calculate(expression)
    assert result.ok and result.answer == answer


async def test_result_data() -> None:
    result = await calculate("12 * 3")
    assert result.data == {"expression": "12*3", "value": 36, "text": "36", "exact": True}
    assert result.args == {"expression": "12 * 3"} and result.name == "math.calculate"
    third = await calculate("1/3")
    assert third.data["value"] == pytest.approx(1 / 3) and third.data["exact"] is False


@pytest.mark.parametrize(
    ("number", "text", "exact"),
    [
        (Fraction(1234567), "1 234 567", True), (Fraction(-12345, 10), "-1 234,5", True), (Fraction(0), "0", True),
        (Fraction(2, 3), "0,66666667", False), (0.30000000000000004, "0,3", True),
        (1e29, "100 000 000 000 000 000 000 000 000 000", True),
        (Fraction(1, 8), "0,125", True), (-0.5, "-0,5", True), (1.5e-20, "1,5 × 10^-20", False),
    ],
)  # fmt: skip
def test_format_number(number: Fraction | float, text: str, exact: bool) -> None:
    assert format_number(number) == (text, exact)


@pytest.mark.parametrize(
    ("text", "formula", "answer"),
    [
        ("vad är 15 procent av 200", "15%*200", "15 % av 200 är 30."),
        ("Vad är 15% av 2 500 kr?", "15%*2500", "15 % av 2 500 är 375."),
        ("hur mycket är tolv gånger tre", "12*3", "12 × 3 = 36."),
        ("roten ur 81", "sqrt(81)", "√81 = 9."),
        ("2,5 + 1,25", "2.5+1.25", "2,5 + 1,25 = 3,75."),
        ("vad blir två hundra tjugo tre plus tre tusen fem hundra", "223+3500", "223 + 3 500 = 3 723."),
        ("vad är tjugoen gånger tio", "21*10", "21 × 10 = 210."),
        ("hundra minus ett", "100-1", "100 - 1 = 99."),
        ("vad är sju i kvadrat", "7^2", "7^2 = 49."),
        ("tre upphöjt till fyra", "3^4", "3^4 = 81."),
        ("nittionio plus elva", "99+11", "99 + 11 = 110."),
        ("vad är arton delat med fyra", "18/4", "18 / 4 = 4,5."),
        ("elva multiplicerat med elva", "11*11", "11 × 11 = 121."),
        ("vad är 3x4?", "3*4", "3 × 4 = 12."),
        ("räkna ut (2+3)*4 åt mig", "(2+3)*4", "(2 + 3) × 4 = 20."),
        ("vad är minus fem plus tre", "-5+3", "-5 + 3 = -2."),
        ("hur mycket är 1 000 000 delat med 4", "1000000/4", "1 000 000 / 4 = 250 000."),
    ],
)
async def test_swedish_messages(text: str, formula: str, answer: str) -> None:
    assert formula_from_text(text) == formula
    assert (await ask(text)).answer == answer


@pytest.mark.parametrize(
    ("word", "number"),
    [
        ("noll", 0), ("ett", 1), ("tolv", 12), ("nitton", 19), ("tjugo", 20), ("tjugotre", 23), ("fyrtiotva", 42),
        ("hundra", 100), ("etthundra", 100), ("hundratjugo", 120), ("tvahundrafemtiosex", 256), ("tusen", 1000),
        ("tvatusenfemhundra", 2500), ("hundratusen", 100000), ("tretre", None), ("hundrahundra", None),
        ("tjugotio", None), ("tusentusen", None), ("elvahundra", None), ("hej", None), ("", None),
    ],
)  # fmt: skip
def test_swedish_number_words(word: str, number: int | None) -> None:
    assert word_value(word) == number


@pytest.mark.parametrize(
    "text",
    ["hej, hur mår du?", "vad är klockan", "vad är minus fem", "vad är 1e5 + 1", "3 äpplen plus 4 päron", "42", ""],
)
def test_no_formula_in_the_message(text: str) -> None:
    assert CalculateTool().args_from_context(context(text)) is None


async def test_the_nlu_formula_is_preferred_but_percentages_read_better_here() -> None:
    tool = CalculateTool()
    entity = {"type": "expression", "value": 36, "expression": "12*3"}
    assert tool.args_from_context(context("något helt annat", [entity])) == CalculateArgs(expression="12*3")
    text = "vad är 15 procent av 200"
    nlu = extract_entities(text, NOW)
    assert [e["expression"] for e in nlu] == ["200*15/100"]
    assert (await ask(text, nlu)).answer == "15 % av 200 är 30."
    division = "vad blir 150 delat med 6"
    assert (await ask(division, extract_entities(division, NOW))).answer == "150 / 6 = 25."


@pytest.mark.parametrize("expression", ["5/0", "5/(3-3)", "0^-1", "1/(0.5-1/2)"])
async def test_division_by_zero(expression: str) -> None:
    result = await calculate(expression)
    assert not result.ok and result.error == "division_by_zero"
    assert result.answer == "Det går inte att dela med noll."


async def test_division_by_zero_in_words() -> None:
    # The NLU drops impossible expressions, so the tool reads the message itself.
    result = await ask("vad är fem delat med noll")
    assert not result.ok and result.answer == "Det går inte att dela med noll."


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')", "__import__('os').system('ls')", "os.system('ls')", "x + 1", "(1).real", "2 .real",
        "abs(3)", "pow(2, 3)", "[1]*3", "lambda: 1", "2; 1", "1 if 1 else 2", "2(3)", "2 3", "(2+3", "2+", "3 %% 4",
        "'1'+'1'", "1_000", "0x10", "sqrt", "   ",
    ],
)  # fmt: skip
async def test_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ToolArgumentsError):
        await calculate(expression)


async def test_never_evaluates_python(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", forbidden)
    assert (await calculate("(1+2)*3^2")).answer == "(1 + 2) × 3^2 = 27."


@pytest.mark.parametrize(
    ("expression", "error", "words"),
    [
        ("2^100000", "too_large", "Exponenten är för stor"),
        ("9^9^9", "too_large", "Exponenten är för stor"),
        ("10^31", "too_large", "för stort"),
        ("(10^20)*(10^20)", "too_large", "för stort"),
        ("2^0.5^-1000", "too_large", "för stort"),
        ("99999999999999999999999999999999", "too_large", "för stort"),
        ("1+" * (MAX_LENGTH // 2) + "1", "too_long", "för långt"),
        ("(" * 40 + "1" + ")" * 40, "too_deep", "för många nivåer"),
        ("-" * 40 + "1", "too_deep", "för många nivåer"),
        ("sqrt(-4)", "negative_root", "roten ur ett negativt tal"),
        ("(-8)^0.5", "undefined", "negativt tal"),
    ],
)
async def test_limits_fail_fast_with_a_swedish_explanation(expression: str, error: str, words: str) -> None:
    started = time.perf_counter()
    result = await calculate(expression)
    assert time.perf_counter() - started < 1.0
    assert not result.ok and result.error == error and words in result.answer


async def test_overly_long_messages_are_explained() -> None:
    result = await ask("vad är " + "1 plus " * 60 + "1")
    assert not result.ok and result.error == "too_long"


async def test_invalid_arguments_raise() -> None:
    class Foreign(BaseModel):
        formula: str = "1+1"

    with pytest.raises(ToolArgumentsError):
        await CalculateTool().run(Foreign(), context())


def test_schema_for_the_planner() -> None:
    schema = json_schema(CalculateTool())
    assert schema["name"] == "math.calculate"
    assert schema["parameters"]["required"] == ["expression"]
    assert "sqrt" in schema["parameters"]["properties"]["expression"]["description"]
