"""FacilityLocationRBF(similarity="knn"): the neighbour search, the sparse kernel against a
numpy twin, the CSR greedy kernels against numpy twins, the estimator contract, and the
agreement with the dense kernel when every row is a neighbour."""

import numpy as np
import pytest
from scipy import sparse
from sklearn.utils._param_validation import InvalidParameterError

from coreset3d import FacilityLocationRBF
from coreset3d._kernels._sparse import (
    csr_fl_gains,
    csr_fl_update,
    csr_lazy_greedy,
    csr_stochastic_steps,
)
from coreset3d.selectors._knn import (
    TransformedRows,
    exact_neighbors,
    faiss_neighbors,
    knn_rbf_graph,
)
from coreset3d.selectors._similarity import rbf_similarity


def blobs(n, d, seed, n_centers=5):
    rng = np.random.RandomState(seed)
    centers = rng.randn(n_centers, d) * 3
    return (centers[rng.randint(n_centers, size=n)] + rng.randn(n, d)).astype(np.float32)


def brute_force(X, k):
    """The k nearest other rows of every row, by sorting all float64 distances."""
    X = X.astype(np.float64)
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    order = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d2, order, 1)


def dense_twin(X, neighbors, sigma):
    """The kNN kernel as a dense numpy array: the union of both directions, unit diagonal."""
    n = X.shape[0]
    X = X.astype(np.float64)
    K = np.eye(n)
    for i in range(n):
        for j in neighbors[i]:
            if j >= 0:
                K[i, j] = K[j, i] = np.exp(-((X[i] - X[j]) ** 2).sum() / (2 * sigma**2))
    return K


def random_csr(n, density, seed, dtype=np.float32):
    K = sparse.random(n, n, density=density, random_state=seed, format="csr", dtype=np.float64)
    K = K.maximum(K.T) + sparse.eye(n)
    K = K.tocsr().astype(dtype)
    K.sort_indices()
    return K


def numpy_greedy(K, n_select):
    """Naive facility-location greedy on a dense array; float64 sums, ties to the lower row."""
    best = np.zeros(K.shape[0])
    order, gains = [], []
    for _ in range(n_select):
        step = np.maximum(K.astype(np.float64) - best[None, :], 0).sum(1)
        step[order] = -np.inf
        j = int(np.argmax(step))
        order.append(j)
        gains.append(step[j])
        best = np.maximum(best, K[j])
    return order, np.array(gains)


def dense_objective(X, S, sigma):
    return rbf_similarity(X.astype(np.float64), S, sigma=sigma).max(axis=0).sum()


# ------------------------------------------------------------ neighbour search
def test_exact_neighbors_are_the_brute_force_ones():
    X = blobs(230, 4, seed=0)
    neighbors, sq = exact_neighbors(TransformedRows(X, normalize=False), 7, query_rows=50)
    ref, ref_sq = brute_force(X, 7)
    assert neighbors.tolist() == ref.tolist()
    np.testing.assert_allclose(sq, ref_sq, rtol=1e-9, atol=1e-9)


def test_faiss_recall_against_brute_force():
    pytest.importorskip("faiss")
    X = blobs(3000, 16, seed=1, n_centers=20)
    neighbors, sq = faiss_neighbors(TransformedRows(X, normalize=False), 10,
                                    np.random.RandomState(0))
    X64 = X.astype(np.float64)  # the first 300 rows against all rows
    d2 = ((X64[:300, None, :] - X64[None, :, :]) ** 2).sum(-1)
    d2[np.arange(300), np.arange(300)] = np.inf
    ref = np.argsort(d2, axis=1, kind="stable")[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(neighbors[:300], ref,
                                                                 strict=True)])
    assert recall >= 0.95, recall
    assert not (neighbors == np.arange(3000)[:, None]).any()  # never itself
    found = neighbors[:300] >= 0
    np.testing.assert_allclose(sq[:300][found], np.take_along_axis(d2, np.maximum(
        neighbors[:300], 0), 1)[found], rtol=1e-4, atol=1e-4)


def test_faiss_neighbors_are_deterministic_with_a_seed():
    pytest.importorskip("faiss")
    X = blobs(1500, 8, seed=2)
    data = TransformedRows(X, normalize=True)
    a = faiss_neighbors(data, 5, np.random.RandomState(3))[0]
    b = faiss_neighbors(data, 5, np.random.RandomState(3))[0]
    assert a.tolist() == b.tolist()


# ------------------------------------------------------------ the sparse kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_knn_kernel_values_match_a_numpy_twin(dtype):
    X = blobs(120, 3, seed=3).astype(dtype)
    neighbors, sq = exact_neighbors(TransformedRows(X, normalize=False), 6)
    neighbors[5, -2:] = -1  # rows with fewer neighbours (as faiss may leave them)
    K = knn_rbf_graph(neighbors, sq, 1.5, np.dtype(dtype))
    assert K.dtype == dtype and K.has_sorted_indices
    twin = dense_twin(X, neighbors, 1.5)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(K.toarray(), twin, rtol=rtol, atol=1e-30)
    assert (K != K.T).nnz == 0
    assert K.nnz == np.count_nonzero(twin)


