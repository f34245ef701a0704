"""RBF similarity rows: reference values, the row cache under a memory budget, helpers."""

import os
import re
import threading

import numba
import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

from coreset3d._kernels._rbf import fl_gain
from coreset3d.selectors import _similarity as similarity
from coreset3d.selectors._similarity import RBFRows, median_sigma, parse_memory, rbf_similarity


def rbf_reference(A, B, sigma):
    """RBF kernel from scipy's distances, in float64."""
    d2 = cdist(np.asarray(A, np.float64), np.asarray(B, np.float64), "sqeuclidean")
    return np.exp(-d2 / (2.0 * sigma**2))


def mixture(n, d, dtype, seed=0, n_centers=5):
    """Rows around a few centres, so that the kernel spans values from ~0 to 1."""
    rng = np.random.RandomState(seed)
    centers = rng.randn(n_centers, d) * 2.0
    return (centers[rng.randint(n_centers, size=n)] + rng.randn(n, d)).astype(dtype)


def rows_with_memory(X, sigma, n_cached, block_rows):
    """An RBFRows whose cache holds exactly ``n_cached`` rows, computing ``block_rows`` at once."""
    row_bytes = X.shape[0] * X.dtype.itemsize
    work = 2 * block_rows * row_bytes
    kernel = RBFRows(X, sigma, work + n_cached * row_bytes, block_bytes=block_rows * row_bytes)
    assert kernel.block_rows == block_rows and kernel.capacity == n_cached
    return kernel


def cached_rows(kernel):
    held = np.flatnonzero(kernel.slot >= 0)
    return set(held.tolist())


def assert_cache_consistent(kernel):
    held = np.flatnonzero(kernel.slot >= 0)
    assert held.shape[0] <= kernel.capacity
    owners = kernel.owner[kernel.owner >= 0]
    assert sorted(owners.tolist()) == held.tolist()
    np.testing.assert_array_equal(kernel.owner[kernel.slot[held]], held)


# ----------------------------------------------------------- rbf_similarity
# |x|^2 + |y|^2 - 2 x.y loses about eps * |x|^2 to cancellation (|x|^2 ~ 30 here, gamma ~ 0.3)
@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-13), (np.float32, 1e-5)])
def test_rbf_similarity_matches_scipy(dtype, atol):
    X = mixture(40, 5, dtype)
    K = rbf_similarity(X, sigma=1.3)
    assert K.dtype == dtype and K.shape == (40, 40)
    np.testing.assert_allclose(K, rbf_reference(X, X, 1.3), rtol=0, atol=atol)
    assert K.min() < 1e-3  # the kernel spans the range: a wrong exponent would show
    rows = np.array([7, 0, 39, 7])
    np.testing.assert_allclose(
        rbf_similarity(X, rows, sigma=1.3), rbf_reference(X[rows], X, 1.3), rtol=0, atol=atol
    )


def test_rbf_similarity_clamps_cancellation_on_identical_rows():
    # Large norms: |x|^2 + |x|^2 - 2 x.x is not exactly 0 in floating point.
    X = np.full((3, 16), 1e3, dtype=np.float32)
    X[1] += 1e-3
    K = rbf_similarity(X, sigma=0.1)
    assert np.all(K <= 1.0) and np.all(np.isfinite(K))
    assert K[0, 0] == K[2, 2] == K[0, 2] == 1.0


