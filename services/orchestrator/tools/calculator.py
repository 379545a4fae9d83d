"""The ``math.calculate`` tool: arithmetic on an ASCII formula with a safe recursive-descent parser.

Nothing reaches ``eval``: the tokenizer knows numbers (decimal point or comma), ``+ - * / ^ ** % ( )`` and
``sqrt``, and refuses every other name or character. ``x %`` is x/100, so "15 % av 200" is ``15%*200``.
Arithmetic is exact on fractions (0.1 + 0.2 is 0.3) until a square root or a fractional power makes it a float.
Limits keep a request cheap: :data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of nesting, exponents up to
:data:`MAX_EXPONENT`, results below 10^:data:`MAX_DIGITS`.

The formula comes from the NLU's ``expression`` entity when there is one; otherwise (and always for percentages,
whose answer reads better as "15 % av 200 är 30") the message is read here: Swedish number words ("tolv",
"tjugo tre", "två tusen fem hundra"), operators in words ("gånger", "delat med", "procent av", "roten ur",
"i kvadrat") and decimal commas.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar, Final

from pydantic import BaseModel, Field, ValidationError

from orchestrator.tools.base import ToolArgumentsError, ToolContext, ToolResult

MAX_LENGTH: Final = 200
MAX_DEPTH: Final = 30
MAX_EXPONENT: Final = 1000
MAX_DIGITS: Final = 30
_MAX_TEXT: Final = 2000  # longer messages are not searched for a formula

Number = Fraction | float

_TOKEN_RE: Final = re.compile(r"\s*(?:(\d+(?:[.,]\d+)?|[.,]\d+)|(\*\*|[-+*/^%()×÷−√])|([A-Za-z_]\w*)|(\S))")
_SYMBOLS: Final = {"**": "^", "×": "*", "÷": "/", "−": "-", "√": "sqrt"}
_PRECEDENCE: Final = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "sqrt": 3, "^": 4, "%": 4, "num": 5}
_PRETTY: Final = {"+": " + ", "-": " - ", "*": " × ", "/": " / ", "^": "^"}
_ZERO_DIVISION: Final = "Det går inte att dela med noll."
_TOO_LARGE: Final = "Resultatet blir för stort för mig att räkna ut."


class ExpressionError(ValueError):
    """The formula is not one this calculator reads (a name, an unknown character, unbalanced brackets)."""


class CalculationError(ValueError):
    """The formula reads but cannot be computed here; ``message`` is the Swedish explanation."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Node:
    """A parsed formula: ``op`` is "num", "+", "-", "*", "/", "^", "neg", "sqrt" or "%" (postfix percent)."""

    op: str
    args: tuple[Node, ...] = ()
    number: Fraction = Fraction(0)
    text: str = ""  # a number as written, normalised: "2.50" → "2.5"


def tokens(formula: str) -> list[str]:
    """The tokens of an ASCII formula; :class:`ExpressionError` for anything but numbers, operators, sqrt."""
    found: list[str] = []
    for match in _TOKEN_RE.finditer(formula):
        number, op, name, other = match.groups()
        if number is not None:
            found.append(number.replace(",", "."))
        elif op is not None:
            found.append(_SYMBOLS.get(op, op))
        elif name is not None and name.lower() == "sqrt":
            found.append("sqrt")
        else:
            raise ExpressionError(f"unexpected {name or other!r} in the formula")
    return found


