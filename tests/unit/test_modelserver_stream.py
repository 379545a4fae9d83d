"""Tokens across the thread boundary, NDJSON framing and cancellation (a plain thread plays the model)."""

from __future__ import annotations

import asyncio
import json
import threading

from modelserver.meter import GenerationStats
from modelserver.stream import Delta, Failed, Finished, TokenStream, collect, ndjson_line, ndjson_stream

STATS = GenerationStats(
    prompt_tokens=10, prompt_evaluated=4, generated=3, queued_s=0.0, prompt_s=0.1, generate_s=0.2, total_s=0.3
)


def test_ndjson_line_is_one_compact_utf8_line_even_with_newlines_inside() -> None:
    line = ndjson_line({"message": {"content": "Hej\nvärlden"}, "done": False})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert "världen" in line.decode("utf-8")
    assert json.loads(line) == {"message": {"content": "Hej\nvärlden"}, "done": False}


def _producer(stream: TokenStream, pieces: list[str], gate: threading.Event | None = None) -> threading.Thread:
    def run() -> None:
        for piece in pieces:
            if stream.cancelled:
                stream.push(Finished("cancelled", STATS))
                return
            stream.push(Delta(piece))
            if gate is not None:
                gate.wait(2)
        stream.push(Finished("stop", STATS))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


async def test_stream_frames_each_delta_then_a_final_object() -> None:
    stream = TokenStream(asyncio.get_running_loop())
    thread = _producer(stream, ["Hej", " på", " dig"])
    frames = [
        json.loads(line)
        async for line in ndjson_stream(
            stream, lambda t: {"text": t, "done": False}, lambda end: {"done": True, "reason": end.reason}
        )
    ]
    thread.join()
    assert frames == [
        {"text": "Hej", "done": False},
        {"text": " på", "done": False},
        {"text": " dig", "done": False},
        {"done": True, "reason": "stop"},
    ]


async def test_failure_is_framed_as_an_ollama_error_line() -> None:
    stream = TokenStream(asyncio.get_running_loop())
    stream.push(Delta("a"))
    stream.push(Failed("generation failed"))
    lines = [line async for line in ndjson_stream(stream, lambda t: {"t": t}, lambda e: {"done": True})]
    assert json.loads(lines[-1]) == {"error": "generation failed"}


async def test_collect_joins_the_text() -> None:
    stream = TokenStream(asyncio.get_running_loop())
    thread = _producer(stream, ["a", "b", "c"])
    text, end = await collect(stream)
    thread.join()
    assert text == "abc"
    assert isinstance(end, Finished) and end.reason == "stop"


async def test_leaving_the_stream_early_cancels_the_producer() -> None:
    stream = TokenStream(asyncio.get_running_loop())
    gate = threading.Event()
    thread = _producer(stream, [str(i) for i in range(100)], gate)
    frames = ndjson_stream(stream, lambda t: {"t": t}, lambda e: {"done": True})
    first = await anext(frames)
    await frames.aclose()  # what Starlette does when the client disconnects
    assert stream.cancelled
    gate.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert json.loads(first) == {"t": "0"}


async def test_cancel_before_start_cancels_the_queued_future() -> None:
    from concurrent.futures import Future

    stream = TokenStream(asyncio.get_running_loop())
    stream.future = Future()
    stream.cancel()
    assert stream.future.cancelled()


def test_push_after_the_loop_closed_marks_the_stream_cancelled() -> None:
    loop = asyncio.new_event_loop()
    stream = TokenStream(loop)
    loop.close()
    stream.push(Delta("x"))
    assert stream.cancelled
