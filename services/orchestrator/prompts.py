"""The Swedish system prompts. :func:`prompt_version` keys cached answers: it changes with any prompt's text."""

from __future__ import annotations

import hashlib

PROMPT_VERSION = "2026-11.2"

SYSTEM_PROMPT = (
    "Du är Alice, en hjälpsam, vänlig och saklig AI-assistent. "
    "Svara alltid på svenska, även om frågan är på ett annat språk, om inte användaren ber om något annat. "
    "Var tydlig och korrekt. Om du inte vet svaret, säg det ärligt i stället för att gissa. "
    "Hitta aldrig på fakta, personuppgifter eller källor."
)

MICRO_SUFFIX = " Svara kort: en eller två meningar."
DEEP_SUFFIX = " Svara koncist, med högst två korta stycken, och upprepa dig inte."


#: The micro route's structured call: the answer as JSON (Ollama's ``format`` enforces the shape), with examples.
MICRO_JSON_SUFFIX = (
    ' Svara endast med JSON: {"svar": "<ditt svar>"}. Exempel: "hej" → {"svar": "Hej! Vad kan jag hjälpa dig med?"};'
    ' "tack för hjälpen" → {"svar": "Varsågod, säg till om du behöver något mer."}'
)


def system_prompt(route: str) -> str:
    """The system prompt for the route that answers (micro answers are kept short, deep ones concise)."""
    return SYSTEM_PROMPT + (MICRO_SUFFIX if route == "micro" else DEEP_SUFFIX)


def prompt_version() -> str:
    """:data:`PROMPT_VERSION` plus a hash of every route's prompt, so an edited prompt never serves old answers."""
    texts = "\x00".join([*(system_prompt(route) for route in ("micro", "deep")), MICRO_JSON_SUFFIX])
    return f"{PROMPT_VERSION}-{hashlib.sha256(texts.encode()).hexdigest()[:8]}"
