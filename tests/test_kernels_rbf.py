"""The RBF / facility-location numba kernels against their pure-numpy twins."""

import os
import platform
import re
import subprocess
import sys

import numba
import numpy as np
import pytest

from coreset3d._kernels._rbf import (
    LANES,
    fl_gain,
    fl_gains,
    fl_gains_serial,
    fl_update,
    lazy_greedy_dense,
    mirror_tile,
    rbf_exponent,
    rbf_exponent_serial,
    rbf_exponent_tile,
)

DTYPES = [np.float32, np.float64]
# 1, 7 and 63: tail only; 64, 128: no tail; 65, 127, 129, 200: full lanes and a tail
LENGTHS = [1, 7, 63, 64, 65, 127, 128, 129, 200]


# ------------------------------------------------------------- numpy twins
def rbf_exponent_numpy(block, sq_rows, sq_cols, gamma):
    """Twin of ``rbf_exponent``: norms added in X's dtype, the rest in float64, one rounding."""
    norms = (sq_rows[:, None] + sq_cols[None, :]).astype(np.float64)
    d2 = norms - 2.0 * block.astype(np.float64)
    return (-np.float64(gamma) * np.maximum(d2, 0.0)).astype(block.dtype)


def rbf_exponent_tile_numpy(K, i0, i1, j0, j1, sq, gamma):
    """Twin of ``rbf_exponent_tile``: ``rbf_exponent_numpy`` on the tile, the rest untouched."""
    out = K.copy()
    out[i0:i1, j0:j1] = rbf_exponent_numpy(K[i0:i1, j0:j1], sq[i0:i1], sq[j0:j1], gamma)
    return out


def mirror_tile_numpy(K, i0, i1, j0, j1):
    """Twin of ``mirror_tile``."""
    out = K.copy()
    out[j0:j1, i0:i1] = K[i0:i1, j0:j1].T
    return out


def fl_gain_numpy(row, best):
    """Twin of ``fl_gain``: LANES float64 partial sums, combined by halving, then the tail."""
    d = np.maximum(row.astype(np.float64) - best.astype(np.float64), 0.0)
    n_main = d.shape[0] - d.shape[0] % LANES
    lanes = np.zeros(LANES)
    for start in range(0, n_main, LANES):
        lanes += d[start : start + LANES]  # lane k adds terms k, k+LANES, ... in order
    tail = 0.0
    for value in d[n_main:].tolist():
        tail += value
    while lanes.shape[0] > 1:  # lane k takes lane k + width, width = 32, 16, ..., 1
        width = lanes.shape[0] // 2
        lanes = lanes[:width] + lanes[width:]
    return float(lanes[0]) + tail


def greedy_numpy(K, best, candidates, n_new):
    """Brute-force facility-location greedy: every gain at every step, ties to the lower row."""
    best = best.copy()
    remaining = list(np.sort(candidates))
    order, gains = [], []
    for _ in range(n_new):
        step_gains = [fl_gain_numpy(K[j], best) for j in remaining]
        k = int(np.argmax(step_gains))  # first maximum: the lowest row among ties
        j = remaining.pop(k)
        order.append(j)
        gains.append(step_gains[k])
        best = np.maximum(best, K[j])
    return np.array(order), np.array(gains), best


def random_kernel(rng, n, dtype):
    """A symmetric RBF kernel of random points (values in (0, 1], ones on the diagonal)."""
    X = rng.randn(n, 3)
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-d2 / 4.0).astype(dtype)


def run_lazy(K, best, candidates, n_new):
    best = best.copy()
    candidates = np.asarray(candidates, dtype=np.int64)
    first = np.empty(candidates.shape[0])
    fl_gains(np.ascontiguousarray(K[candidates]), best, first)
    order = np.empty(n_new, dtype=np.int64)
    gains = np.empty(n_new)
    n_evals = lazy_greedy_dense(K, best, candidates, first, n_new, order, gains)
    return order, gains, best, n_evals


