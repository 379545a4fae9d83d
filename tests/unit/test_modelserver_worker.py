"""The single worker thread and its bounded waiting line."""

from __future__ import annotations

import asyncio
import threading

import pytest

from modelserver.errors import ModelBusyError
from modelserver.worker import Worker


async def test_jobs_run_one_at_a_time_on_one_thread_and_the_line_is_bounded() -> None:
    depths: list[int] = []
    worker = Worker("w", max_queue=2, retry_after_s=3.0, on_depth=depths.append)
    gate = threading.Event()
    threads: set[str] = set()

    def job(n: int) -> int:
        threads.add(threading.current_thread().name)
        gate.wait(5)
        return n

    running = worker.submit(job, 0)
    while worker.waiting:  # until the first job has started
        await asyncio.sleep(0.01)
    waiting = [worker.submit(job, 1), worker.submit(job, 2)]
    with pytest.raises(ModelBusyError) as busy:
        worker.submit(job, 3)
    assert busy.value.status == 503 and busy.value.retry_after == 3.0
    assert worker.waiting == 2
    gate.set()
    results = [await asyncio.wrap_future(f) for f in (running, *waiting)]
    assert results == [0, 1, 2]
    assert len(threads) == 1
    assert max(depths) == 2 and depths[-1] == 0
    await asyncio.to_thread(worker.shutdown)


async def test_a_cancelled_waiting_job_leaves_the_line() -> None:
    worker = Worker("w", max_queue=1, retry_after_s=1.0)
    gate = threading.Event()
    first = worker.submit(gate.wait, 5)
    while worker.waiting:
        await asyncio.sleep(0.01)
    second = worker.submit(gate.wait, 5)
    assert worker.waiting == 1
    assert second.cancel()
    assert worker.waiting == 0
    worker.submit(gate.wait, 5)  # room again
    gate.set()
    await asyncio.wrap_future(first)
    await asyncio.to_thread(worker.shutdown)


async def test_run_returns_the_result_and_raises_the_error() -> None:
    worker = Worker("w", max_queue=4, retry_after_s=1.0)
    assert await worker.run(lambda a, b: a + b, 2, 3) == 5

    def fail() -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        await worker.run(fail)
    await asyncio.to_thread(worker.shutdown)
