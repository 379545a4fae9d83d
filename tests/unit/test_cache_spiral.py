"""The spiral matcher (orchestrator.cache.spiral) against the brute-force baseline, and its benchmark's shape."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alice.cli.cachebench import bench_spiral_vectors
from alice.fibonacci import GOLDEN_ANGLE_RAD
from orchestrator.cache.spiral import BruteForceIndex, Projection, SpiralIndex, fibonacci_lattice

DIM = 48


def unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)
    return out


def embedding_like(n: int, seed: int, clusters: int = 60) -> np.ndarray:
    """Unit rows shaped like sentence embeddings: a shared direction, uneven axes, topic clusters."""
    rng = np.random.default_rng(seed)
    common = np.zeros(DIM)
    common[0] = 3.0
    spread = np.linspace(1.0, 0.2, DIM)
    centres = rng.standard_normal((clusters, DIM)) * spread
    rows = common + centres[rng.integers(0, clusters, n)] + 0.5 * rng.standard_normal((n, DIM)) * spread
    return unit(rows)


def nudged(rows: np.ndarray, seed: int, scale: float = 0.05) -> np.ndarray:
    """Near copies (cosine about 0.92-0.95 to the original by default: where a semantic cache can hit)."""
    rng = np.random.default_rng(seed)
    return unit(rows + scale * rng.standard_normal(rows.shape))


@pytest.fixture(scope="module")
def stored() -> np.ndarray:
    return embedding_like(2500, seed=1)


@pytest.fixture(scope="module")
def projection() -> Projection:
    return Projection.fit(embedding_like(600, seed=2))


def build(index: SpiralIndex | BruteForceIndex, rows: np.ndarray, order: np.ndarray | None = None) -> None:
    for i in range(len(rows)) if order is None else order.tolist():
        index.add(f"k{i}", rows[i], scope=f"s{i % 3}")


def test_lattice_is_the_golden_angle_sunflower_and_sphere() -> None:
    disc = fibonacci_lattice(89, 2)
    i = np.arange(89)
    assert np.allclose(np.hypot(disc[:, 0], disc[:, 1]), np.sqrt((i + 0.5) / 89))
    turn = np.angle(np.exp(1j * (np.arctan2(disc[1:, 1], disc[1:, 0]) - np.arctan2(disc[:-1, 1], disc[:-1, 0]))))
    assert np.allclose(np.abs(turn), math.pi - abs(math.pi - GOLDEN_ANGLE_RAD))
    assert np.allclose(np.linalg.norm(fibonacci_lattice(89, 3), axis=1), 1.0)
    with pytest.raises(ValueError):
        fibonacci_lattice(89, 4)


def test_empty_index_and_unknown_scope_return_nothing(projection: Projection) -> None:
    index = SpiralIndex(DIM, projection=projection)
    query = embedding_like(1, seed=3)[0]
    assert index.search(query) == []
    assert len(index) == 0 and "k0" not in index
    index.add("k0", query, scope="a")
    assert index.search(query, scope="b") == []
    assert index.search(query, k=0) == []
    index.clear()
    assert index.search(query) == [] and len(index) == 0


@pytest.mark.parametrize("dimensions", [2, 3])
def test_exact_duplicates_are_found(stored: np.ndarray, projection: Projection, dimensions: int) -> None:
    index = SpiralIndex(DIM, dimensions=dimensions, projection=projection)
    build(index, stored)
    for i in range(0, len(stored), 97):
        key, score = index.search(stored[i] * 3.0)[0]  # scaled: vectors are normalised on the way in
        assert key == f"k{i}" and score == pytest.approx(1.0, abs=1e-5)


def test_cells_are_balanced_and_a_probe_scans_a_fraction(stored: np.ndarray, projection: Projection) -> None:
    index = SpiralIndex(DIM, projection=projection)
    build(index, stored)
    sizes = np.array(index.cell_sizes())
    assert sizes.sum() == len(stored) and sizes.max() < 4 * len(stored) / 89
    probed = index.probed_cells(stored[0])
    assert len(probed) == index.probes and index.cell(stored[0]) in probed
    assert sizes[probed].sum() < 0.5 * len(stored)


def test_recall_against_brute_force_on_clustered_vectors(stored: np.ndarray, projection: Projection) -> None:
    exact, spiral = BruteForceIndex(DIM), SpiralIndex(DIM, projection=projection)
    crippled = SpiralIndex(DIM, probes=1, shortlist=1, projection=projection)
    for index in (exact, spiral, crippled):
        build(index, stored)
    queries = nudged(stored[:300], seed=4)

    def recall(index: SpiralIndex) -> float:
        return float(np.mean([index.search(q)[:1] == exact.search(q) for q in queries]))

    assert recall(spiral) >= 0.97
    assert recall(crippled) < 0.8  # the check can tell a bad index from a good one


def test_scope_finds_the_nearest_in_scope_when_another_scope_is_nearer(
    stored: np.ndarray, projection: Projection
) -> None:
    # exact_below=0 sends scoped lookups through the cells too, not only through the small-scope scan.
    for exact_below in (0, 10_000):
        spiral = SpiralIndex(DIM, projection=projection, exact_below=exact_below)
        exact = BruteForceIndex(DIM)
        for index in (spiral, exact):
            build(index, stored)
            index.add("twin", stored[5], scope="other")  # an out-of-scope exact copy of k5
            index.add("lonely", -stored[5], scope="far")  # a scope whose only entry lies in no probed cell
        hit = spiral.search(stored[5], scope="s2")
        assert hit[0][0] == "k5"  # k5 is in s2 (5 % 3); the twin in "other" is as near but out of scope
        assert spiral.search(stored[5])[0][0] in {"k5", "twin"}
        (key, score), *more = spiral.search(stored[5], scope="other", k=3)
        assert key == "twin" and score == pytest.approx(1.0, abs=1e-5) and not more
        assert [k for k, _ in spiral.search(stored[5], scope="far")] == ["lonely"]
        queries = nudged(stored[1:300:3], seed=5)  # near entries of scope s1 (i % 3 == 1)
        same = [spiral.search(q, scope="s1") == exact.search(q, scope="s1") for q in queries]
        assert np.mean(same) >= (0.95 if exact_below == 0 else 1.0)


def test_remove_and_replace(stored: np.ndarray, projection: Projection) -> None:
    index = SpiralIndex(DIM, projection=projection)
    build(index, stored[:500])
    assert index.remove("k7") and not index.remove("k7")
    assert "k7" not in index and len(index) == 499
    assert index.search(stored[7])[0][0] != "k7"
    index.add("k8", stored[7])  # replaces k8's vector
    assert len(index) == 499
    assert index.search(stored[7])[0][0] == "k8"
    assert index.search(stored[8])[0][0] != "k8"


def test_many_adds_and_removes_match_brute_force_when_every_cell_is_probed(stored: np.ndarray) -> None:
    # With every cell probed and a shortlist longer than the index, the spiral must be exact: any bookkeeping
    # slip in swap-removes, reused rows or scope buckets shows up as a difference.
    rng = np.random.default_rng(6)
    spiral, exact = SpiralIndex(DIM, probes=89, shortlist=10**6, exact_below=0), BruteForceIndex(DIM)
    for step in range(3000):
        i, row = int(rng.integers(0, 600)), int(rng.integers(0, len(stored)))
        for index in (spiral, exact):
            if step % 3 == 2:
                index.remove(f"k{i}")
            else:
                index.add(f"k{i}", stored[row], scope=f"s{i % 4}")
    assert len(spiral) == len(exact)
    for q in nudged(stored[:40], seed=7):
        assert spiral.search(q, k=3) == exact.search(q, k=3)
        assert spiral.search(q, scope="s1", k=2) == exact.search(q, scope="s1", k=2)


def test_cells_and_results_do_not_depend_on_insertion_order(stored: np.ndarray, projection: Projection) -> None:
    rows = stored[:2000]
    forward, shuffled = SpiralIndex(DIM, projection=projection), SpiralIndex(DIM, projection=projection)
    build(forward, rows)
    for i in range(300):  # churn first, so rows and cell slots are laid out differently
        shuffled.add(f"k{i}", rows[-1 - i], scope="tmp")
    build(shuffled, rows, order=np.random.default_rng(8).permutation(len(rows)))
    assert forward.cell_sizes() == shuffled.cell_sizes()
    assert all(forward.cell(v) == shuffled.cell(v) for v in rows[::50])
    for q in nudged(rows[:100], seed=9, scale=0.3):
        assert forward.search(q, k=5) == shuffled.search(q, k=5)


def test_projection_fit_is_order_independent_and_round_trips(tmp_path: object) -> None:
    sample = embedding_like(300, seed=10)
    a = Projection.fit(sample, components=20)
    b = Projection.fit(sample[::-1].copy(), components=20)
    assert np.array_equal(a.centre, b.centre) and np.array_equal(a.basis, b.basis)
    assert np.array_equal(a.scales, b.scales) and a.components == 20
    path = f"{tmp_path}/projection.npz"
    a.save(path)
    c = Projection.load(path)
    assert np.array_equal(a.basis, c.basis) and np.array_equal(a.centre, c.centre)


def test_bad_vectors_are_refused(projection: Projection) -> None:
    index = SpiralIndex(DIM, projection=projection)
    with pytest.raises(ValueError):
        index.add("k", np.ones(DIM + 1))
    with pytest.raises(ValueError):
        index.add("k", np.zeros(DIM))
    with pytest.raises(ValueError):
        SpiralIndex(DIM, bits=100)


def test_bench_spiral_vectors_reports_recall_and_latency() -> None:
    real = embedding_like(500, seed=11)
    partners = nudged(real[:120], seed=12, scale=0.05)
    vectors = np.vstack([real, partners])
    pairs = [(i, 500 + i) for i in range(120)]
    out = bench_spiral_vectors(vectors, pairs, sizes=(300, 600), queries=20, seed=1, say=lambda _m: None)
    assert set(out["sizes"]) == {"300", "600"}
    big = out["sizes"]["600"]
    assert big["entries"].endswith("synthetic") and big["queries_near"] > 0 and big["queries_any"] == 20
    assert 0.0 <= big["recall_at_1_any"] <= 1.0 and big["recall_at_1_near"] >= 0.9
    assert big["lookup_ms"]["spiral"]["p95"] > 0 and big["lookup_ms"]["brute_force"]["p50"] > 0