class _Parser:
    """expr: term (+|- term)*; term: unary (*|/ unary)*; unary: (-|+|sqrt) unary | atom (^ unary)? %*."""

    def __init__(self, items: list[str]) -> None:
        self.items, self.pos, self.depth = items, 0, 0

    def peek(self) -> str:
        return self.items[self.pos] if self.pos < len(self.items) else ""

    def take(self) -> str:
        item = self.peek()
        self.pos += 1
        return item

    def expr(self, level: int = 1) -> Node:
        """Level 1: a sum; level 2: a product."""
        operand = self.unary if level == 2 else lambda: self.expr(2)
        node = operand()
        while self.peek() in (("+", "-") if level == 1 else ("*", "/")):
            node = Node(self.take(), (node, operand()))
        return node

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalculationError("too_deep", f"Uttrycket är nästlat i för många nivåer (högst {MAX_DEPTH}).")
        if self.peek() in ("-", "+") or (self.peek() == "sqrt" and self.items[self.pos + 1 : self.pos + 2] != ["("]):
            op, operand = self.take(), self.unary()
            node = operand if op == "+" else Node("neg" if op == "-" else "sqrt", (operand,))
        else:
            node = self.atom()
            if self.peek() == "^":
                self.take()
                node = Node("^", (node, self.unary()))
            while self.peek() == "%":
                self.take()
                node = Node("%", (node,))
        self.depth -= 1
        return node

    def atom(self) -> Node:
        item = self.take()
        if item == "(":
            node = self.expr()
            if self.take() != ")":
                raise ExpressionError("unbalanced brackets")
            return node
        if item == "sqrt" and self.peek() == "(":  # "sqrt(2)^2" is (√2)^2, while "sqrt 2^2" is √(2^2)
            return Node("sqrt", (self.atom(),))
        if item[:1].isdigit() or item[:1] == ".":
            return Node("num", number=Fraction(item), text=format(Decimal(item).normalize(), "f"))
        raise ExpressionError(f"expected a number, got {item or 'the end'!r}")


def parse(formula: str) -> Node:
    """The tree of ``formula``: :class:`ExpressionError` if it does not read, :class:`CalculationError` if it is
    too long or nested too deep."""
    if len(formula) > MAX_LENGTH:
        raise CalculationError("too_long", f"Uttrycket är för långt för mig (högst {MAX_LENGTH} tecken).")
    parser = _Parser(tokens(formula))
    node = parser.expr()
    if parser.pos != len(parser.items):
        raise ExpressionError(f"unexpected {parser.peek()!r}")
    return node


def _power(base: Number, exponent: Number) -> Number:
    if base == 0:
        if exponent < 0:
            raise CalculationError("division_by_zero", _ZERO_DIVISION)
        return Fraction(1 if exponent == 0 else 0)
    whole = isinstance(exponent, Fraction) and exponent.denominator == 1
    if whole and abs(float(exponent)) > MAX_EXPONENT:
        raise CalculationError("too_large", f"Exponenten är för stor för mig (högst {MAX_EXPONENT}).")
    if not whole and base < 0:
        raise CalculationError("undefined", "Ett negativt tal kan inte upphöjas till ett tal som inte är heltal.")
    size = base if base > 0 else -base  # log10 of a Fraction: numerator and denominator apart, never overflowing
    digits = (
        math.log10(size.numerator) - math.log10(size.denominator) if isinstance(size, Fraction) else math.log10(size)
    )
    if digits * float(exponent) >= MAX_DIGITS:
        raise CalculationError("too_large", _TOO_LARGE)
    return base ** int(exponent) if whole and isinstance(base, Fraction) else float(base) ** float(exponent)


def _sqrt(value: Number) -> Number:
    if value < 0:
        raise CalculationError("negative_root", "Det går inte att dra roten ur ett negativt tal.")
    if isinstance(value, Fraction):
        top, bottom = math.isqrt(value.numerator), math.isqrt(value.denominator)
        if top * top == value.numerator and bottom * bottom == value.denominator:
            return Fraction(top, bottom)
    return math.sqrt(value)


def evaluate(node: Node) -> Number:
    """The value of ``node``; :class:`CalculationError` for division by zero, roots of negatives, huge results."""
    a, *rest = (evaluate(arg) for arg in node.args) if node.args else (node.number,)
    b = rest[0] if rest else Fraction(0)
    if node.op == "/" and b == 0:
        raise CalculationError("division_by_zero", _ZERO_DIVISION)
    results = {
        "num": lambda: a, "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
        "^": lambda: _power(a, b), "sqrt": lambda: _sqrt(a), "neg": lambda: -a, "%": lambda: a / 100,
    }  # fmt: skip
    value = results[node.op]()
    if (isinstance(value, float) and not math.isfinite(value)) or abs(value) >= 10**MAX_DIGITS:
        raise CalculationError("too_large", _TOO_LARGE)
    return value


