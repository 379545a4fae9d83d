"""A bounded first-in-first-out store of ``(float, float, bool)`` records in flat arrays.

The latency windows (:mod:`alice.slo`) and the scaler's call meters keep tens of thousands of recent requests as
``(time, duration, ok)``. As tuples in a ``deque`` each costs ~120 B (the tuple, two float objects, the slot), so
the windows grew the orchestrator by ~0.4 MB a minute for their first 15 minutes under load (``alice bench load``)
and would have reached ~11 MB. Here a record costs 17 B in two ``array('d')`` and a ``bytearray``.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator


class TimedSamples:
    """At most ``maxlen`` records, oldest first; appending to a full store drops the oldest (like a deque)."""

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._a = array("d")
        self._b = array("d")
        self._ok = bytearray()
        self._start = 0  # slot of the oldest record
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def append(self, a: float, b: float, ok: bool) -> None:
        """Add a record at the new end."""
        cap = len(self._a)
        if cap < self.maxlen and self._start + self._len == cap:  # room to grow, and the end is free
            self._a.append(a)
            self._b.append(b)
            self._ok.append(ok)
            self._len += 1
            return
        if self._len == cap and cap < self.maxlen:  # full, wrapped, but allowed to grow: unwrap first
            self._unwrap()
            self.append(a, b, ok)
            return
        if self._len < cap:
            slot = (self._start + self._len) % cap
            self._len += 1
        else:  # full at maxlen: overwrite the oldest
            slot = self._start
            self._start = (self._start + 1) % cap
        self._a[slot], self._b[slot], self._ok[slot] = a, b, ok

    def first(self) -> tuple[float, float, bool]:
        """The oldest record (IndexError when empty)."""
        if not self._len:
            raise IndexError("no records")
        i = self._start
        return self._a[i], self._b[i], bool(self._ok[i])

    def popleft(self) -> None:
        """Drop the oldest record (IndexError when empty)."""
        if not self._len:
            raise IndexError("no records")
        self._start = (self._start + 1) % len(self._a)
        self._len -= 1
        if not self._len:
            self._start = 0

    def __iter__(self) -> Iterator[tuple[float, float, bool]]:
        cap = len(self._a)
        a, b, ok = self._a, self._b, self._ok
        for k in range(self._len):
            i = (self._start + k) % cap
            yield a[i], b[i], bool(ok[i])

    def _unwrap(self) -> None:
        order = [(self._start + k) % len(self._a) for k in range(self._len)]
        self._a = array("d", (self._a[i] for i in order))
        self._b = array("d", (self._b[i] for i in order))
        self._ok = bytearray(self._ok[i] for i in order)
        self._start = 0