# ------------------------------------------------------------- rbf_exponent
@pytest.mark.parametrize("kernel", [rbf_exponent, rbf_exponent_serial])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (5, 13), (13, 5), (17, 17)])
def test_rbf_exponent_matches_numpy(kernel, dtype, shape):
    rng = np.random.RandomState(0)
    A = rng.randn(shape[0], 6).astype(dtype)
    B = rng.randn(shape[1], 6).astype(dtype)
    sq_rows = (A.astype(np.float64) ** 2).sum(axis=1).astype(dtype)
    sq_cols = (B.astype(np.float64) ** 2).sum(axis=1).astype(dtype)
    block = A @ B.T
    gamma = dtype(0.37)
    expected = rbf_exponent_numpy(block, sq_rows, sq_cols, gamma)
    kernel(block, sq_rows, sq_cols, gamma)
    assert block.dtype == dtype
    np.testing.assert_array_equal(block, expected)
    assert np.all(block <= 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rbf_exponent_clamps_negative_squared_distances(dtype):
    # Identical rows whose dot product exceeds the norms: the squared distance is clamped to 0.
    block = np.array([[2.5, 1.0], [1.0, 2.5]], dtype=dtype)
    sq = np.array([1.0, 1.0], dtype=dtype)  # 1 + 1 - 2 * 2.5 < 0 on the diagonal
    rbf_exponent_serial(block, sq, sq, dtype(2.0))
    assert block[0, 0] == 0.0 and block[1, 1] == 0.0
    assert block[0, 1] == block[1, 0] == 0.0  # 1 + 1 - 2 = 0 exactly
    block = np.array([[0.25]], dtype=dtype)
    rbf_exponent(block, np.array([1.0], dtype=dtype), np.array([2.0], dtype=dtype), dtype(2.0))
    assert block[0, 0] == -2.0 * 2.5


@pytest.mark.parametrize("kernel", [rbf_exponent, rbf_exponent_serial])
@pytest.mark.parametrize("dtype", DTYPES)
def test_rbf_exponent_on_a_strided_block_view(kernel, dtype):
    # The cache fills K[start:stop, :stop]: a view whose rows are longer than the block.
    rng = np.random.RandomState(1)
    X = rng.randn(20, 4).astype(dtype)
    sq = (X.astype(np.float64) ** 2).sum(axis=1).astype(dtype)
    big = np.full((20, 20), 7.0, dtype=dtype)
    view = big[5:12, 3:14]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    view[...] = X[5:12] @ X[3:14].T
    expected = rbf_exponent_numpy(view.copy(), sq[5:12], sq[3:14], dtype(0.5))
    kernel(view, sq[5:12], sq[3:14], dtype(0.5))
    np.testing.assert_array_equal(big[5:12, 3:14], expected)
    outside = np.ones((20, 20), dtype=bool)
    outside[5:12, 3:14] = False
    assert np.all(big[outside] == 7.0)  # nothing written outside the view


# ------------------------------------------------------- rbf_exponent_tile
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tile", [(0, 5, 0, 5), (3, 11, 0, 3), (0, 4, 6, 17), (16, 17, 2, 9)])
def test_rbf_exponent_tile_matches_numpy(dtype, tile):
    rng = np.random.RandomState(5)
    X = rng.randn(17, 6).astype(dtype)
    sq = (X.astype(np.float64) ** 2).sum(axis=1).astype(dtype)
    K = (X @ X.T.copy()).astype(dtype)
    i0, i1, j0, j1 = tile
    block = K[i0:i1, j0:j1].copy()
    expected = rbf_exponent_tile_numpy(K, *tile, sq, dtype(0.37))
    rbf_exponent_tile(K, *tile, sq, dtype(0.37))
    np.testing.assert_array_equal(K, expected)  # the tile changed, nothing else did
    # the same numbers as rbf_exponent on a copy of the tile
    rbf_exponent_serial(block, sq[i0:i1], sq[j0:j1], dtype(0.37))
    np.testing.assert_array_equal(K[i0:i1, j0:j1], block)


# ------------------------------------------------------------- mirror_tile
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, tile", [(5, (2, 5, 0, 2)), (9, (3, 7, 0, 3)), (150, (70, 150, 0, 70)),
                                     (150, (129, 140, 0, 129)), (150, (100, 133, 17, 60)),
                                     (40, (0, 10, 20, 37))])
