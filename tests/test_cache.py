import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from coreset3d.cache import ArtifactCache, content_hash, default_cache_dir


def test_module_does_not_import_torch():
    code = "import sys, coreset3d.cache; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_content_hash_depends_on_bytes_dtype_shape_and_order():
    a = np.arange(12, dtype=np.float32)
    base = content_hash(a)
    assert content_hash(a.copy()) == base
    assert content_hash(a.astype(np.float64)) != base
    assert content_hash(a.reshape(3, 4)) != base
    b = a.copy()
    b[7] += 1
    assert content_hash(b) != base
    c = np.ones(3)
    assert content_hash(a, c) != content_hash(c, a)
    # splitting the same bytes differently is a different input
    assert content_hash(a[:6], a[6:]) != content_hash(a)
    # a non-contiguous view hashes like its contiguous copy
    m = np.arange(20.0).reshape(4, 5)
    assert content_hash(m[:, ::2]) == content_hash(np.ascontiguousarray(m[:, ::2]))


def test_content_hash_config_is_order_independent_and_typed():
    a = np.zeros(3)
    assert content_hash(a, lr=0.1, epochs=3) == content_hash(a, epochs=3, lr=0.1)
    assert content_hash(a, lr=0.1) != content_hash(a, lr=0.2)
    assert content_hash(a, epochs=1) != content_hash(a, epochs=1.0)
    assert content_hash(a, cfg={"x": 1, "y": [1, 2]}) == content_hash(a, cfg={"y": (1, 2), "x": 1})
    assert content_hash(a, n=np.int64(4)) == content_hash(a, n=4)
    assert content_hash(a, v=float("nan")) != content_hash(a, v=float("inf"))

    @dataclass
    class Cfg:
        lr: float = 0.1

    assert content_hash(cfg=Cfg()) == content_hash(cfg={"lr": 0.1})
    assert content_hash(cfg=Cfg(0.2)) != content_hash(cfg=Cfg())


def test_content_hash_chunks_large_arrays(monkeypatch):
    import coreset3d.cache as cache_mod

    a = np.random.default_rng(0).normal(size=1000)
    full = content_hash(a)
    monkeypatch.setattr(cache_mod, "_CHUNK", 7)  # many partial updates, same digest
    assert content_hash(a) == full


def test_content_hash_errors():
    with pytest.raises(TypeError, match="dtype object"):
        content_hash(np.array([object()], dtype=object))
    with pytest.raises(TypeError, match=r"config value config.fn has type function"):
        content_hash(fn=lambda: 0)
    with pytest.raises(TypeError, match="config keys must be str"):
        content_hash(cfg={1: 2})


def test_default_root_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CORESET3D_CACHE", str(tmp_path / "c"))
    assert ArtifactCache().root == tmp_path / "c"
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CORESET3D_CACHE")
    assert ArtifactCache().root == Path.home() / ".cache" / "coreset3d"


def test_paths_and_name_checks(tmp_path):
    cache = ArtifactCache(tmp_path)
    assert cache.path("teacher", "abc") == tmp_path / "teacher" / "abc"
    assert cache.path("teacher", "abc", "npz") == tmp_path / "teacher" / "abc.npz"
    assert cache.path("teacher", "abc", "torch") == tmp_path / "teacher" / "abc.pt"
    with pytest.raises(ValueError, match="key must be a non-empty name"):
        cache.path("teacher", "../escape")
    with pytest.raises(ValueError, match="kind must be a non-empty name"):
        cache.path("a/b", "k")
    with pytest.raises(ValueError, match="fmt must be one of"):
        cache.path("a", "k", "pickle")


def test_npz_json_roundtrip(tmp_path):
    cache = ArtifactCache(tmp_path)
    arrays = {"emb": np.arange(6, dtype=np.float32).reshape(2, 3), "y": np.array([0, 1])}
    cache.save_npz("emb", "k1", arrays)
    back = cache.load_npz("emb", "k1")
    assert back.keys() == arrays.keys()
    assert back["emb"].dtype == np.float32 and np.array_equal(back["emb"], arrays["emb"])
    cache.save_json("rep", "k1", {"oa": 0.5, "list": [1, 2]})
    assert cache.load_json("rep", "k1") == {"oa": 0.5, "list": [1, 2]}
    with pytest.raises(FileNotFoundError):
        cache.load_npz("emb", "missing")
    with pytest.raises(TypeError, match="dict of str -> array"):
        cache.save_npz("emb", "k2", [np.zeros(2)])
    with pytest.raises(TypeError, match="dtype object"):
        cache.save_npz("emb", "k2", {"o": np.array([{}], dtype=object)})


def test_torch_roundtrip(tmp_path):
    torch = pytest.importorskip("torch")
    cache = ArtifactCache(tmp_path)
    state = {"w": torch.arange(4.0), "epoch": 3}
    cache.save_torch("model", "k", state)
    back = cache.load_torch("model", "k")
    assert back["epoch"] == 3 and torch.equal(back["w"], state["w"])


def test_get_or_compute_calls_fn_once(tmp_path):
    cache = ArtifactCache(tmp_path)
    calls = []

    def fn():
        calls.append(1)
        return {"x": np.arange(3)}

    first = cache.get_or_compute("k", "a", fn)
    second = cache.get_or_compute("k", "a", fn)
    assert len(calls) == 1
    assert np.array_equal(first["x"], second["x"])
    cache.get_or_compute("k", "b", fn)  # another key is another artifact
    assert len(calls) == 2
    assert cache.get_or_compute("r", "a", lambda: {"t": (1, 2)}, fmt="json") == {"t": [1, 2]}
    with pytest.raises(TypeError, match="fn must be a callable"):
        cache.get_or_compute("k", "c", 3)


def test_interrupted_write_leaves_no_artifact(tmp_path):
    cache = ArtifactCache(tmp_path)

    class Boom(Exception):
        pass

    def writer(fh):
        fh.write(b"partial")
        raise Boom

    target = cache.path("k", "a", "npz")
    with pytest.raises(Boom):
        cache._write(target, writer)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the temporary file is cleaned up too

    def fail():
        raise Boom

    with pytest.raises(Boom):
        cache.get_or_compute("k", "a", fail)
    assert not target.exists()


def test_old_artifact_survives_a_failed_overwrite(tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.save_npz("k", "a", {"x": np.arange(3)})

    with pytest.raises(TypeError):
        cache.save_npz("k", "a", {"x": np.array([None], dtype=object)})
    assert cache.load_npz("k", "a")["x"].tolist() == [0, 1, 2]


def test_unreadable_artifact_is_recomputed_with_a_warning(tmp_path):
    cache = ArtifactCache(tmp_path)
    target = cache.path("k", "a", "npz")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not an npz file")
    with pytest.warns(RuntimeWarning, match="unreadable"):
        out = cache.get_or_compute("k", "a", lambda: {"x": np.ones(2)})
    assert out["x"].tolist() == [1.0, 1.0]
    assert cache.load_npz("k", "a")["x"].tolist() == [1.0, 1.0]
