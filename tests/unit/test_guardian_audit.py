"""The audit trail's pure parts: decisions, the stream fields, the file sink, a failing sink."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from guardian.audit import AuditEntry, Auditor, FileAuditSink, decide


def test_decisions_from_status_code_and_pii() -> None:
    assert decide(200, None, {}) == ("allow", "ok")
    assert decide(200, None, {"PERSONNUMMER": 1}) == ("redact", "ok")
    assert decide(503, None, {}) == ("allow", "ok")  # allowed; the orchestrator could not answer
    assert decide(401, "unauthenticated", {}) == ("deny", "unauthenticated")
    assert decide(403, "pii_blocked", {"IBAN": 1}) == ("deny", "pii_blocked")
    assert decide(429, "rate_limited", {}) == ("limit", "rate_limited")
    assert decide(499, "client_disconnected", {}) == ("error", "client_disconnected")


def test_an_entry_survives_the_stream_fields() -> None:
    entry = AuditEntry(1.5, "rid", "/api/chat", "redact", "ok", 200, "acme", "k1", {"EMAIL": 2})
    fields = {k.encode(): v.encode() for k, v in entry.as_fields().items()}
    assert AuditEntry.from_fields(fields) == entry
    anonymous = AuditEntry(2.0, None, "/api/chat", "deny", "unauthenticated", 401)
    assert AuditEntry.from_fields(anonymous.as_fields()) == anonymous


class Broken:
    async def write(self, entry: AuditEntry) -> None:
        raise ConnectionError("down")


def test_the_file_sink_appends_and_a_broken_sink_does_not_stop_the_others(tmp_path: Path) -> None:
    errors: list[str] = []
    path = tmp_path / "audit" / "trail.jsonl"
    auditor = Auditor([Broken(), FileAuditSink(path)], errors.append)

    async def two() -> None:
        await auditor.record(route="/api/chat", status=200, code=None, request_id="a", tenant="t", key_id="k", pii={})
        await auditor.record(route="/api/chat", status=429, code="rate_limited", request_id="b", tenant="t",
                             key_id="k", pii={})  # fmt: skip

    asyncio.run(two())
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(e["request_id"], e["decision"]) for e in lines] == [("a", "allow"), ("b", "limit")]
    assert errors == ["Broken", "Broken"]