def test_mirror_tile_matches_numpy(dtype, n, tile):
    # 150 rows: more than one 16-row strip, and a last strip that is cut short; the last
    # case mirrors a tile above the diagonal to below it.
    K = np.random.RandomState(2).rand(n, n).astype(dtype)
    expected = mirror_tile_numpy(K, *tile)
    mirror_tile(K, *tile)
    np.testing.assert_array_equal(K, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mirror_tile_on_a_strided_view(dtype):
    big = np.random.RandomState(3).rand(90, 100).astype(dtype)
    original = big.copy()
    K = big[3:83, 7:87]  # 80 x 80, rows 100 long: not contiguous
    assert not K.flags.c_contiguous
    expected = mirror_tile_numpy(K, 66, 80, 0, 66)
    mirror_tile(K, 66, 80, 0, 66)
    np.testing.assert_array_equal(big[3:83, 7:87], expected)
    outside = np.ones(big.shape, dtype=bool)
    outside[3:83, 7:87] = False
    np.testing.assert_array_equal(big[outside], original[outside])


# ------------------------------------------------------------------ fl_gain
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
def test_fl_gain_matches_numpy_bit_for_bit(dtype, n):
    rng = np.random.RandomState(n)
    row = rng.rand(n).astype(dtype)
    best = rng.rand(n).astype(dtype)
    best[::3] = 0.0  # some terms positive for sure
    expected = fl_gain_numpy(row, best)
    got = fl_gain(row, best)
    assert got == expected
    # and the twin is the plain sum, up to the order of summation
    plain = np.maximum(row.astype(np.float64) - best.astype(np.float64), 0.0).sum()
    np.testing.assert_allclose(got, plain, rtol=1e-14)
    assert got > 0


def test_fl_gain_order_of_summation_is_the_lanes():
    # 1 + 2**-53 rounds to 1, but 2**-53 + 2**-53 in one lane is exact: the lane layout shows.
    tiny = 2.0**-53
    row = np.zeros(2 * LANES + 3)
    row[0] = 1.0
    row[1] = row[1 + LANES] = tiny  # both in lane 1: 2**-52, and 1 + 2**-52 is a float64
    best = np.zeros_like(row)
    assert fl_gain(row, best) == 1.0 + 2.0**-52 == fl_gain_numpy(row, best)
    # in lanes 1 and 2, each tiny meets a larger partial sum alone and is rounded away:
    # lane 2 joins lane 0 (1.0) before lane 1 does
    row[1 + LANES], row[2] = 0.0, tiny
    assert fl_gain(row, best) == 1.0 == fl_gain_numpy(row, best)
    # the tail is summed apart and added last
    row[2], row[2 * LANES + 1], row[2 * LANES + 2] = 0.0, tiny, tiny
    row[1] = 0.0
    assert fl_gain(row, best) == 1.0 + 2.0**-52 == fl_gain_numpy(row, best)


@pytest.mark.skipif(platform.machine().lower() not in {"x86_64", "amd64"},
                    reason="checks x86-64 instructions")
@pytest.mark.parametrize("kernel", [fl_gain, fl_gains_serial, fl_update, rbf_exponent_tile])
def test_kernels_run_on_packed_simd_without_fastmath(kernel):
    # Compiled afresh (the cached code cannot be inspected): the gain sums must use packed
    # double adds (v)addpd on 128/256/512-bit registers, and no kernel may carry fast-math
    # flags, which would let LLVM reorder the sums.
    fresh = numba.njit(nogil=True)(kernel.py_func)
    rng = np.random.RandomState(0)
    K = rng.rand(200, 200).astype(np.float32)
    best = np.zeros(200, dtype=np.float32)
    sq = np.ones(200, dtype=np.float32)
    args = {
        "fl_gain": (K[0], best),
        "_fl_gains_serial": (K, best, np.empty(200)),
        "fl_update": (K[0], best),
        "rbf_exponent_tile": (K, 0, 100, 0, 200, sq, np.float32(0.5)),
    }[kernel.py_func.__name__]
    fresh(*args)
    asm = "\n".join(fresh.inspect_asm().values())
    ir = "\n".join(fresh.inspect_llvm().values())
    assert not re.search(r"\b(fast|reassoc|contract|afn|arcp)\b", ir)
    if "exponent" in kernel.py_func.__name__:
        assert re.search(r"\bv?(mul|max)p[sd]\s+[^\n]*%[xyz]mm", asm)
    else:
        assert re.search(r"\bv?addpd\s+[^\n]*%[xyz]mm", asm)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fl_gain_is_zero_when_best_dominates(dtype):
    row = np.linspace(0, 1, 11).astype(dtype)
    assert fl_gain(row, row.copy()) == 0.0
    assert fl_gain(row, np.ones(11, dtype=dtype)) == 0.0


# ----------------------------------------------------------------- fl_gains
@pytest.mark.parametrize("kernel", [fl_gains, fl_gains_serial])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 9, 17, 33])
def test_fl_gains_equal_fl_gain_row_by_row(kernel, dtype, n):
    rng = np.random.RandomState(10 + n)
    rows = rng.rand(7, n).astype(dtype)
    best = (0.5 * rng.rand(n)).astype(dtype)
    out = np.full(7, -1.0)
    kernel(rows, best, out)
    assert out.tolist() == [fl_gain(r, best) for r in rows]
    assert out.tolist() == [fl_gain_numpy(r, best) for r in rows]