# ----------------------------------------------------- greedy kernels vs numpy twins
def test_csr_gains_and_update_match_numpy():
    K = random_csr(80, 0.1, seed=0)
    best = np.random.RandomState(1).rand(80).astype(np.float32) * 0.5
    rows = np.array([0, 7, 3, 79], dtype=np.int64)
    out = np.empty(4)
    csr_fl_gains(K.indptr, K.indices, K.data, best, rows, out)
    dense = K.toarray().astype(np.float64)
    twin = np.maximum(dense[rows] - best[None, :], 0).sum(1)
    np.testing.assert_allclose(out, twin, rtol=1e-12)
    expected = np.maximum(best, K.toarray()[7])
    gain = csr_fl_update(K.indptr, K.indices, K.data, best, 7)
    assert gain == out[1]
    assert best.tolist() == expected.tolist()


def test_csr_lazy_greedy_matches_the_numpy_greedy():
    K = random_csr(150, 0.06, seed=2, dtype=np.float64)
    order_ref, gains_ref = numpy_greedy(K.toarray(), 30)
    candidates = np.arange(150, dtype=np.int64)
    best = np.zeros(150)
    first = np.empty(150)
    csr_fl_gains(K.indptr, K.indices, K.data, best, candidates, first)
    order, gains = np.empty(30, dtype=np.int64), np.empty(30)
    csr_lazy_greedy(K.indptr, K.indices, K.data, best, candidates, first, 30, order, gains)
    assert order.tolist() == order_ref
    np.testing.assert_allclose(gains, gains_ref, rtol=1e-12)


def test_csr_stochastic_steps_match_a_python_twin():
    K = random_csr(60, 0.15, seed=4, dtype=np.float64)
    uniforms = np.random.RandomState(5).random_sample((12, 9))
    pool = np.arange(60, dtype=np.int64)
    best = np.zeros(60)
    order, gains = np.empty(12, dtype=np.int64), np.empty(12)
    left = csr_stochastic_steps(K.indptr, K.indices, K.data, best, pool, 60, uniforms,
                                order, gains)
    # the twin: a partial Fisher-Yates draw per step, the best of the drawn, swap-remove
    dense, ref_pool, ref_best, n_pool, ref_order = K.toarray(), list(range(60)), np.zeros(60), \
        60, []
    for u in uniforms:
        drawn = []
        for t in range(9):
            k = min(t + int(u[t] * (n_pool - t)), n_pool - 1)
            ref_pool[t], ref_pool[k] = ref_pool[k], ref_pool[t]
            drawn.append(np.maximum(dense[ref_pool[t]] - ref_best, 0).sum())
        pos = int(np.argmax(drawn))
        j = ref_pool[pos]
        ref_order.append(j)
        ref_best = np.maximum(ref_best, dense[j])
        n_pool -= 1
        ref_pool[pos], ref_pool[n_pool] = ref_pool[n_pool], j
    assert left == 48 and order.tolist() == ref_order
    assert len(set(order.tolist())) == 12


# ------------------------------------------------------------- the estimator
def test_naive_equals_lazy_on_the_knn_kernel():
    X = blobs(300, 5, seed=6)
    kw = {"similarity": "knn", "n_neighbors": 8, "sigma": 1.0, "normalize": False}
    lazy = FacilityLocationRBF(40, **kw).fit(X)
    naive = FacilityLocationRBF(40, optimizer="naive", **kw).fit(X)
    assert naive.sample_indices_.tolist() == lazy.sample_indices_.tolist()
    assert naive.gains_.tolist() == lazy.gains_.tolist()
    assert lazy.n_selected_ == 40 and len(set(lazy.sample_indices_.tolist())) == 40
    assert 300 + 300 * 8 <= lazy.kernel_nnz_ <= 300 + 2 * 300 * 8


def test_all_neighbours_gives_the_dense_selection():
    # n_neighbors = n - 1 keeps every pair: the kernel is the dense one. Uniform rows and
    # a small sigma keep the greedy path free of near-ties.
    X = np.random.RandomState(0).rand(90, 4)
    dense = FacilityLocationRBF(15, sigma=0.3, normalize=False).fit(X)
    knn = FacilityLocationRBF(15, sigma=0.3, normalize=False, similarity="knn",
                              n_neighbors=89).fit(X)
    assert knn.sample_indices_.tolist() == dense.sample_indices_.tolist()
    np.testing.assert_allclose(knn.gains_, dense.gains_, rtol=1e-9)
    assert knn.kernel_nnz_ == 90 * 90


def test_median_sigma_is_the_dense_one():
    X = blobs(2500, 6, seed=7)
    knn = FacilityLocationRBF(5, similarity="knn", n_neighbors=5, random_state=0).fit(X)
    dense = FacilityLocationRBF(5, random_state=0).fit(X)
    assert knn.sigma_ == dense.sigma_