# ------------------------------------------------------------------- RBFRows
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("block_rows", [3, 7, 50])
def test_build_full_equals_rbf_similarity(dtype, block_rows):
    X = mixture(50, 6, dtype, seed=1)
    kernel = rows_with_memory(X, 1.1, 50, block_rows)
    assert kernel.full
    kernel.build_full()
    K = kernel.cache
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(K, rbf_similarity(X, sigma=1.1), rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(K, rbf_reference(X, X, 1.1), rtol=0, atol=10 * rtol)
    # every entry above the diagonal blocks is the mirror of one below: exactly symmetric there
    for start in range(0, 50, block_rows):
        stop = min(start + block_rows, 50)
        np.testing.assert_array_equal(K[:start, start:stop], K[start:stop, :start].T)
    assert kernel.n_computed == 50
    np.testing.assert_array_equal(kernel.slot, np.arange(50))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threaded_build_and_first_gains_equal_one_thread(dtype, monkeypatch):
    # 1,500 rows: 2.25M entries, above PARALLEL_MIN, so tiles and gain rows go to threads
    # (where numba has more than one); every tile is computed the same way on any thread.
    X = mixture(1500, 8, dtype, seed=4)
    threaded = RBFRows(X, 2.0, 2**30)
    assert threaded.full and threaded.cache.size >= similarity.PARALLEL_MIN
    assert threaded.tile_rows < 1500 and threaded.tile_rows % 16 == 0
    threaded.build_full()
    best = np.maximum(threaded.cache[3], threaded.cache[1200])  # a warm start
    candidates = np.setdiff1d(np.arange(1500), [3, 1200])
    gains = threaded.initial_gains(best, candidates)
    monkeypatch.setattr(similarity, "PARALLEL_MIN", 10**12)  # everything on this thread
    serial = RBFRows(X, 2.0, 2**30)
    serial.build_full()
    np.testing.assert_array_equal(threaded.cache, serial.cache)
    assert gains.tolist() == serial.initial_gains(best, candidates).tolist()
    assert gains.tolist() == [fl_gain(serial.cache[j], best) for j in candidates.tolist()]
    np.testing.assert_allclose(serial.cache, rbf_reference(X, X, 2.0), rtol=0,
                               atol=1e-12 if dtype == np.float64 else 1e-5)
    # below the diagonal tiles every entry is mirrored: exactly symmetric there
    size = serial.tile_rows
    for start in range(size, 1500, size):
        np.testing.assert_array_equal(serial.cache[:start, start:start + size],
                                      serial.cache[start:start + size, :start].T)


def test_run_tasks_does_every_item_once_and_reraises_errors():
    done, lock = [], threading.Lock()
    two = threading.Barrier(2, timeout=30) if numba.get_num_threads() > 1 else None

    def record(item):
        if two is not None and item < 2:
            two.wait()  # passes only if two threads hold items 0 and 1 at once
        with lock:
            done.append((item, threading.get_ident()))

    similarity._run_tasks(record, list(range(40)), similarity.PARALLEL_MIN)
    assert sorted(item for item, _ in done) == list(range(40))
    if two is not None:
        assert len({ident for _, ident in done}) >= 2

    def fail(item):
        if item == 7:
            raise RuntimeError("tile 7 failed")

    with pytest.raises(RuntimeError, match="tile 7 failed"):
        similarity._run_tasks(fail, list(range(20)), similarity.PARALLEL_MIN)
    with pytest.raises(RuntimeError, match="tile 7 failed"):  # and on one thread
        similarity._run_tasks(fail, list(range(20)), 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_from_the_cache_or_recomputed_agree(dtype):
    X = mixture(60, 4, dtype, seed=2)
    kernel = rows_with_memory(X, 0.9, 15, 8)
    assert not kernel.full
    gains = kernel.initial_gains(np.zeros(60, dtype=dtype), np.arange(60))
    assert kernel.n_computed == 60
    assert_cache_consistent(kernel)
    held = sorted(cached_rows(kernel))
    assert len(held) == 15
    rows = np.array([held[0], *[j for j in range(60) if j not in held][:5], held[-1], held[3]])
    block, computed = kernel.get(rows)
    assert computed.tolist() == [r not in held for r in rows.tolist()]
    reference = rbf_similarity(X, rows, sigma=0.9)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(block, reference, rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(kernel.compute(rows), block, rtol=rtol, atol=1e-7)
    for j in rows.tolist():
        np.testing.assert_allclose(kernel.row(j), reference[rows.tolist().index(j)],
                                   rtol=rtol, atol=1e-7)
    # the first gains are those of the rows against best = 0
    expected = [fl_gain(r, np.zeros(60, dtype=dtype)) for r in rbf_similarity(X, sigma=0.9)]
    np.testing.assert_allclose(gains, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_initial_gains_keep_the_rows_with_the_highest_gains():
    X = mixture(80, 3, np.float64, seed=3)
    kernel = rows_with_memory(X, 0.7, 20, 9)
    gains = kernel.initial_gains(np.zeros(80), np.arange(80))
    top = np.argsort(-gains, kind="stable")[:20]
    assert cached_rows(kernel) == set(top.tolist())
    np.testing.assert_array_equal(kernel.bound, gains)


def test_offer_keeps_the_highest_bounds_and_never_exceeds_capacity():
    rng = np.random.RandomState(4)
    n = 100
    X = rng.randn(n, 3)
    kernel = rows_with_memory(X, 1.0, 12, 10)
    offered = {}
    for batch in np.array_split(rng.permutation(n), 9):
        bounds = rng.rand(batch.shape[0])
        kernel.offer(batch, kernel.compute(batch), bounds)
        offered.update(zip(batch.tolist(), bounds.tolist(), strict=True))
        assert_cache_consistent(kernel)
        ranked = sorted(offered, key=lambda j: -offered[j])
        assert cached_rows(kernel) == set(ranked[: kernel.capacity])
    # cached contents are the rows they claim to be
    for j in cached_rows(kernel):
        np.testing.assert_allclose(kernel.cache[kernel.slot[j]], rbf_reference(X[[j]], X, 1.0)[0],
                                   rtol=0, atol=1e-12)
    # a released row frees its slot; a newcomer with a low bound takes the free slot
    victim = next(iter(cached_rows(kernel)))
    kernel.release(victim)
    assert victim not in cached_rows(kernel) and kernel.bound[victim] == -np.inf
    assert_cache_consistent(kernel)
    newcomer = np.array([victim])
    kernel.offer(newcomer, kernel.compute(newcomer), np.array([-5.0]))
    assert victim in cached_rows(kernel)
    assert len(cached_rows(kernel)) == kernel.capacity


def test_offer_with_no_capacity_caches_nothing():
    X = np.random.RandomState(5).randn(30, 2)
    kernel = RBFRows(X, 1.0, 0)
    assert kernel.capacity == 0 and not kernel.full
    rows = np.arange(5)
    kernel.offer(rows, kernel.compute(rows), np.ones(5))
    assert cached_rows(kernel) == set()
    block, computed = kernel.get(np.array([3, 1]))
    assert computed.all()
    np.testing.assert_allclose(block, rbf_reference(X[[3, 1]], X, 1.0), atol=1e-12, rtol=0)


def test_release_keeps_the_full_kernel():
    X = np.random.RandomState(6).randn(20, 2)
    kernel = RBFRows(X, 1.0, 10**8)
    kernel.build_full()
    kernel.release(4)
    assert kernel.slot[4] == 4  # the full kernel never drops a row


# ------------------------------------------------------------- parse_memory
@pytest.mark.parametrize(
    "text, expected",
    [
        ("2GiB", 2 * 2**30),
        ("500MB", 500 * 10**6),
        ("1.5 gb", 1_500_000_000),
        ("512MiB", 512 * 2**20),
        ("64kib", 64 * 1024),
        (" 3TB ", 3 * 10**12),
        ("1000", 1000),
        ("10b", 10),
        (123456, 123456),
        (np.int64(2**33), 2**33),
    ],
)
def test_parse_memory(text, expected):
    assert parse_memory(text) == expected


def test_parse_memory_auto_is_thirty_percent_of_ram():
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert parse_memory("auto") == int(0.3 * total)
    assert parse_memory("AUTO") == parse_memory("auto")


@pytest.mark.parametrize("text", ["lots", "", "2 GiB extra", "-1GB", "1e9", "GB", "2XB", "1,5GB"])
def test_parse_memory_rejects_other_strings(text):
    with pytest.raises(
        ValueError,
        match=rf"max_memory={re.escape(repr(text))} is not a size; pass bytes as an int, a string "
        r"such as '2GiB' or '500MB', or 'auto'",
    ):
        parse_memory(text)


# ------------------------------------------------------------- median_sigma
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_median_sigma_is_the_median_pairwise_distance(dtype):
    X = np.random.RandomState(7).randn(9, 4).astype(dtype)
    sigma = median_sigma(X, np.random.RandomState(0))
    assert isinstance(sigma, float)
    np.testing.assert_allclose(sigma, np.median(pdist(X.astype(np.float64))), rtol=1e-15)
    # by hand: the pairwise distances of 0, 1, 3 are 1, 2, 3
    assert median_sigma(np.array([[0.0], [1.0], [3.0]]), np.random.RandomState(0)) == 2.0


def test_median_sigma_on_a_random_subset_of_rows():
    X = np.random.RandomState(8).randn(50, 3)
    subset = np.sort(np.random.RandomState(1).choice(50, 20, replace=False))
    expected = np.median(pdist(X[subset]))
    assert median_sigma(X, np.random.RandomState(1), max_rows=20) == expected
    full = np.median(pdist(X))
    assert median_sigma(X, np.random.RandomState(1), max_rows=50) == full
    assert expected != full


def test_median_sigma_degenerate_sets_fall_back_to_one():
    rs = np.random.RandomState(0)
    assert median_sigma(np.ones((5, 2)), rs) == 1.0  # all distances 0
    assert median_sigma(np.zeros((1, 3)), rs) == 1.0  # no pair


# --------------------------------------------- OpenBLAS hazard on big blocks
# numpy's OpenBLAS has crashed or returned wrong numbers for X @ X.T on large matrices
# (float32 from about N = 33,000, float64 from N = 20,000). The kernel code multiplies
# distinct operands; these tests compare one large block with a recomputation in small
# blocks and with float64 reference rows.
def cancellation_atol(X, sigma):
    """Error bound of the dot-product form: ``gamma * |x|^2 + |y|^2 - 2 x.y`` loses ~eps |x|^2.

    A BLAS that returns wrong numbers misses by far more than this.
    """
    max_sq = float((X.astype(np.float64) ** 2).sum(axis=1).max())
    return 8 * np.finfo(X.dtype).eps * max_sq / (2 * sigma**2)


def assert_max_abs_diff(actual, desired, atol):
    """``assert_allclose(rtol=0)`` for large arrays, without its slow report."""
    diff = np.abs(actual.astype(np.float64) - desired)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    assert diff[worst] <= atol, f"|diff| {diff[worst]:.3g} > {atol:.3g} at {worst}"


def _check_big_blocks(kernels, X, sigma, rows, sample, small_block):
    """Compare full kernels with rows recomputed in small blocks and with float64 rows."""
    n = X.shape[0]
    atol = cancellation_atol(X, sigma)
    assert atol < 1e-4
    for K in kernels:
        assert K.shape == (n, n) and K.dtype == X.dtype
    for start in range(0, rows.shape[0], small_block):
        part = rows[start : start + small_block]
        blocked = rbf_similarity(X, part, sigma=sigma)
        for K in kernels:
            assert_max_abs_diff(K[part], blocked, atol)
    # float64 reference rows, from differences (no dot-product cancellation)
    ref = rbf_reference(X[sample], X, sigma)
    for K in kernels:
        np.testing.assert_allclose(K[sample], ref, rtol=0, atol=atol)
        np.testing.assert_allclose(K[:, sample].T, ref, rtol=0, atol=atol)


def _big_case(n, d, seed):
    X = mixture(n, d, np.float32, seed=seed, n_centers=20)
    sigma = float(np.median(pdist(X[:300].astype(np.float64)))) / 4
    sample = np.sort(np.random.RandomState(seed).choice(n, 40, replace=False))
    return X, sigma, sample


def test_large_block_against_blocked_recomputation():
    n = 6000
    X, sigma, sample = _big_case(n, 64, seed=9)
    row_bytes = n * 4
    kernel = RBFRows(X, sigma, 3 * n * row_bytes, block_bytes=n * row_bytes)
    assert kernel.full and kernel.block_rows == n  # one 6000 x 6000 product
    kernel.build_full()
    K = kernel.cache
    assert 0.0 < K[sample].min() < 0.01 and K[sample].max() == 1.0  # a kernel, not noise
    big = rbf_similarity(X, sigma=sigma)  # another 6000 x 6000 product
    _check_big_blocks([K, big], X, sigma, np.arange(n), sample, small_block=1000)


@pytest.mark.slow
def test_large_block_against_blocked_recomputation_at_openblas_scale():
    # N = 34,000 float32: a 4.6 GB kernel (never float64), one at a time; rows sampled.
    n = 34_000
    X, sigma, sample = _big_case(n, 64, seed=10)
    rows = np.unique(np.concatenate([sample, np.arange(0, n, 997), [n - 1]]))
    big = rbf_similarity(X, sigma=sigma)  # one 34,000 x 34,000 float32 product
    _check_big_blocks([big], X, sigma, rows, sample, small_block=16)
    del big
    kernel = RBFRows(X, sigma, 6 * 2**30)  # the production path: 64 MiB blocks, mirrored
    assert kernel.full and kernel.block_rows < n
    kernel.build_full()
    _check_big_blocks([kernel.cache], X, sigma, rows, sample, small_block=16)