@pytest.mark.parametrize("dtype", DTYPES)
def test_fl_gains_in_parallel_groups_equal_the_serial_ones(dtype):
    # 1,001 rows: many groups of four over the threads, and a short last group.
    rng = np.random.RandomState(12)
    rows = rng.rand(1001, 150).astype(dtype)
    best = (0.6 * rng.rand(150)).astype(dtype)
    out, out_serial = np.full(1001, -1.0), np.full(1001, -1.0)
    fl_gains(rows, best, out)
    fl_gains_serial(rows, best, out_serial)
    assert out.tolist() == out_serial.tolist()
    assert out[::97].tolist() == [fl_gain_numpy(r, best) for r in rows[::97]]
    assert out[-1] == fl_gain_numpy(rows[-1], best)


def test_fl_gains_on_a_slice_of_out():
    # _similarity fills gains[start:stop] block by block.
    rng = np.random.RandomState(4)
    rows = rng.rand(4, 10)
    best = np.zeros(10)
    out = np.full(9, -1.0)
    fl_gains(rows, best, out[3:7])
    assert out[:3].tolist() == [-1.0] * 3 and out[7:].tolist() == [-1.0] * 2
    assert out[3:7].tolist() == [fl_gain_numpy(r, best) for r in rows]


# ---------------------------------------------------------------- fl_update
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 9, 23])
def test_fl_update_returns_the_gain_and_raises_best(dtype, n):
    rng = np.random.RandomState(20 + n)
    row = rng.rand(n).astype(dtype)
    best = rng.rand(n).astype(dtype)
    before = best.copy()
    gain = fl_update(row, best)
    assert gain == fl_gain_numpy(row, before)
    np.testing.assert_array_equal(best, np.maximum(before, row))
    assert best.dtype == dtype
    # a second update with the same row adds nothing
    assert fl_update(row, best) == 0.0


# -------------------------------------------------------- lazy_greedy_dense
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(6))
def test_lazy_greedy_dense_equals_brute_force(dtype, seed):
    rng = np.random.RandomState(seed)
    n = rng.randint(2, 30)
    K = random_kernel(rng, n, dtype)
    n_new = rng.randint(1, n + 1)
    best0 = np.zeros(n, dtype=dtype)
    expected_order, expected_gains, expected_best = greedy_numpy(K, best0, np.arange(n), n_new)
    order, gains, best, n_evals = run_lazy(K, best0, np.arange(n), n_new)
    assert order.tolist() == expected_order.tolist()
    assert gains.tolist() == expected_gains.tolist()
    np.testing.assert_array_equal(best, expected_best)
    assert 0 <= n_evals <= n * n_new


@pytest.mark.parametrize("dtype", DTYPES)
def test_lazy_greedy_dense_from_a_warm_start(dtype):
    # Continue from two facilities already open: best > 0 and fewer candidates.
    rng = np.random.RandomState(7)
    K = random_kernel(rng, 25, dtype)
    best0 = np.maximum(K[4], K[11])
    candidates = np.setdiff1d(np.arange(25), [4, 11])
    expected_order, expected_gains, expected_best = greedy_numpy(K, best0, candidates, 10)
    order, gains, best, _ = run_lazy(K, best0, candidates, 10)
    assert order.tolist() == expected_order.tolist()
    assert gains.tolist() == expected_gains.tolist()
    np.testing.assert_array_equal(best, expected_best)
    assert not set(order.tolist()) & {4, 11}


