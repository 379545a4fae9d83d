"""Spiral matcher: an approximate nearest-neighbour index on a golden-angle Fibonacci lattice (DESIGN §5).

Cells. Every entry lies in one of ``points`` cells (``FIB_SPIRAL_POINTS``, 89). A fixed :class:`Projection` (a
centre and axes fitted once on a calibration corpus, or seeded random) gives the vector's first ``dimensions``
whitened components. For 2 the point is pulled radially onto the unit disc, so that a standard normal point lands
uniformly, and its cell is the nearest point of the sunflower (Vogel) lattice: point i at radius sqrt((i + 0.5) / n)
and angle i x the golden angle. For 3 its direction picks the nearest point of the Fibonacci sphere. The cells hold
about equally many entries, and an entry's cell depends on its vector alone, never on the other entries or their
order, so replicas that load the same Redis data in any order build the same index.

Lookup. The ``probes`` lattice points nearest the query name the cells to scan (21 of 89 by default, about a
quarter of the entries: a 2-D projection keeps neighbours together only loosely). Their entries are compared on
``bits`` sign bits of the centred vector along seeded random directions in the projection's span (SimHash: 16 bytes
an entry, stored per cell beside the row ids), the smallest Hamming radius that takes in ``shortlist`` of them is
kept whole (ties included, so the shortlist does not depend on order either), and that shortlist is re-ranked by
exact cosine, ties by key.

Upkeep. Adds and removes are O(1) amortised: per-cell and per-scope arrays grow by doubling and remove by swapping
the last element into the hole; freed rows are reused. :class:`BruteForceIndex` is the exact baseline.

Measured by ``alice bench cache`` at 100,000 entries (5,183 real dev sentences, the rest Gaussian draws with their
mean and covariance), one BLAS thread on the shared two-core dev machine: recall@1 against brute force 0.978 on
paraphrase queries whose best match is at cosine >= 0.9, 0.874 on arbitrary unstored sentences; lookup p50
0.39-0.56 ms, p95 0.56-0.76 ms over two runs (brute force p50 about 16 ms). Without a fitted projection (random
axes, no centre) e5 vectors crowd a few cells: recall 0.87 / 0.56, p95 about 1.3 ms; so fit one (see Projection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from alice.fibonacci import GOLDEN_ANGLE_RAD

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]

_INITIAL = 8
_NO_CODE: NDArray[np.uint64] = np.empty(0, dtype=np.uint64)


class VectorIndex(Protocol):
    """What the semantic cache needs from an index (both :class:`SpiralIndex` and :class:`BruteForceIndex`)."""

    def add(self, key: str, vector: NDArray[np.floating], scope: str = "") -> None: ...
    def remove(self, key: str) -> bool: ...
    def search(self, vector: NDArray[np.floating], scope: str | None = None, k: int = 1) -> list[tuple[str, float]]: ...
    def clear(self) -> None: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object) -> bool: ...


def fibonacci_lattice(points: int, dimensions: int = 2) -> F64:
    """``points`` golden-angle lattice points: the Vogel disc (2 dimensions) or the Fibonacci sphere (3)."""
    if points < 1:
        raise ValueError("points must be >= 1")
    i = np.arange(points, dtype=np.float64)
    theta = i * GOLDEN_ANGLE_RAD
    if dimensions == 2:
        radius = np.sqrt((i + 0.5) / points)
        return np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
    if dimensions == 3:
        z = 1.0 - 2.0 * (i + 0.5) / points
        ring = np.sqrt(1.0 - z * z)
        return np.stack([ring * np.cos(theta), ring * np.sin(theta), z], axis=1)
    raise ValueError(f"the spiral lattice has 2 (disc) or 3 (sphere) dimensions, not {dimensions}")


def _unit(vector: NDArray[np.floating], dim: int) -> F32:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape[0] != dim:
        raise ValueError(f"expected a vector of {dim} dimensions, got {v.shape[0]}")
    norm = float(np.linalg.norm(v))
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError("vector must be finite and non-zero")
    return v / np.float32(norm)


@dataclass(frozen=True)
class Projection:
    """A fixed affine map: ``(x - centre) @ basis`` (orthonormal columns, strongest first) over ``scales``.

    Sentence embeddings share one dominant direction, so the cells need the centre and principal axes of real
    vectors. Fit them once on a fixed calibration corpus embedded by the same model (not on the cache's own
    entries, which differ between replicas and over time) and give every replica the same projection.
    """

    centre: F64
    basis: F64
    scales: F64

    @property
    def components(self) -> int:
        """Number of basis columns."""
        return int(self.basis.shape[1])

    @classmethod
    def random(cls, dim: int, components: int, seed: int = 0) -> Projection:
        """A seeded random orthonormal basis, no centring, scales of a random unit vector (1/sqrt(dim))."""
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((dim, components)))
        return cls(np.zeros(dim), q, np.full(components, 1.0 / math.sqrt(dim)))

    @classmethod
    def fit(cls, sample: NDArray[np.floating], components: int = 144) -> Projection:
        """Mean and principal axes of a calibration sample; the row order of ``sample`` does not matter.

        Rows are sorted before any arithmetic and each axis's sign is fixed (largest entry positive), so the
        same set of vectors gives the same projection bit for bit in every process.
        """
        x = np.asarray(sample, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 3:
            raise ValueError("sample must be a matrix of at least 3 rows")
        x = x[np.lexsort(x.T[::-1])]
        centre = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - centre, full_matrices=False)
        keep = min(components, int(np.sum(s > s[0] * 1e-6)))
        basis = vt[:keep].T
        flip = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(keep)])
        return cls(centre, basis * flip, s[:keep] / math.sqrt(x.shape[0] - 1))

    def save(self, path: str | Path) -> None:
        """Write the projection to ``path`` (``.npz``)."""
        np.savez(path, centre=self.centre, basis=self.basis, scales=self.scales)

    @classmethod
    def load(cls, path: str | Path) -> Projection:
        """Read a projection written by :meth:`save`."""
        with np.load(path) as data:
            return cls(data["centre"], data["basis"], data["scales"])


class _Bucket:
    """Row ids, each with a code of ``words`` 64-bit words, in a growable array with O(1) swap-remove.

    Stored as one (words + 1) x capacity matrix, code words first and the row id last, so that a probe gathers
    codes and ids in a single concatenation and its Hamming distances run along contiguous memory.
    """

    __slots__ = ("data", "size")

    def __init__(self, words: int) -> None:
        self.data: U64 = np.empty((words + 1, _INITIAL), dtype=np.uint64)
        self.size = 0

    @property
    def rows(self) -> I64:
        """The row ids held."""
        return self.data[-1, : self.size].view(np.int64)

    def append(self, row: int, code: U64) -> int:
        """Add ``row`` with ``code``; returns its slot."""
        if self.size == self.data.shape[1]:
            grown = np.empty((self.data.shape[0], 2 * self.size), dtype=np.uint64)
            grown[:, : self.size] = self.data
            self.data = grown
        self.data[:-1, self.size] = code
        self.data[-1, self.size] = row
        self.size += 1
        return self.size - 1

    def remove(self, pos: int) -> int:
        """Remove slot ``pos``; returns the row that moved into it (or -1 when ``pos`` was the last slot)."""
        self.size -= 1
        last = self.size
        if pos == last:
            return -1
        self.data[:, pos] = self.data[:, last]
        return int(self.data[-1, pos])


class _Rows:
    """Row storage shared by both indexes: unit vectors, keys, scopes, a free list."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.clear()

    def clear(self) -> None:
        self.vectors: F32 = np.zeros((_INITIAL, self.dim), dtype=np.float32)
        self.keys: list[str | None] = [None] * _INITIAL
        self.row_of: dict[str, int] = {}
        self.free: list[int] = []
        self.scope_ids: dict[str, int] = {}
        self.scope_names: dict[int, str] = {}
        self.scope_buckets: dict[int, _Bucket] = {}
        self.next_scope = 0
        self.scope_of: I64 = np.full(_INITIAL, -1, dtype=np.int64)
        self.scope_pos: I64 = np.zeros(_INITIAL, dtype=np.int64)

    def put(self, key: str, vector: F32, scope: str) -> int:
        if self.free:
            row = self.free.pop()
        else:
            row = len(self.row_of)
            if row == self.vectors.shape[0]:
                self._grow(2 * row)
        self.vectors[row] = vector
        self.keys[row] = key
        self.row_of[key] = row
        sid = self.scope_ids.get(scope)
        if sid is None:
            sid = self.scope_ids[scope] = self.next_scope
            self.scope_names[sid] = scope
            self.scope_buckets[sid] = _Bucket(0)
            self.next_scope += 1
        self.scope_of[row] = sid
        self.scope_pos[row] = self.scope_buckets[sid].append(row, _NO_CODE)
        return row

    def drop(self, key: str) -> int:
        row = self.row_of.pop(key)
        sid = int(self.scope_of[row])
        bucket = self.scope_buckets[sid]
        moved = bucket.remove(int(self.scope_pos[row]))
        if moved >= 0:
            self.scope_pos[moved] = self.scope_pos[row]
        if bucket.size == 0:
            del self.scope_buckets[sid]
            del self.scope_ids[self.scope_names.pop(sid)]
        self.keys[row] = None
        self.scope_of[row] = -1
        self.free.append(row)
        return row

    def _grow(self, capacity: int) -> None:
        grown = np.zeros((capacity, self.dim), dtype=np.float32)
        grown[: self.vectors.shape[0]] = self.vectors
        self.vectors = grown
        self.keys.extend([None] * (capacity - len(self.keys)))
        self.scope_of = np.concatenate([self.scope_of, np.full(capacity - self.scope_of.shape[0], -1, np.int64)])
        self.scope_pos = np.resize(self.scope_pos, capacity)

    def scope_rows(self, scope: str) -> I64 | None:
        sid = self.scope_ids.get(scope)
        if sid is None:
            return None
        return self.scope_buckets[sid].rows

    def ranked(self, rows: I64, query: F32, k: int) -> list[tuple[str, float]]:
        """Exact cosine of ``rows`` against ``query``; best ``k``, ties broken by key (order-independent)."""
        if rows.shape[0] == 0 or k <= 0:
            return []
        # einsum, not BLAS: a BLAS kernel may round a row differently by its position in the batch, and the
        # scores must not depend on the order in which entries were stored.
        scores = np.einsum("ij,j->i", self.vectors[rows], query)
        if rows.shape[0] > k:
            # Keep every row tied with the k-th best so the key tie-break sees all of them.
            cut = np.partition(scores, rows.shape[0] - k)[rows.shape[0] - k]
            keep = scores >= cut
            rows, scores = rows[keep], scores[keep]
        hits = sorted(((-float(s), str(self.keys[int(r)])) for r, s in zip(rows, scores, strict=True)))
        return [(key, -neg) for neg, key in hits[:k]]


