"""Injection verdicts remembered by message: a repeated message is not screened again.

Screening is a pure function of the message and the threshold (the model is fixed for the process's life), and
the costly part, the e5 second look, falls on the same messages every time they come. A bounded LRU maps a keyed
BLAKE2b digest of (threshold, message) to the verdict, so the guardian keeps no message text, and a repeat costs
a dictionary lookup instead of a thread hop and the classifier. ``alice bench peers`` measured the repeats' tail.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class VerdictCache(Generic[V]):
    """At most ``max_entries`` verdicts, least recently used out first; 0 keeps none."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max(0, max_entries)
        self._entries: OrderedDict[bytes, V] = OrderedDict()
        # a per-process key: the digests cannot be matched against guessed messages outside this process
        self._key = os.urandom(16)

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, message: str, threshold: float) -> bytes:
        """The digest a message is remembered under."""
        h = hashlib.blake2b(key=self._key, digest_size=16)
        h.update(repr(threshold).encode())
        h.update(b"\0")
        h.update(message.encode("utf-8", "surrogatepass"))
        return h.digest()

    def get(self, key: bytes) -> V | None:
        """The verdict for ``key``, or None; a hit becomes the most recently used."""
        verdict = self._entries.get(key)
        if verdict is not None:
            self._entries.move_to_end(key)
        return verdict

    def put(self, key: bytes, verdict: V) -> None:
        """Remember ``verdict``, dropping the least recently used one beyond the bound."""
        if self.max_entries == 0:
            return
        self._entries[key] = verdict
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