def test_lazy_greedy_dense_is_lazy():
    # Three far-apart clusters: after the first pick most bounds stay valid.
    rng = np.random.RandomState(8)
    X = np.vstack([rng.randn(20, 2) * 0.1 + c for c in ([0, 0], [9, 0], [0, 9])])
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(axis=2) / 2.0)
    order, gains, _, n_evals = run_lazy(K, np.zeros(60), np.arange(60), 5)
    expected_order, expected_gains, _ = greedy_numpy(K, np.zeros(60), np.arange(60), 5)
    assert order.tolist() == expected_order.tolist()
    assert gains.tolist() == expected_gains.tolist()
    assert n_evals < 60 * 4  # the naive greedy re-scores every candidate at every later step


def test_lazy_greedy_dense_exact_ties_go_to_the_lower_row():
    # Eight points on a ring, K = 2**-(ring distance): every row has the same multiset of
    # dyadic values, so all gains tie exactly (sums of these are exact in float64).
    n = 8
    dist = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    dist = np.minimum(dist, n - dist)
    K = 2.0 ** -dist.astype(np.float64)
    first = [fl_gain_numpy(K[j], np.zeros(n)) for j in range(n)]
    assert len(set(first)) == 1
    expected_order, expected_gains, _ = greedy_numpy(K, np.zeros(n), np.arange(n), n)
    order, gains, _, _ = run_lazy(K, np.zeros(n), np.arange(n), n)
    # By hand: all rows tie (1 + 2 (1/2 + 1/4 + 1/8) + 1/16 = 2.8125): row 0. Then rows 3, 4
    # and 5 tie at 1.6875 (row 3: 7/8 + 7/16 + 1/4 + 1/8): row 3. Then rows 5 and 6 tie at 1
    # (3/4 + 1/4): row 5. Every other row now adds only its own 1 - 1/2: rows in index order.
    assert order.tolist() == [0, 3, 5, 1, 2, 4, 6, 7]
    assert gains.tolist() == [2.8125, 1.6875, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert order.tolist() == expected_order.tolist()
    assert gains.tolist() == expected_gains.tolist()


@pytest.mark.parametrize("dtype", DTYPES)
def test_lazy_greedy_dense_duplicate_rows_tie_to_the_lower_row(dtype):
    # Rows 2, 5 and 9 are the same point; rows 3 and 7 too: identical kernel rows.
    rng = np.random.RandomState(9)
    X = rng.randn(12, 2)
    X[[5, 9]] = X[2]
    X[7] = X[3]
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(axis=2) / 2.0).astype(dtype)
    expected_order, expected_gains, _ = greedy_numpy(K, np.zeros(12, dtype), np.arange(12), 12)
    order, gains, _, _ = run_lazy(K, np.zeros(12, dtype), np.arange(12), 12)
    assert order.tolist() == expected_order.tolist()
    assert gains.tolist() == expected_gains.tolist()
    position = {j: t for t, j in enumerate(order.tolist())}
    assert position[2] < position[5] < position[9]
    assert position[3] < position[7]
    assert gains[position[5]] == gains[position[9]] == 0.0  # a copy of an open facility adds 0


_CACHE_PROBE = """
import sys
import numpy as np
from numba.np.ufunc import parallel
from coreset3d._kernels import _rbf
block = np.ones((64, 64), dtype=np.float32)
sq = np.ones(64, dtype=np.float32)
args = {"rbf_exponent": (block, sq, sq, np.float32(0.5)),
        "fl_gains": (block, np.zeros(64, dtype=np.float32), np.empty(64))}
for name in sys.argv[1:]:
    getattr(_rbf, name)(*args[name.removesuffix("_serial")])
print(parallel._is_initialized)
"""


def test_parallel_and_serial_twins_are_cached_apart(tmp_path):
    # numba keys its cache by name and bytecode, not by parallel=True (numba issue 6845):
    # when both twins wrapped one function, a process that found the serial build cached
    # ran the "parallel" kernel on it, serially, without ever starting the thread pool.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def probe(*kernels):
        out = subprocess.run([sys.executable, "-c", _CACHE_PROBE, *kernels], env=env,
                             capture_output=True, text=True, check=True)
        return out.stdout.split()[-1]

    assert probe("rbf_exponent_serial", "fl_gains_serial") == "False"
    assert any(tmp_path.rglob("*.nbi"))  # the serial builds are in the cache now
    assert probe("rbf_exponent") == "True"
    assert probe("fl_gains") == "True"