class SpiralIndex:
    """Approximate cosine index: golden-angle lattice cells, multi-probe, sign-code shortlist, exact re-rank."""

    def __init__(
        self,
        dim: int,
        points: int = 89,
        dimensions: int = 2,
        probes: int = 21,
        seed: int = 0,
        projection: Projection | None = None,
        bits: int = 128,
        shortlist: int = 233,
        exact_below: int = 1024,
    ) -> None:
        """An empty index of ``dim``-dimensional vectors.

        ``projection`` (see :meth:`Projection.fit`) fixes the centre and the axes that place the cells; without
        one a seeded random projection is used. The entries of the ``probes`` nearest cells are compared on
        ``bits`` sign bits (a multiple of 64) and at least ``shortlist`` of the closest are re-ranked by exact
        cosine. A scoped search scans the scope exactly when it holds at most ``exact_below`` entries, or when
        the probed cells hold none of it.
        """
        if min(probes, shortlist) < 1 or bits < 64 or bits % 64:
            raise ValueError("probes and shortlist must be >= 1, bits a positive multiple of 64")
        if projection is None:
            projection = Projection.random(dim, dimensions, seed)
            span: F64 = np.eye(dim)
        elif projection.basis.shape[0] != dim or projection.components < dimensions:
            raise ValueError(f"projection must map {dim} dimensions onto at least {dimensions}")
        else:
            span = projection.basis
        self.dim, self.points, self.dimensions = dim, points, dimensions
        self.probes, self.bits, self.shortlist, self.exact_below = min(probes, points), bits, shortlist, exact_below
        self.projection = projection
        self.lattice = fibonacci_lattice(points, dimensions)
        self._lattice_norms: F64 = np.sum(self.lattice**2, axis=1)
        self._cell_basis: F64 = projection.basis[:, :dimensions] / projection.scales[:dimensions]
        self._cell_offset: F64 = projection.centre @ self._cell_basis
        # Sign bits of random directions inside the projection's span (SimHash of the centred vector).
        rng = np.random.default_rng(seed + 1)
        mix = rng.standard_normal((span.shape[1], bits))
        if bits <= span.shape[1]:
            mix = np.linalg.qr(mix)[0]
        self._planes: F32 = np.ascontiguousarray(span @ mix, dtype=np.float32)
        self._plane_offset: F32 = (projection.centre @ (span @ mix)).astype(np.float32)
        self._rows = _Rows(dim)
        self.clear()

    def clear(self) -> None:
        """Remove every entry."""
        self._rows.clear()
        self._cells = [_Bucket(self.bits // 64) for _ in range(self.points)]
        self._cell_of: I64 = np.zeros(_INITIAL, dtype=np.int64)
        self._cell_pos: I64 = np.zeros(_INITIAL, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._rows.row_of)

    def __contains__(self, key: object) -> bool:
        return key in self._rows.row_of

    def locate(self, vector: F32) -> F64:
        """The lattice-space point of a unit vector (on the disc or the sphere); fixed by the projection."""
        w = vector.astype(np.float64) @ self._cell_basis - self._cell_offset
        norm = float(np.linalg.norm(w))
        if norm == 0.0:
            return np.zeros(self.dimensions)
        if self.dimensions == 2:
            return w * (math.sqrt(-math.expm1(-0.5 * norm * norm)) / norm)
        return w / norm

    def cell(self, vector: NDArray[np.floating]) -> int:
        """The cell a vector falls into: the nearest lattice point."""
        return self._nearest(self.locate(_unit(vector, self.dim)))

    def probed_cells(self, vector: NDArray[np.floating]) -> list[int]:
        """The cells a search for ``vector`` looks into: the ``probes`` lattice points nearest to it."""
        return sorted(self._probe(_unit(vector, self.dim)))

    def _probe(self, q: F32) -> list[int]:
        if self.probes >= self.points:
            return list(range(self.points))
        # Squared distance to each lattice point, less the query's own squared norm (the same for every point).
        distance = self._lattice_norms - 2.0 * (self.lattice @ self.locate(q))
        probed: list[int] = np.argpartition(distance, self.probes - 1)[: self.probes].tolist()
        return probed

    def cell_sizes(self) -> list[int]:
        """How many entries each cell holds."""
        return [bucket.size for bucket in self._cells]

    def _nearest(self, point: F64) -> int:
        return int(np.argmin(np.sum((self.lattice - point) ** 2, axis=1)))

    def _code(self, vector: F32) -> U64:
        return np.packbits(vector @ self._planes > self._plane_offset).view(np.uint64)

    def add(self, key: str, vector: NDArray[np.floating], scope: str = "") -> None:
        """Store ``vector`` (normalised here) under ``key`` in ``scope``; re-adding a key replaces it."""
        v = _unit(vector, self.dim)
        if key in self._rows.row_of:
            self.remove(key)
        row = self._rows.put(key, v, scope)
        if row >= self._cell_of.shape[0]:
            size = self._rows.vectors.shape[0]
            self._cell_of, self._cell_pos = np.resize(self._cell_of, size), np.resize(self._cell_pos, size)
        cell = self._nearest(self.locate(v))
        self._cell_of[row] = cell
        self._cell_pos[row] = self._cells[cell].append(row, self._code(v))

    def remove(self, key: str) -> bool:
        """Remove ``key``; False when it was not there."""
        if key not in self._rows.row_of:
            return False
        row = self._rows.drop(key)
        moved = self._cells[int(self._cell_of[row])].remove(int(self._cell_pos[row]))
        if moved >= 0:
            self._cell_pos[moved] = self._cell_pos[row]
        return True

    def search(self, vector: NDArray[np.floating], scope: str | None = None, k: int = 1) -> list[tuple[str, float]]:
        """Up to ``k`` (key, cosine) pairs, best first; with ``scope`` only entries added with exactly that scope.

        Approximate: the best entry is missed when it lies outside the probed cells or the shortlist.
        """
        q = _unit(vector, self.dim)
        if k <= 0 or not self._rows.row_of:
            return []
        sid, in_scope = -1, None
        if scope is not None:
            in_scope = self._rows.scope_rows(scope)
            if in_scope is None:
                return []
            if in_scope.shape[0] <= self.exact_below:
                return self._rows.ranked(in_scope, q, k)
            sid = self._rows.scope_ids[scope]
        rows = self._shortlist(q, sid, max(self.shortlist, k))
        if rows.shape[0] == 0 and in_scope is not None:
            rows = in_scope  # the probed cells hold none of the scope: scan it all
        return self._rows.ranked(rows, q, k)

    def _shortlist(self, q: F32, sid: int, size: int) -> I64:
        """Rows of the probed cells within the Hamming radius that takes in at least ``size`` of them.

        Everything tied at the radius is kept, so the shortlist is a set fixed by the entries, whatever their order.
        """
        parts = [b.data[:, : b.size] for b in (self._cells[c] for c in self._probe(q)) if b.size]
        if not parts:
            return np.empty(0, dtype=np.int64)
        data = np.concatenate(parts, axis=1)
        rows: I64 = data[-1].view(np.int64)
        code = self._code(q)
        hamming = np.bitwise_count(data[0] ^ code[0]).astype(np.intp)
        for word in range(1, code.shape[0]):
            hamming += np.bitwise_count(data[word] ^ code[word])
        if sid >= 0:
            keep = self._rows.scope_of[rows] == sid
            rows, hamming = rows[keep], hamming[keep]
        if rows.shape[0] <= size:
            return rows
        radius = int(np.searchsorted(np.cumsum(np.bincount(hamming, minlength=self.bits + 1)), size))
        shortlist: I64 = rows[hamming <= radius]
        return shortlist


class BruteForceIndex:
    """The exact baseline: every search scans every candidate row."""

    def __init__(self, dim: int) -> None:
        """An empty index of ``dim``-dimensional vectors."""
        self.dim = dim
        self._rows = _Rows(dim)

    def clear(self) -> None:
        """Remove every entry."""
        self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows.row_of)

    def __contains__(self, key: object) -> bool:
        return key in self._rows.row_of

    def add(self, key: str, vector: NDArray[np.floating], scope: str = "") -> None:
        """Store ``vector`` (normalised here) under ``key`` in ``scope``; re-adding a key replaces it."""
        v = _unit(vector, self.dim)
        if key in self._rows.row_of:
            self._rows.drop(key)
        self._rows.put(key, v, scope)

    def remove(self, key: str) -> bool:
        """Remove ``key``; False when it was not there."""
        if key not in self._rows.row_of:
            return False
        self._rows.drop(key)
        return True

    def search(self, vector: NDArray[np.floating], scope: str | None = None, k: int = 1) -> list[tuple[str, float]]:
        """Up to ``k`` (key, cosine) pairs, best first; with ``scope`` only entries added with exactly that scope."""
        q = _unit(vector, self.dim)
        if k <= 0 or not self._rows.row_of:
            return []
        if scope is not None:
            rows = self._rows.scope_rows(scope)
            return [] if rows is None else self._rows.ranked(rows, q, k)
        used = len(self._rows.row_of) + len(self._rows.free)
        scores = self._rows.vectors[:used] @ q
        if self._rows.free:
            scores[self._rows.scope_of[:used] < 0] = -np.inf
        if used > k:
            best = scores >= np.partition(scores, used - k)[used - k]
            if self._rows.free:
                best &= self._rows.scope_of[:used] >= 0
            return self._rows.ranked(np.flatnonzero(best).astype(np.int64), q, k)
        return self._rows.ranked(np.flatnonzero(self._rows.scope_of[:used] >= 0).astype(np.int64), q, k)