def test_warm_start_and_gains_add_up_to_the_objective():
    X = blobs(200, 4, seed=8)
    kw = {"similarity": "knn", "n_neighbors": 10, "sigma": 1.0, "normalize": False}
    cold = FacilityLocationRBF(20, **kw).fit(X)
    warm = FacilityLocationRBF(20, **kw).fit(X, initial_indices=cold.sample_indices_[:6])
    assert warm.sample_indices_.tolist() == cold.sample_indices_.tolist()
    assert warm.gains_.tolist() == cold.gains_.tolist()
    neighbors, _ = brute_force(X, 10)
    K = dense_twin(X, neighbors, 1.0)
    np.testing.assert_allclose(K[cold.sample_indices_].max(0).sum(), cold.gains_.sum(),
                               rtol=1e-6)


def test_stochastic_on_knn_is_deterministic_and_near_lazy():
    X = blobs(600, 6, seed=9)
    kw = {"similarity": "knn", "n_neighbors": 10, "random_state": 3}
    a = FacilityLocationRBF(30, optimizer="stochastic", epsilon=0.05, **kw).fit(X)
    b = FacilityLocationRBF(30, optimizer="stochastic", epsilon=0.05, **kw).fit(X)
    c = FacilityLocationRBF(30, optimizer="stochastic", epsilon=0.05,
                            **{**kw, "random_state": 4}).fit(X)
    lazy = FacilityLocationRBF(30, **kw).fit(X)
    assert a.sample_indices_.tolist() == b.sample_indices_.tolist()
    assert a.sample_indices_.tolist() != c.sample_indices_.tolist()
    assert len(set(a.sample_indices_.tolist())) == 30
    assert a.gains_.sum() >= 0.95 * lazy.gains_.sum()


def test_knn_close_to_dense_on_the_dense_objective():
    X = blobs(800, 8, seed=10, n_centers=12)
    dense = FacilityLocationRBF(40, random_state=0).fit(X)
    knn = FacilityLocationRBF(40, similarity="knn", n_neighbors=20, random_state=0).fit(X)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    ratio = (dense_objective(Xn, knn.sample_indices_, knn.sigma_)
             / dense_objective(Xn, dense.sample_indices_, dense.sigma_))
    assert ratio >= 0.97, ratio


def test_approximate_search_selection():
    pytest.importorskip("faiss")
    X = blobs(2000, 8, seed=11)
    kw = {"similarity": "knn", "n_neighbors": 10, "random_state": 0}
    approx = FacilityLocationRBF(40, knn_algorithm="approximate", **kw).fit(X)
    again = FacilityLocationRBF(40, knn_algorithm="approximate", **kw).fit(X)
    exact = FacilityLocationRBF(40, knn_algorithm="exact", **kw).fit(X)
    assert approx.sample_indices_.tolist() == again.sample_indices_.tolist()
    assert approx.gains_.sum() >= 0.99 * exact.gains_.sum()


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("params, match", [
    ({"n_neighbors": 0}, r"'n_neighbors' parameter of FacilityLocationRBF must be an int in "
                         r"the range \[1, inf\)"),
    ({"n_neighbors": 2.5}, r"'n_neighbors' parameter"),
    ({"similarity": "cosine"}, r"'similarity' parameter of FacilityLocationRBF must be a str "
                               r"among \{.*'dense'.*\}"),
    ({"knn_algorithm": "hnsw"}, r"'knn_algorithm' parameter .* among"),
])
def test_invalid_knn_parameters(params, match):
    X = blobs(30, 2, seed=0)
    with pytest.raises(InvalidParameterError, match=match):
        FacilityLocationRBF(5, **{"similarity": "knn", **params}).fit(X)


@pytest.mark.parametrize("n_neighbors", [30, 31])
def test_n_neighbors_not_below_the_rows(n_neighbors):
    X = blobs(30, 2, seed=0)
    with pytest.raises(ValueError, match=rf"n_neighbors={n_neighbors} must be below the "
                       r"number of rows of X, but X has 30 samples; pass n_neighbors <= 29"):
        FacilityLocationRBF(5, similarity="knn", n_neighbors=n_neighbors).fit(X)



def test_sgs_seeds_classes_smaller_than_n_neighbors():
    from coreset3d import SeededGlobalSelector

    X = blobs(200, 4, seed=13)
    y = np.r_[np.zeros(180, int), np.ones(15, int), np.full(4, 2), [3]]
    base = FacilityLocationRBF(similarity="knn", n_neighbors=20)
    sel = SeededGlobalSelector(base, budget=24, k=1.0, random_state=0).fit(X, y)
    assert sel.seed_allocation_ == {0: 6, 1: 6, 2: 4, 3: 1}
    assert sel.n_selected_ == 24 and {int(y[j]) for j in sel.seed_indices_} == {0, 1, 2, 3}
    assert sel.base_.n_neighbors == 20
