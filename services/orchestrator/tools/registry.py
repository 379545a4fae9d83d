"""The tools this orchestrator can run, by name (= the intent that asks for them), and the caller's gate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestrator.tools.base import Tool, json_schema

ALL_TOOLS = "*"


def allowed(tool: str, granted: Iterable[str]) -> bool:
    """True when the guardian granted ``tool`` (or every tool, ``*``) to the caller."""
    grants = set(granted)
    return ALL_TOOLS in grants or tool in grants


class ToolRegistry:
    """Tools by name; a tool's name is the intent it answers (``time.now``, ``timer.set``, …)."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool

    def get(self, name: str | None) -> Tool | None:
        """The tool called ``name``, if there is one."""
        return self._tools.get(name) if name else None

    def names(self) -> frozenset[str]:
        """Every tool's name."""
        return frozenset(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        """Function descriptions for a planner LLM."""
        return [json_schema(tool) for tool in self._tools.values()]
