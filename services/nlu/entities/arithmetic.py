"""Arithmetic written in words or symbols: "150 delat med 6", "15 % av 2500", "roten ur 81", "3+4*2".

A regular expression finds a run of operands joined by operators; a small recursive-descent parser then
evaluates it with the usual precedence (``^`` binds tightest and to the right, then ``* / % av``, then
``+ -``) and writes a normalised ASCII expression next to the value. Nothing is ever handed to ``eval``.
Impossible results (division by zero, the root of a negative number, absurd powers) yield no entity.
"""

from __future__ import annotations

import math
import re
from typing import Final, NamedTuple

from nlu.entities.numbers import DIGITS, WORD_NUMBER, quantity_value
from nlu.entities.spans import Span, as_number

_OPERATORS: Final[dict[str, str]] = {
    "+": "+", "plus": "+", "adderat med": "+", "-": "-", "minus": "-", "*": "*", "×": "*", "x": "*",
    "ganger": "*", "gange": "*", "multiplicerat med": "*", "/": "/", "÷": "/", "delat med": "/",
    "delat pa": "/", "delat i": "/", "dividerat med": "/", "genom": "/", "^": "^", "**": "^",
    "upphojt till": "^", "upphojt med": "^", "% av": "%", "procent av": "%",
}  # fmt: skip
_SPELLED: Final = sorted((k for k in _OPERATORS if k[0].isalpha() or " " in k), key=len, reverse=True)
_OP: Final = (
    r"(?:\s*(?:\*\*|[+*×/÷^]|%\s*av(?!\w)|procent\s+av(?!\w))\s*|\s+-\s+|\s+(?:"
    + "|".join(w.replace(" ", r"\s+") for w in _SPELLED if w[0] != "%")
    + r")\s+)"
)
_PREFIX: Final = r"(?:(?:kvadratroten\s+ur|roten\s+ur|roten\s+av|sqrt|√)\s*)"
_POSTFIX: Final = r"(?:\s+i\s+(?:kvadrat|kubik)(?!\w))"
_NUMBER: Final = rf"(?:(?!0\d){DIGITS}|{WORD_NUMBER})"
_OPERAND: Final = rf"(?:{_PREFIX}*(?:\(\s*)*{_NUMBER}(?:\s*\))*{_POSTFIX}?)"
# A currency after the last operand belongs to the span ("15 % av 2500 kr"), not to the formula.
_CURRENCY: Final = r"(?:\s*(?:kronor|kr|sek|euro|dollar|:-)(?!\w))?"
_EXPRESSION_RE: Final = re.compile(rf"(?<![\w.,])(?P<formula>{_OPERAND}(?:{_OP}{_OPERAND})*)(?![\w]|[.,]\d){_CURRENCY}")
# The tokenizer eats leading whitespace itself, so its postfix and spelled operators start at the word.
_POSTFIX_TOKEN: Final = _POSTFIX.replace(r"\s+", "", 1)
_OP_TOKEN: Final = _OP.replace(r"\s+(?:", "(?:", 1)
_TOKEN_RE: Final = re.compile(
    rf"\s*(?:(?P<num>{_NUMBER})(?![\w])|(?P<prefix>{_PREFIX})|(?P<postfix>{_POSTFIX_TOKEN})"
    rf"|(?P<op>{_OP_TOKEN})|(?P<paren>[()]))"
)
_MATH_CUE_RE: Final = re.compile(r"vad\s+ar|vad\s+blir|hur\s+mycket|rakna|berakna|=|\?")
_MAX_MAGNITUDE: Final = 1e15


class _Node(NamedTuple):
    value: float
    text: str
    precedence: int  # 1: + -, 2: * /, 3: ^, 4: a number, a bracket or a function


def _wrap(node: _Node, precedence: int) -> str:
    return node.text if node.precedence >= precedence else f"({node.text})"


