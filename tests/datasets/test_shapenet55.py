"""load_shapenet55 on tiny files in Point-BERT's ShapeNet55-34 layout."""

import numpy as np
import pytest

from coreset3d.datasets import load_shapenet55

AIRPLANE, CHAIR, TABLE, UNKNOWN = "02691156", "03001627", "04379243", "09999999"


def _write(root, train, test, n_points=64, seed=0):
    """train/test: lists of (synset, model); returns {entry: cloud}."""
    rng = np.random.default_rng(seed)
    (root / "ShapeNet-55").mkdir(parents=True)
    (root / "shapenet_pc").mkdir()
    clouds = {}
    for split, items in (("train", train), ("test", test)):
        entries = [f"{synset}-{model}.npy" for synset, model in items]
        (root / "ShapeNet-55" / f"{split}.txt").write_text("\n".join(entries) + "\n")
        for entry in entries:
            clouds[entry] = rng.normal(size=(n_points, 3)).astype(np.float32)
            np.save(root / "shapenet_pc" / entry, clouds[entry])
    return clouds


TRAIN = [(CHAIR, "1a6f615e8b1b5ae4dbbc9440457e303e"), (AIRPLANE, "1a04e3eab45ca15dd8606"),
         (CHAIR, "1b05971a4373c7d2463600025db2266"), (TABLE, "1a00aa6b75362cc5b324368d54a7416f")]
TEST = [(UNKNOWN, "abc"), (AIRPLANE, "fff")]  # fmt: skip


def test_reads_list_order_and_labels_synsets_of_both_splits(tmp_path):
    clouds = _write(tmp_path, TRAIN, TEST)
    train = load_shapenet55(tmp_path, "train")
    assert train.files == [f"{s}-{m}.npy" for s, m in TRAIN]
    np.testing.assert_array_equal(train.points, np.stack([clouds[f] for f in train.files]))
    # sorted synsets of train + test: airplane, chair, table, 09999999
    assert train.class_names == ["airplane", "chair", "table", UNKNOWN]
    assert train.labels.tolist() == [1, 0, 1, 2]
    assert train.source == "shapenet55" and train.split == "train"
    test = load_shapenet55(tmp_path, "test")
    assert test.class_names == train.class_names and test.labels.tolist() == [3, 0]


def test_without_the_other_list_uses_this_split(tmp_path):
    _write(tmp_path, TRAIN, TEST)
    (tmp_path / "ShapeNet-55" / "test.txt").unlink()
    assert load_shapenet55(tmp_path).class_names == ["airplane", "chair", "table"]


def test_random_subsets_are_seeded_subsets(tmp_path):
    clouds = _write(tmp_path, TRAIN, TEST)
    a = load_shapenet55(tmp_path, n_points=16, seed=3)
    b = load_shapenet55(tmp_path, n_points=16, seed=3)
    c = load_shapenet55(tmp_path, n_points=16, seed=4)
    np.testing.assert_array_equal(a.points, b.points)
    assert a.points.shape == (4, 16, 3) and not np.array_equal(a.points, c.points)
    full = clouds[a.files[0]]
    matches = (a.points[0][:, None] == full[None]).all(axis=2)
    assert (matches.sum(axis=1) == 1).all() and len(set(matches.argmax(axis=1))) == 16
    first = load_shapenet55(tmp_path, n_points=16, sampling="first")
    np.testing.assert_array_equal(first.points[0], full[:16])


def _expect(root, error, match, **kwargs):
    with pytest.raises(error, match=match):
        load_shapenet55(root, **kwargs)


def test_missing_paths(tmp_path):
    match = r"data directory '.*x' does not exist; expected the ShapeNet55-34 folder"
    _expect(tmp_path / "x", FileNotFoundError, match)
    _write(tmp_path, TRAIN, TEST)
    (tmp_path / "shapenet_pc" / f"{TEST[0][0]}-{TEST[0][1]}.npy").unlink()
    match = r"ShapeNet-55/test.txt lists '09999999-abc.npy' but it is not in '.*shapenet_pc'"
    _expect(tmp_path, FileNotFoundError, match, split="test")
    (tmp_path / "ShapeNet-55" / "train.txt").unlink()
    match = r"expected train.txt \(the train split's file list\) in '.*ShapeNet-55'"
    _expect(tmp_path, FileNotFoundError, match)


def test_missing_cloud_folder(tmp_path):
    _write(tmp_path, TRAIN, TEST)
    for f in (tmp_path / "shapenet_pc").iterdir():
        f.unlink()
    (tmp_path / "shapenet_pc").rmdir()
    _expect(tmp_path, FileNotFoundError, r"expected the point-cloud folder shapenet_pc/ in")


def test_malformed_line(tmp_path):
    _write(tmp_path, TRAIN, TEST)
    (tmp_path / "ShapeNet-55" / "train.txt").write_text(f"{CHAIR}-a.npy\nchair_0001.off\n")
    match = r"line 2 of '.*train.txt' is 'chair_0001.off'; expected '<synset>-<model>.npy'"
    _expect(tmp_path, ValueError, match)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"garbage, not numpy", r"could not read '.*\.npy' as a .npy array \(corrupt\?\)"),
        (None, r"must hold a numeric \(n_points, 3\) xyz array; got shape \(64,\)"),
    ],
)
def test_corrupt_or_misshapen_npy(tmp_path, payload, match):
    _write(tmp_path, TRAIN, TEST)
    path = tmp_path / "shapenet_pc" / f"{TRAIN[2][0]}-{TRAIN[2][1]}.npy"
    if payload is None:
        np.save(path, np.zeros(64))
    else:
        path.write_bytes(payload)
    _expect(tmp_path, ValueError, match)


def test_unequal_sizes_need_n_points(tmp_path):
    _write(tmp_path, TRAIN, TEST)
    np.save(tmp_path / "shapenet_pc" / f"{TRAIN[1][0]}-{TRAIN[1][1]}.npy", np.zeros((40, 3)))
    _expect(tmp_path, ValueError, r"holds 40 points but the shapes before it hold 64; pass n_po")
    assert load_shapenet55(tmp_path, n_points=40).points.shape == (4, 40, 3)
    match = r"n_points=50 asks for more points than .* \(40 per shape\)"
    _expect(tmp_path, ValueError, match, n_points=50)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "val"}, r"split must be one of 'train', 'test'; got split='val'"),
        ({"sampling": "fps"}, r"sampling must be 'first' or 'random'; got sampling='fps'"),
        ({"n_points": 65}, r"n_points=65 asks for more points than .* \(64 per shape\)"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    _write(tmp_path, TRAIN, TEST)
    _expect(tmp_path, ValueError, match, **kwargs)
