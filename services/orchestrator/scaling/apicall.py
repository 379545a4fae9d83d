"""One HTTP request a scaling backend sends (or, in a dry run, would send), as the dry runs print it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Environment variables whose values a printed request hides (the request itself carries them unchanged).
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_?KEYS?|PRIVATE|CREDENTIAL", re.IGNORECASE)
REDACTED = "<redacted>"


@dataclass(frozen=True)
class ApiCall:
    """Method, path, query, content type and JSON body of one API request."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    body: Any = None
    note: str = field(default="", compare=False)

    @classmethod
    def from_wire(cls, method: str, url: str, headers: Any, body: str | bytes | None, note: str = "") -> ApiCall:
        """From what an HTTP library was about to send: the full URL, its headers and the encoded body."""
        parts = urlsplit(url)
        content_type = None
        for name, value in dict(headers or {}).items():
            if str(name).lower() == "content-type":
                content_type = str(value)
        parsed = json.loads(body) if body else None
        return cls(method.upper(), parts.path, tuple(parse_qsl(parts.query)), content_type, parsed, note)

    def view(self, redact: bool = True) -> dict[str, Any]:
        """The request as printed: JSON-ready, secret-looking environment values hidden unless ``redact=False``."""
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.query:
            out["query"] = dict(self.query)
        if self.content_type:
            out["content_type"] = self.content_type
        if self.body is not None:
            out["body"] = redacted(self.body) if redact else self.body
        if self.note:
            out["note"] = self.note
        return out


def redacted(body: Any) -> Any:
    """``body`` with the values of ``Env`` entries named like secrets replaced by ``<redacted>``."""
    if isinstance(body, dict):
        return {k: (_env(v) if k == "Env" and isinstance(v, list) else redacted(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [redacted(v) for v in body]
    return body


def _env(entries: list[Any]) -> list[Any]:
    out = []
    for entry in entries:
        name, sep, _value = str(entry).partition("=")
        out.append(f"{name}={REDACTED}" if sep and SECRET_NAME.search(name) else entry)
    return out
