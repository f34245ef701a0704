"""Embeddings on disk (numpy.memmap, h5py, zarr): validated and read in row blocks, never
whole, by FacilityLocationRBF(similarity="knn"), KCenterGreedy and SeededGlobalSelector;
the same selections as from the array in memory."""

import numpy as np
import pytest

import coreset3d._blocks as blocks
from coreset3d import FacilityLocationRBF, KCenterGreedy, SeededGlobalSelector
from coreset3d._blocks import RowBlocks, is_out_of_core


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 40 rows of 6 float32 (zarr chunks of 32, h5py of 16): every path crosses
    block and chunk boundaries."""
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 40 * 6 * 4)


@pytest.fixture
def never_whole(monkeypatch):
    """Fail if anything turns the blocked X into one array, or reads more than a block."""
    def refuse(self):
        raise AssertionError("X was read whole")

    read = RowBlocks.read

    def read_block(self, start, stop):
        assert stop - start <= self.block_rows
        return read(self, start, stop)

    monkeypatch.setattr(RowBlocks, "to_array", refuse)
    monkeypatch.setattr(RowBlocks, "read", read_block)


def data(n=240, d=6, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(4, d) * 2
    y = rng.randint(4, size=n)
    return (centers[y] + rng.randn(n, d)).astype(np.float32), y


def on_disk(X, kind, tmp_path):
    if kind == "memmap":
        np.save(tmp_path / "x.npy", X)
        return np.load(tmp_path / "x.npy", mmap_mode="r")
    if kind == "h5py":
        h5py = pytest.importorskip("h5py")
        f = h5py.File(tmp_path / "x.h5", "w")
        return f.create_dataset("x", data=X, chunks=(16, X.shape[1]))
    zarr = pytest.importorskip("zarr")
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape,
                        chunks=(32, X.shape[1]), dtype=X.dtype)
    z[:] = X
    return z


SELECTORS = {
    "fl-knn": lambda: FacilityLocationRBF(24, similarity="knn", n_neighbors=8, random_state=0),
    "fl-knn-raw": lambda: FacilityLocationRBF(24, similarity="knn", n_neighbors=8,
                                              normalize=False, optimizer="stochastic",
                                              random_state=0),
    "kcenter": lambda: KCenterGreedy(24, random_state=0),
    "kcenter-cosine": lambda: KCenterGreedy(24, metric="cosine", block_size=5, random_state=1),
    "sgs-kcenter": lambda: SeededGlobalSelector(KCenterGreedy(), 24, k=0.5, random_state=0),
    "sgs-fl-knn": lambda: SeededGlobalSelector(
        FacilityLocationRBF(similarity="knn", n_neighbors=5), 24, random_state=0),
}


# every selector on a memmap; h5py and zarr (slower to read block by block) on a few
CASES = [(name, "memmap") for name in SELECTORS] + [
    ("fl-knn", "h5py"), ("kcenter-cosine", "h5py"), ("sgs-kcenter", "h5py"),
    ("fl-knn-raw", "zarr"), ("sgs-fl-knn", "zarr"),
]


@pytest.mark.parametrize("name, kind", CASES)
def test_on_disk_gives_the_in_memory_selection(name, kind, tmp_path, never_whole):
    X, y = data()
    ref = SELECTORS[name]().fit(X, y)
    source = on_disk(X, kind, tmp_path)
    assert is_out_of_core(source)
    sel = SELECTORS[name]().fit(source, y)
    assert sel.sample_indices_.tolist() == ref.sample_indices_.tolist()
    np.testing.assert_array_equal(sel.gains_, ref.gains_)
    assert sel.n_features_in_ == 6
    out = sel.transform(source)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, X[ref.sample_indices_])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kcenter_blocked_equals_unblocked_with_warm_start(metric):
    X, _ = data(n=150, seed=3)
    X = X.astype(np.float64)  # blocks of 20 rows
    one = KCenterGreedy(30, metric=metric, random_state=0).fit(X, initial_indices=[4, 90])
    blocked = KCenterGreedy(30, metric=metric, random_state=0)
    order, gains = blocked._select(RowBlocks(X), None, 30, np.array([4, 90]),
                                   np.random.RandomState(0))
    assert order.tolist() == one.sample_indices_.tolist()
    assert gains.tolist() == one.gains_.tolist()
    assert blocked.radius_ == one.radius_


def test_dense_facility_location_reads_a_memmap_whole(tmp_path):
    X, _ = data(n=60)
    source = on_disk(X, "memmap", tmp_path)
    ref = FacilityLocationRBF(10).fit(X)
    assert FacilityLocationRBF(10).fit(source).sample_indices_.tolist() == \
        ref.sample_indices_.tolist()


def test_integer_memmap_is_read_as_float64(tmp_path):
    X = np.random.RandomState(0).randint(0, 50, size=(40, 3))
    source = on_disk(X, "memmap", tmp_path)
    rows = RowBlocks(source)
    assert rows.dtype == np.float64 and rows.take([3, 1, 3]).tolist() == X[[3, 1, 3]].tolist()
    ref = KCenterGreedy(5, start=0).fit(X.astype(np.float64))
    assert KCenterGreedy(5, start=0).fit(source).sample_indices_.tolist() == \
        ref.sample_indices_.tolist()


@pytest.mark.parametrize("bad, name", [(np.nan, "NaN"), (np.inf, "infinity")])
@pytest.mark.parametrize("kind", ["memmap", "h5py"])
def test_non_finite_values_found_blockwise(bad, name, kind, tmp_path, never_whole):
    X, _ = data(n=100)
    X[57, 2] = bad
    source = on_disk(X, kind, tmp_path)
    with pytest.raises(ValueError, match=rf"Input X contains {name} \(first in row 57\)"):
        KCenterGreedy(5).fit(source)


def test_shape_errors(tmp_path):
    np.save(tmp_path / "x3.npy", np.zeros((4, 3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Expected 2D array, got 3D array of shape \(4, 3, 2\)"):
        KCenterGreedy(2).fit(np.load(tmp_path / "x3.npy", mmap_mode="r"))
    X, _ = data(n=30)
    sel = KCenterGreedy(3).fit(on_disk(X, "memmap", tmp_path))
    np.save(tmp_path / "x.npy", X[:, :4])
    with pytest.raises(ValueError, match=r"X has 4 features, but KCenterGreedy is expecting 6"):
        sel.transform(np.load(tmp_path / "x.npy", mmap_mode="r"))
    np.save(tmp_path / "x.npy", X[:20])
    with pytest.raises(ValueError, match=r"which had 30 rows; this X has 20"):
        sel.transform(np.load(tmp_path / "x.npy", mmap_mode="r"))


def test_cosine_zero_rows_named_by_row_of_x(tmp_path):
    X, _ = data(n=50)
    X[[11, 40]] = 0
    with pytest.raises(ValueError, match=r"X has 2 all-zero rows \(e.g. rows \[11, 40\]\)"):
        KCenterGreedy(3, metric="cosine").fit(on_disk(X, "memmap", tmp_path))
