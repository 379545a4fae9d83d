"""Server-sent events framing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from alice.errors import UpstreamTimeoutError
from orchestrator import sse
from orchestrator.api import frame_events


def test_frame_is_event_line_data_line_blank_line() -> None:
    assert sse.frame("delta", '{"content":"hej"}') == b'event: delta\ndata: {"content":"hej"}\n\n'


def test_multiline_data_becomes_several_data_lines() -> None:
    framed = sse.frame("x", "a\nb\r\nc")
    assert framed == b"event: x\ndata: a\ndata: b\ndata: c\n\n"
    assert sse.parse(framed.decode()) == [("x", "a\nb\nc")]


def test_json_event_keeps_swedish_letters_and_has_no_raw_newline() -> None:
    framed = sse.json_event("delta", {"content": "Hej på dig!\nHur mår du?"})
    text = framed.decode()
    assert "på" in text
    assert text.count("\n") == 3  # event line, one data line, blank line
    [(name, data)] = sse.parse(text)
    assert name == "delta"
    assert json.loads(data) == {"content": "Hej på dig!\nHur mår du?"}


def test_parse_reads_a_stream_of_events_and_skips_comments() -> None:
    stream = (
        sse.json_event("meta", {"route": "micro"})
        + b": keep-alive\n\n"
        + sse.json_event("delta", {"content": "a"})
        + sse.json_event("done", {"response": "a"})
    ).decode()
    assert [name for name, _ in sse.parse(stream)] == ["meta", "delta", "done"]


@pytest.mark.parametrize("name", ["", "a\nb", "a\rb"])
def test_event_name_must_be_one_line(name: str) -> None:
    with pytest.raises(ValueError):
        sse.frame(name, "x")


def test_stream_headers_disable_caching_and_proxy_buffering() -> None:
    assert sse.HEADERS == {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    assert sse.MEDIA_TYPE == "text/event-stream"


async def test_an_error_mid_stream_becomes_an_error_event_with_a_problem_body() -> None:
    async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
        yield "meta", {"route": "deep"}
        yield "delta", {"content": "Hej"}
        raise UpstreamTimeoutError("Språkmodellen svarade inte i tid.")

    text = b"".join([chunk async for chunk in frame_events(events(), "/api/chat")]).decode()
    parsed = sse.parse(text)
    assert [name for name, _ in parsed] == ["meta", "delta", "error"]
    problem = json.loads(parsed[-1][1])
    assert (problem["status"], problem["code"], problem["instance"]) == (504, "upstream_timeout", "/api/chat")
    assert problem["detail"] == "Språkmodellen svarade inte i tid."


async def test_an_unexpected_error_mid_stream_hides_its_details() -> None:
    async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
        yield "meta", {"route": "deep"}
        raise RuntimeError("secret internals")

    text = b"".join([chunk async for chunk in frame_events(events(), "/api/chat")]).decode()
    name, data = sse.parse(text)[-1]
    assert name == "error" and "secret" not in data and json.loads(data)["code"] == "internal_error"
