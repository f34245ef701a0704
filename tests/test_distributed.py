"""DistributedSelector (GreeDi on Dask) on a 2-process LocalCluster: budget, SGS floor,
determinism, objective against the single-machine greedy, dask-array input, errors."""

import math
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.array")
pytest.importorskip("distributed")

import dask.array as da  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

from coreset3d import (  # noqa: E402
    FacilityLocationRBF,
    KCenterGreedy,
    ScalarScore,
    SeededGlobalSelector,
)
from coreset3d.allocation import floor_allocation  # noqa: E402
from coreset3d.distributed import DistributedSelector, from_npy  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each; not the default client, so that
    ``client=None`` really runs on the local scheduler.

    One local fit first compiles the numba kernels into their on-disk cache, so the
    workers load them instead of compiling them each.
    """
    DistributedSelector(fl(), budget=20, n_partitions=2, random_state=0).fit(X)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster, set_as_default=False) as c:
        yield c


def long_tailed(n=2400, d=8, n_classes=6, seed=0):
    """A long-tailed Gaussian mixture (class c has weight 8**(-c / (C - 1))), float32."""
    rng = np.random.RandomState(seed)
    w = 8.0 ** (-np.arange(n_classes) / (n_classes - 1))
    y = rng.choice(n_classes, size=n, p=w / w.sum())
    centers = rng.randn(n_classes, d) * 2.0
    modes = rng.randn(n_classes, 3, d)
    X = centers[y] + modes[y, rng.randint(3, size=n)] + 0.6 * rng.randn(n, d)
    return X.astype(np.float32), y


def fl(**kw):
    return FacilityLocationRBF(sigma=1.5, normalize=False, **kw)


X, Y = long_tailed()


def check_selection(sel, n_samples, budget):
    idx = sel.sample_indices_
    assert idx.shape == (budget,) and sel.n_selected_ == budget
    assert np.unique(idx).shape[0] == budget
    assert idx.min() >= 0 and idx.max() < n_samples
    assert sel.n_samples_fit_ == n_samples
    np.testing.assert_allclose(sel.weights_.mean(), 1.0)
    assert sum(sel.sampling_strategy_.values()) == budget
    np.testing.assert_array_equal(sel.get_support(indices=True), np.sort(idx))


# ------------------------------------------------------------------ on the cluster
def test_budget_unique_weights_and_objective_on_cluster(client):
    sel = DistributedSelector(
        fl(), budget=48, client=client, n_partitions=4, target_prior="uniform", random_state=0
    ).fit(X, Y)
    check_selection(sel, X.shape[0], 48)
    assert sel.n_partitions_ == 4 and sel.partition_sizes_.sum() == X.shape[0]
    assert set(sel.candidate_objectives_) >= {"union"} and sel.solution_source_
    # gains_ are the single machine's gains of the same rows in the same order
    ref = fl(budget=48).fit(X, initial_indices=sel.sample_indices_)
    np.testing.assert_allclose(sel.gains_, ref.gains_, rtol=1e-5)
    assert sel.objective_ == pytest.approx(ref.gains_.sum(), rel=1e-6)
    assert sel.objective_ == max(sel.candidate_objectives_.values())
    # uniform target prior: every class weighs the same in total
    per_class = np.bincount(Y[sel.sample_indices_], weights=sel.weights_)
    np.testing.assert_allclose(per_class[per_class > 0], per_class[per_class > 0][0])
    assert sel.transform(X).dtype == np.float32


@pytest.mark.parametrize("n_partitions, kappa", [(2, 1.0), (4, 1.0), (4, 2.0)])
def test_objective_within_2_percent_and_greedi_bound(client, n_partitions, kappa):
    budget = 40
    single = fl(budget=budget).fit(X).gains_.sum()
    sel = DistributedSelector(
        fl(), budget=budget, client=client, n_partitions=n_partitions, kappa=kappa,
        random_state=1,
    ).fit(X)
    bound = (1 - 1 / math.e) ** 2 / min(n_partitions, budget)  # GreeDi, times OPT >= single
    assert sel.objective_ >= bound * single
    assert sel.objective_ >= 0.98 * single


@pytest.mark.parametrize("seed_strategy", ["base", "random"])
def test_sgs_floor_kept_for_every_class(client, seed_strategy):
    budget, k = 60, 0.6
    sgs = SeededGlobalSelector(fl(), k=k, seed_strategy=seed_strategy, random_state=0)
    sel = DistributedSelector(sgs, budget=budget, client=client, n_partitions=3, random_state=0)
    sel.fit(X, Y)
    check_selection(sel, X.shape[0], budget)
    counts = np.bincount(Y)
    floor = floor_allocation(counts, budget, k)
    assert sel.seed_allocation_ == {c: min(floor[c], counts[c]) for c in range(len(counts))}
    for c, n_c in sel.sampling_strategy_.items():
        assert n_c >= sel.seed_allocation_[c]
    n_seeds = sum(sel.seed_allocation_.values())
    np.testing.assert_array_equal(sel.sample_indices_[:n_seeds], sel.seed_indices_)
    for c in range(len(counts)):  # each class's seeds lie in that class
        assert (Y[sel.seed_indices_] == c).sum() == sel.seed_allocation_[c]


def test_deterministic_and_same_on_cluster_and_local_scheduler(client):
    make = lambda c: DistributedSelector(fl(), budget=30, client=c, n_partitions=3, random_state=7)  # noqa: E731
    on_cluster = make(client).fit(X)
    again = make(client).fit(X)
    local = make(None).fit(X)  # no client: the synchronous local scheduler
    np.testing.assert_array_equal(on_cluster.sample_indices_, again.sample_indices_)
    np.testing.assert_array_equal(on_cluster.sample_indices_, local.sample_indices_)
    np.testing.assert_allclose(on_cluster.gains_, local.gains_)
    by_address = make(client.scheduler.address).fit(X)  # connected for the fit, then closed
    np.testing.assert_array_equal(by_address.sample_indices_, local.sample_indices_)
    other = make(None).set_params(random_state=8).fit(X)
    assert not np.array_equal(other.sample_indices_, local.sample_indices_)


def test_dask_array_from_npy_hdf5_and_zarr(client, tmp_path):
    h5py = pytest.importorskip("h5py")
    expected = DistributedSelector(
        fl(), budget=25, client=client, n_partitions=2, random_state=3
    ).fit(X, Y)
    np.save(tmp_path / "emb.npy", X)
    lazy_inputs = [from_npy(tmp_path / "emb.npy", row_chunks=700)]
    try:
        import zarr  # noqa: F401  (in the test extra; optional here)
    except ImportError:
        pass
    else:
        da.from_array(X, chunks=(600, -1)).to_zarr(str(tmp_path / "emb.zarr"))
        lazy_inputs.append(da.from_zarr(str(tmp_path / "emb.zarr")))
    with h5py.File(tmp_path / "emb.h5", "w") as f:
        f.create_dataset("emb", data=X, chunks=(500, X.shape[1]))
    with h5py.File(tmp_path / "emb.h5", "r") as f:
        for lazy in [*lazy_inputs, da.from_array(f["emb"], chunks=(500, -1))]:
            assert lazy.numblocks[0] > 1
            sel = DistributedSelector(
                fl(), budget=25, client=client, n_partitions=2, random_state=3
            ).fit(lazy, da.from_array(Y, chunks=1000))
            np.testing.assert_array_equal(sel.sample_indices_, expected.sample_indices_)
            out = sel.transform(lazy)
            assert isinstance(out, da.Array)
            np.testing.assert_array_equal(out.compute(), X[sel.sample_indices_])


# ------------------------------------------------------------------ local scheduler
def test_other_selectors_partition_by_class_and_warm_start():
    sel = DistributedSelector(
        KCenterGreedy(), budget=20, n_partitions=3, partition="class", random_state=0
    ).fit(X, Y)
    check_selection(sel, X.shape[0], 20)
    assert not hasattr(sel, "gains_") and sel.objective_ is None  # no summed objective
    knn = DistributedSelector(
        FacilityLocationRBF(similarity="knn", n_neighbors=10, sigma=1.5, normalize=False),
        budget=20, n_partitions=3, random_state=0,
    ).fit(X)
    assert knn.n_selected_ == 20 and np.unique(knn.sample_indices_).shape[0] == 20
    assert knn.objective_ is None and knn.candidate_objectives_ == {}  # kNN scores don't add
    # one partition is the single-machine selector itself
    whole = DistributedSelector(KCenterGreedy(start=0), budget=20, n_partitions=1).fit(X)
    assert whole.objective_ is None and whole.solution_source_ == "partition 0"
    single = KCenterGreedy(budget=20, start=0).fit(X)
    np.testing.assert_array_equal(whole.sample_indices_, single.sample_indices_)
    whole = DistributedSelector(fl(), budget=20, n_partitions=1).fit(X)
    single = fl(budget=20).fit(X)
    np.testing.assert_array_equal(whole.sample_indices_, single.sample_indices_)
    np.testing.assert_allclose(whole.gains_, single.gains_)
    sizes = np.sort(sel.partition_sizes_)
    assert sizes.sum() == X.shape[0] and sizes[0] >= np.bincount(Y).min()
    start = np.array([901, 5, 17])  # not sorted: the warm start keeps its order
    warm = DistributedSelector(fl(), budget=20, n_partitions=2, random_state=0)
    warm.fit(X, Y, initial_indices=start)
    np.testing.assert_array_equal(warm.sample_indices_[:3], start)
    check_selection(warm, X.shape[0], 20)
    lazy = da.from_array(X, chunks=(700, -1))
    only = DistributedSelector(fl(), budget=3, n_partitions=2).fit(lazy, initial_indices=start)
    np.testing.assert_array_equal(only.sample_indices_, start)  # nothing left to pick
    np.testing.assert_array_equal(only.transform(lazy).compute(), X[start])


def test_median_sigma_fixed_once_and_clone_pickle_with_client(client):
    sel = DistributedSelector(
        FacilityLocationRBF(random_state=0), budget=15, n_partitions=2, random_state=0
    ).fit(X)
    assert sel.objective_ > 0 and sel.n_selected_ == 15
    with_client = DistributedSelector(fl(), budget=10, client=client)
    copy = clone(with_client)
    assert copy.client is client and copy.selector is not with_client.selector
    assert pickle.loads(pickle.dumps(with_client)).client is None


def test_core_import_does_not_import_dask():
    code = "import sys, coreset3d; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "params, err, match",
    [
        ({"n_partitions": 0}, InvalidParameterError, "n_partitions"),
        ({"partition": "chunks"}, InvalidParameterError, "'partition' parameter"),
        ({"kappa": 0.5}, InvalidParameterError, "'kappa' parameter"),
        ({"n_partitions": 3000}, ValueError, r"n_partitions=3000 exceeds the 2400 rows"),
        (
            {"n_partitions": 7, "partition": "class"},
            ValueError,
            r"n_partitions=7 exceeds the 6 classes in y",
        ),
    ],
)
def test_bad_parameters(params, err, match):
    with pytest.raises(err, match=match):
        DistributedSelector(fl(), budget=10, **params).fit(X, Y)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes"):
        lazy = da.from_array(X, chunks=500)
        DistributedSelector(fl(), budget=5).fit(lazy[lazy[:, 0] > 0])
    with pytest.raises(ValueError, match=r"y has 10 labels but X has 2400 rows"):
        DistributedSelector(fl(), budget=5).fit(X, Y[:10])
    with pytest.raises(ValueError, match=r"partition='class' needs class labels"):
        DistributedSelector(fl(), budget=5, partition="class").fit(X)
    with pytest.raises(ValueError, match=r"SeededGlobalSelector needs class labels"):
        DistributedSelector(SeededGlobalSelector(fl()), budget=5).fit(X)
    with pytest.raises(TypeError, match=r"fit on X and y alone; ScalarScore also needs"):
        DistributedSelector(ScalarScore(), budget=5).fit(X, Y)
    with pytest.raises(ValueError, match=r"budget=5000 selects 5000 samples"):
        DistributedSelector(fl(), budget=5000).fit(X)
    with pytest.raises(ValueError, match=r"k=0.4 asks for a per-class floor"):
        DistributedSelector(SeededGlobalSelector(fl()), budget=5).fit(X, np.zeros(len(X)))


def test_from_npy_rejects_bad_input(tmp_path):
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"reads 2-D arrays"):
        from_npy(tmp_path / "cube.npy")
    np.save(tmp_path / "ok.npy", np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"row_chunks must be an int >= 1"):
        from_npy(tmp_path / "ok.npy", row_chunks=0)


def test_docs_one_machine_snippet_runs():
    """docs/distributed.md's first Python block, on a small long-tailed set."""
    doc = Path(__file__).resolve().parents[1] / "docs" / "distributed.md"
    block = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)[0]
    namespace = {"embeddings": X, "labels": Y}
    exec(compile(block, str(doc), "exec"), namespace)
    sel = namespace["sel"]
    check_selection(sel, X.shape[0], 24)  # budget=0.01 of 2400 rows
    assert sel.n_partitions_ == 8 and sel.objective_ > 0
