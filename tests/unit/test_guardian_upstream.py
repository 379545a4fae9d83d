"""How the guardian maps orchestrator failures and relays its answers (guardian.upstream, guardian.routes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from alice.errors import DependencyDownError, UpstreamError, UpstreamTimeoutError
from guardian.metrics import GuardianMetrics
from guardian.routes import _relay
from guardian.upstream import Upstream, is_event_stream, is_problem, outcome_label, relayed_headers


def upstream() -> Upstream:
    # The client is never used to send here; only the mapping and relay logic are under test.
    client = httpx.AsyncClient(base_url="http://127.0.0.1:9")
    return Upstream(client, b"s" * 32, GuardianMetrics(CollectorRegistry()), retry_after_s=2)


@pytest.mark.parametrize(
    ("exc", "error", "label"),
    [
        (httpx.ConnectError("refused"), DependencyDownError, "connect_error"),
        (httpx.ConnectTimeout("slow"), DependencyDownError, "connect_error"),
        (httpx.PoolTimeout("full"), DependencyDownError, "connect_error"),
        (httpx.ReadTimeout("slow"), UpstreamTimeoutError, "timeout"),
        (httpx.WriteTimeout("slow"), UpstreamTimeoutError, "timeout"),
        (httpx.RemoteProtocolError("dropped"), UpstreamError, "protocol_error"),
        (httpx.ReadError("reset"), UpstreamError, "protocol_error"),
    ],
)
def test_transport_failures_map_to_503_504_502(exc: httpx.HTTPError, error: type, label: str) -> None:
    mapped = upstream().error_for(exc)
    assert type(mapped) is error
    assert outcome_label(exc) == label
    if error is DependencyDownError:
        assert mapped.status == 503 and mapped.retry_after == 2
    assert "refused" not in mapped.detail and "reset" not in mapped.detail  # no internal detail leaks


def test_content_type_checks_and_relayed_headers() -> None:
    sse = httpx.Response(200, headers={"content-type": "text/event-stream; charset=utf-8"})
    problem = httpx.Response(503, headers={"content-type": "application/problem+json", "retry-after": "3"})
    assert is_event_stream(sse) and not is_problem(sse)
    assert is_problem(problem) and not is_event_stream(problem)
    answer = httpx.Response(
        200,
        headers={
            "content-type": "application/json",
            "x-route": "tool",
            "x-intent": "time.now",
            "x-cache": "hit",
            "set-cookie": "a=b",
            "server": "uvicorn",
            "content-length": "2",
        },
    )
    assert relayed_headers(answer) == {
        "content-type": "application/json",
        "x-route": "tool",
        "x-intent": "time.now",
        "x-cache": "hit",
    }
    assert relayed_headers(problem) == {"content-type": "application/problem+json", "retry-after": "3"}


async def test_read_turns_a_bare_5xx_into_502_but_passes_problems_through() -> None:
    up = upstream()
    bare = httpx.Response(500, headers={"content-type": "text/html"}, content=b"<h1>oops</h1>")
    with pytest.raises(UpstreamError):
        await up.read(bare)
    body = json.dumps({"code": "dependency_down", "status": 503}).encode()
    problem = httpx.Response(503, headers={"content-type": "application/problem+json"}, content=body)
    assert await up.read(problem) == body


class BrokenStream(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes], fail: bool) -> None:
        self.chunks = chunks
        self.fail = fail
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.fail:
            raise httpx.ReadTimeout("no more data")

    async def aclose(self) -> None:
        self.closed = True


async def test_relay_passes_chunks_through_in_order_and_closes() -> None:
    stream = BrokenStream([b"data: a\n\n", b"data: b\n\n"], fail=False)
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)
    chunks = [chunk async for chunk in _relay(upstream(), response, "/api/chat")]
    assert chunks == [b"data: a\n\n", b"data: b\n\n"]
    assert stream.closed


async def test_a_broken_stream_ends_with_an_error_event() -> None:
    stream = BrokenStream([b"data: a\n\n"], fail=True)
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)
    chunks = [chunk async for chunk in _relay(upstream(), response, "/api/chat")]
    assert chunks[0] == b"data: a\n\n"
    event, data = chunks[1].decode().strip().split("\n")
    assert event == "event: error"
    problem = json.loads(data.removeprefix("data: "))
    assert (problem["status"], problem["code"]) == (504, "upstream_timeout")
    assert stream.closed