class _Parser:
    """Recursive descent over (kind, value) tokens; raises ValueError on anything it cannot evaluate."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def parse(self) -> _Node:
        node = self.sum()
        if self.peek()[0] != "end":
            raise ValueError("trailing tokens")
        return node

    def sum(self) -> _Node:
        node = self.product()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            right = self.product()
            value = node.value + right.value if op == "+" else node.value - right.value
            node = _Node(value, f"{node.text}{op}{_wrap(right, 2)}", 1)
        return node

    def product(self) -> _Node:
        node = self.power()
        while self.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            op = self.take()[1]
            right = self.power()
            if op == "%":  # "15 % av 2500": 2500*15/100
                node = _Node(right.value * node.value / 100, f"{_wrap(right, 2)}*{_wrap(node, 3)}/100", 2)
            elif op == "/":
                if right.value == 0:
                    raise ValueError("division by zero")
                node = _Node(node.value / right.value, f"{node.text}/{_wrap(right, 3)}", 2)
            else:
                node = _Node(node.value * right.value, f"{node.text}*{_wrap(right, 3)}", 2)
        return node

    def power(self) -> _Node:
        base = self.unary()
        if self.peek() != ("op", "^"):
            return base
        self.take()
        exponent = self.power()
        if abs(exponent.value) > 1000:
            raise ValueError("exponent too large")
        value = math.pow(base.value, exponent.value)  # OverflowError is a ValueError's sibling: caught below
        return _Node(value, f"{_wrap(base, 4)}^{_wrap(exponent, 3)}", 3)

    def unary(self) -> _Node:
        kind, _ = self.peek()
        if kind == "prefix":
            self.take()
            operand = self.unary()
            if operand.value < 0:
                raise ValueError("root of a negative number")
            return _Node(math.sqrt(operand.value), f"sqrt({operand.text})", 4)
        return self.postfix(self.atom())

    def postfix(self, node: _Node) -> _Node:
        while self.peek()[0] == "postfix":
            exponent = 3 if "kubik" in self.take()[1] else 2
            node = _Node(node.value**exponent, f"{_wrap(node, 4)}^{exponent}", 3)
        return node

    def atom(self) -> _Node:
        kind, text = self.take()
        if kind == "paren" and text == "(":
            inner = self.sum()
            if self.take() != ("paren", ")"):
                raise ValueError("unbalanced bracket")
            return _Node(inner.value, f"({inner.text})", 4)
        if kind == "num":
            value = quantity_value(text)
            if value is not None:
                return _Node(value, str(value), 4)
        raise ValueError(f"unexpected {kind}")


def _tokens(expression: str) -> list[tuple[str, str]] | None:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expression):
        match = _TOKEN_RE.match(expression, pos)
        if match is None or match.end() == pos:
            return None
        kind = match.lastgroup or ""
        raw = re.sub(r"\s+", " ", match.group(kind).strip())
        tokens.append((kind, _OPERATORS.get(raw, raw) if kind == "op" else raw))
        pos = match.end()
    return tokens


def _looks_like_a_date(tokens: list[tuple[str, str]], folded: str) -> bool:
    """ "3/3" is the third of March unless the sentence asks for a calculation."""
    if [kind for kind, _ in tokens] != ["num", "op", "num"] or tokens[1][1] != "/":
        return False
    day, month = quantity_value(tokens[0][1]), quantity_value(tokens[2][1])
    is_day_month = isinstance(day, int) and isinstance(month, int) and 1 <= day <= 31 and 1 <= month <= 12
    return is_day_month and not _MATH_CUE_RE.search(folded)


def evaluate(expression: str) -> tuple[int | float, str] | None:
    """(value, normalised ASCII expression) for one folded expression; None if it is not a valid one."""
    tokens = _tokens(expression)
    if not tokens or all(kind in ("num", "paren") for kind, _ in tokens):
        return None
    try:
        node = _Parser(tokens).parse()
    except (ValueError, OverflowError, ZeroDivisionError):
        return None
    if not math.isfinite(node.value) or abs(node.value) > _MAX_MAGNITUDE:
        return None
    return as_number(node.value), node.text


def find_expressions(folded: str) -> list[Span]:
    """Arithmetic expressions in ``folded``: value is the result, ``expression`` the normalised formula."""
    spans: list[Span] = []
    for match in _EXPRESSION_RE.finditer(folded):
        tokens = _tokens(match.group("formula"))
        if tokens is None or _looks_like_a_date(tokens, folded):
            continue
        result = evaluate(match.group("formula"))
        if result is not None:
            spans.append(Span(match.start(), match.end(), "expression", result[0], {"expression": result[1]}))
    return spans