def _swedish(plain: str) -> str:
    """ "-12345.5" → "-12 345,5": thousands set apart by a space, a decimal comma."""
    sign, plain = ("-", plain[1:]) if plain.startswith("-") else ("", plain)
    whole, _, fraction = plain.partition(".")
    return sign + f"{int(whole):,}".replace(",", " ") + ("," + fraction if fraction else "")


def format_number(value: Number) -> tuple[str, bool]:
    """``value`` in Swedish to 8 significant digits, and whether that is exact: (2/3) → ("0,66666667", False)."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return _swedish(str(value.numerator)), True
    x = float(value)
    if x == 0:
        return "0", value == 0
    if abs(x) < 1e-6:  # "1,5 × 10^-20", not a row of zeros
        mantissa, exponent = f"{x:.7e}".split("e")
        return f"{_swedish(mantissa.rstrip('0').rstrip('.'))} × 10^{int(exponent)}", False
    decimals = 7 - math.floor(math.log10(abs(x)))
    plain = format(Decimal(repr(round(x, decimals))), "f")  # via repr: "1e+29", never "99999999999999991…"
    plain = plain.rstrip("0").rstrip(".") if "." in plain else plain
    plain = "0" if plain in ("-0", "") else plain
    exact = Fraction(plain) == value if isinstance(value, Fraction) else abs(float(plain) - x) <= 1e-12 * abs(x)
    return _swedish(plain), exact


def render(node: Node, pretty: bool = True) -> str:
    """The formula for people ("15 % av 200", "12 × 3", "√81") or as normalised ASCII ("15%*200", "sqrt(81)")."""

    def wrap(child: Node, at_least: int) -> str:
        text = render(child, pretty)
        return text if _PRECEDENCE[child.op] >= at_least else f"({text})"

    op, args = node.op, node.args
    if op == "num":
        return _swedish(node.text) if pretty else node.text
    if op in _PRETTY:
        if pretty and op == "*" and args[0].op == "%":
            return f"{wrap(args[0].args[0], 5)} % av {wrap(args[1], 3)}"
        left = wrap(args[0], 5 if op == "^" else _PRECEDENCE[op])
        right = wrap(args[1], 3 if op == "^" else _PRECEDENCE[op] + 1)
        return f"{left}{_PRETTY[op] if pretty else op}{right}"
    if op == "neg":
        return f"-{wrap(args[0], 4)}"
    if op == "sqrt":
        return f"√{wrap(args[0], 5)}" if pretty else f"sqrt({render(args[0], pretty)})"
    return f"{wrap(args[0], 5)}{' %' if pretty else '%'}"


# Reading a Swedish message: operator phrases become symbols and number words digits; the longest run of
# formula tokens that parses is the formula.
_UNITS: Final = {
    "noll": 0, "en": 1, "ett": 1, "tva": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7, "atta": 8,
    "nio": 9, "tio": 10, "elva": 11, "tolv": 12, "tretton": 13, "fjorton": 14, "femton": 15, "sexton": 16,
    "sjutton": 17, "arton": 18, "aderton": 18, "nitton": 19,
}  # fmt: skip
_TENS: Final = {
    "tjugo": 20, "tjugu": 20, "trettio": 30, "tretti": 30, "fyrtio": 40, "fyrti": 40, "femtio": 50, "femti": 50,
    "sextio": 60, "sexti": 60, "sjuttio": 70, "sjutti": 70, "attio": 80, "atti": 80, "nittio": 90, "nitti": 90,
}  # fmt: skip
_PHRASES: Final = [
    (r"(?:kvadrat)?roten\s+(?:ur|av)|\bsqrt\b", " sqrt "), (r"\bi\s+kvadrat\b", " ^ 2 "), (r"\bi\s+kubik\b", " ^ 3 "),
    (r"(?:\bprocent\b|%)\s*av\b", " % * "), (r"\bprocent\b", " % "), (r"\bplus\b|\badderat\s+med\b", " + "),
    (r"\b(?:delat|dividerat)\s+(?:med|pa|i)\b|\bgenom\b", " / "), (r"\bminus\b", " - "),
    (r"\bg[ae]nger\b|\bgange\b|\bmultiplicerat\s+med\b", " * "), (r"\bupphojt\s+(?:till|med)\b", " ^ "),
]  # fmt: skip
_FOLD: Final = str.maketrans("åäöéü×÷−–", "aaoeu*/--")
_GROUPED_RE: Final = re.compile(r"(?<![\d,.])\d{1,3}(?:[ \u00a0]\d{3})+(?![\d]|[.,]\d)")
_WORD_RE: Final = re.compile(r"[a-z]+")
# A number glued to letters ("1e5", "3st") is not a number here.
_TEXT_TOKEN_RE: Final = re.compile(r"\d+(?:[.,]\d+)?(?![a-z\d])|\*\*|[-+*/^%()√]|[a-z\d.,]+|\S")
_OPERATORS: Final = frozenset({"+", "-", "*", "/", "^", "%", "**", "sqrt", "√"})


def _below_1000(word: str) -> int | None:
    left, hundra, word = word.rpartition("hundra")
    hundreds = (_UNITS.get(left) if left else 1) if hundra else 0
    if hundreds is None or hundreds > 9 or (hundra and hundreds == 0):
        return None
    rest = _UNITS.get(word, 0 if not word else None)
    for ten, value in _TENS.items():
        unit = _UNITS.get(word[len(ten) :], 0 if word == ten else None)
        rest = value + unit if word.startswith(ten) and unit is not None and unit < 10 else rest
    return None if rest is None else hundreds * 100 + rest


def word_value(word: str) -> int | None:
    """A Swedish number written as one folded word ("tolv", "tjugotre", "tvatusenfemhundra"); None otherwise."""
    left, tusen, right = word.rpartition("tusen")
    thousands = (_below_1000(left) if left else 1) if tusen else 0
    rest = _below_1000(right) if right else 0
    if not word or thousands is None or rest is None or (tusen and not thousands):
        return None
    return thousands * 1000 + rest


def _joins(left: str, right: str) -> bool:
    """Whether two number words written apart are one number ("tjugo tre", "två hundra", "tusen fem")."""
    if right.startswith(("hundra", "tusen")) or (left.endswith(tuple(_TENS)) and 0 < _UNITS.get(right, 0) < 10):
        return True
    return left.endswith(("hundra", "tusen")) and right not in ("en", "ett")


def _numbers_in_words(text: str) -> str:
    """Number words as digits: "tjugo tre gånger två tusen" (folded) → "23 ganger 2000"."""
    out: list[str] = []
    pending, last = "", 0
    for match in _WORD_RE.finditer(text):
        word, gap = match.group(), text[last : match.start()]
        if pending and not gap.strip() and _joins(pending, word) and word_value(pending + word) is not None:
            pending += word
        else:
            out += [str(word_value(pending))] if pending else []
            pending = word if word_value(word) is not None else ""
            out += [gap] if pending else [gap, word]
        last = match.end()
    return "".join(out + ([str(word_value(pending))] if pending else []) + [text[last:]])


def formula_from_text(text: str) -> str | None:
    """The arithmetic in a Swedish message as normalised ASCII ("vad är 15 procent av 200" → "15%*200"), or None."""
    folded = _GROUPED_RE.sub(lambda m: re.sub(r"\s", "", m.group()), text.lower().translate(_FOLD))
    for pattern, symbol in _PHRASES:
        folded = re.sub(pattern, symbol, folded)
    folded = re.sub(r"(?<=\d)\s*x\s*(?=\d)", "*", _numbers_in_words(folded))
    runs: list[list[str]] = [[]]
    for item in _TEXT_TOKEN_RE.findall(folded):
        if item[0].isdigit() or item in _OPERATORS or item in ("(", ")"):
            runs[-1].append(item)
        else:
            runs.append([])
    best: str | None = None
    for run in runs:
        while run and run[-1] in ("+", "-", "*", "/", "^", "(", "sqrt", "√"):
            run.pop()
        while run and run[0] in ("*", "/", "^", "%", ")"):
            run.pop(0)
        if not any(t in _OPERATORS for t in run) or not any(t[0].isdigit() for t in run):
            continue
        formula = " ".join(run)
        try:
            tree = core = parse(formula)
            while core.op == "neg":  # "minus fem" alone is a number, not a calculation
                core = core.args[0]
            if core.op == "num":
                continue
            formula = render(tree, pretty=False)
        except ExpressionError:
            continue
        except CalculationError:
            pass  # too long or too deep: the tool says so in Swedish
        best = formula if best is None or len(formula) > len(best) else best
    return best


class CalculateArgs(BaseModel):
    """Arguments of ``math.calculate``."""

    expression: str = Field(
        min_length=1,
        description="Arithmetic as an ASCII formula: numbers (decimal point or comma, no thousands separators), "
        "+ - * / ^ (power), parentheses, sqrt(x), and postfix % meaning /100 (15 % of 200 is '15%*200'). "
        "No variables or other functions.",
    )


class CalculateTool:
    """``math.calculate``: the value of an arithmetic formula, in Swedish ("12 × 3 = 36.")."""

    name: ClassVar[str] = "math.calculate"
    description: ClassVar[str] = (
        "Evaluate arithmetic exactly: + - * / ^, parentheses, square roots and percentages (no variables)."
    )
    Args: ClassVar[type[BaseModel]] = CalculateArgs
    timeout_s: ClassVar[float] = 0.2

    def args_from_context(self, ctx: ToolContext) -> CalculateArgs | None:
        """The NLU's ``expression`` entity, else the formula read from the message; None when there is none."""
        own = formula_from_text(ctx.text) if len(ctx.text) <= _MAX_TEXT else None
        if own is not None and re.search(r"%|procent", ctx.text, re.IGNORECASE):
            return CalculateArgs(expression=own)  # "15 % av 200 är 30" reads better than the NLU's "200*15/100"
        for entity in ctx.entities:
            formula = entity.get("expression")
            if entity.get("type") == "expression" and isinstance(formula, str) and formula:
                return CalculateArgs(expression=formula)
        return CalculateArgs(expression=own) if own is not None else None

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        """Compute: an impossible calculation is a Swedish failure, an unreadable formula a ToolArgumentsError."""
        try:
            checked = args if isinstance(args, CalculateArgs) else CalculateArgs.model_validate(args.model_dump())
            tree = parse(checked.expression)
            value = evaluate(tree)
        except (ValidationError, ExpressionError) as exc:
            raise ToolArgumentsError(f"math.calculate: {exc}") from exc
        except CalculationError as exc:
            failed = {"expression": checked.expression}
            return ToolResult(self.name, checked.model_dump(), failed, exc.message, ok=False, error=exc.code)
        text, exact = format_number(value)
        shown = render(tree)
        if tree.op == "*" and tree.args[0].op == "%":
            answer = f"{shown} är {'' if exact else 'ungefär '}{text}."
        else:
            answer = f"{shown} {'=' if exact else '≈'} {text}."
        number = float(value)
        data: dict[str, Any] = {
            "expression": render(tree, pretty=False), "value": int(number) if number.is_integer() else number,
            "text": text, "exact": exact,
        }  # fmt: skip
        return ToolResult(self.name, checked.model_dump(), data, answer)
