"""The end-to-end 3D-Pruner run, built only from the public pieces of coreset3d.

One :func:`run` goes::

    data -> teacher (train, calibrate, embed, score; cached)
         -> selection (any selector by name; SGS on FL-RBF with k = 0.4 by default)
         -> student (KD + RKD from the calibrated teacher, the selector's weights)
         -> OA, mAcc and per-class accuracy on the test split
         -> results.json, report.md and plots

and trains a student on a random subset of the same size next to it, as the
reference every selector has to beat. :func:`sweep` steers SGS's ``k`` over a
list (the paper's Figure 7), :func:`select_embeddings` runs a selector alone on
the user's own embeddings, and :func:`compare_runs` puts several runs side by
side. The command line (:mod:`coreset3d.cli`) is a thin shell over these.

Everything expensive is stored in an :class:`~coreset3d.cache.ArtifactCache`
under the content hash of its inputs: the teacher, its calibrated head, the
embeddings, logits and scores (by :func:`coreset3d.torch.prepare_teacher`), each
selection, and each trained student. A second run with another selector or
``k`` reuses the teacher; a killed run resumes from the last epoch checkpoint
of whichever network it was training.

Only the torch stages import torch, so :func:`select_embeddings` and
:func:`compare_runs` work without the optional extra.
"""

import json
import math
import os
import platform
import shutil
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from . import __version__
from .base import EmptyClassWarning, resolve_budget
from .cache import ArtifactCache, content_hash
from .selectors import (
    CCS,
    CCSCP,
    NUCS,
    BalancedScore,
    DRoP,
    FacilityLocationRBF,
    Herding,
    KCenterGreedy,
    RandomSelector,
    ScalarScore,
    SeededGlobalSelector,
    StratifiedSelector,
)

__all__ = [
    "RunConfig",
    "SelectorSpec",
    "SELECTORS",
    "DATASETS",
    "DEFAULT_KS",
    "make_selector",
    "load_data",
    "validation_split",
    "run",
    "sweep",
    "load_embeddings",
    "select_embeddings",
    "write_selection",
    "compare_runs",
]

_VERSION = 1  # bump when a change here changes what a cached selection or student holds
DATASETS = ("synthetic", "modelnet40", "scanobjectnn", "shapenet55", "meshes")
MODELS = ("pointnet", "dgcnn")
#: The k values of :func:`sweep` (the paper's Figure 7).
DEFAULT_KS = (0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Defaults that depend on the dataset: (synthetic, real data).
_TEACHER_EPOCHS = (40, 80)
_STUDENT_EPOCHS = (300, 200)
_SYNTHETIC_IMBALANCE = 10.0


# --------------------------------------------------------------------------- #
# Selectors by name
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class SelectorSpec:
    """A selector the pipeline and the command line know by name.

    Attributes
    ----------
    name : str
        The ``--selector`` value.
    summary : str
        One line for ``--help`` and the docs.
    build : callable
        ``build(budget, k, seed) -> BaseSelector`` (unfitted).
    score : str or None
        Teacher score passed as ``fit(..., scores=...)`` (``"el2n"``,
        ``"loss"``, ...), or None.
    recall : bool
        Whether ``fit`` takes the per-class validation ``recall`` (DRoP).
    uses_k : bool
        Whether ``k`` (the SGS floor share) means anything to it.
    """

    name: str
    summary: str
    build: object
    score: str | None = None
    recall: bool = False
    uses_k: bool = False


def _sgs(base):
    def build(budget, k, seed):
        return SeededGlobalSelector(base(), budget=budget, k=k, random_state=seed)

    return build


def _scalar(budget, k, seed):
    return ScalarScore(budget=budget, mode="top", random_state=seed)


_SPECS = [
    SelectorSpec("sgs", "3D-Pruner: Seeded Global Selection on FL-RBF, a per-class floor of "
                 "k*B/C, then global facility location", _sgs(FacilityLocationRBF), uses_k=True),
    SelectorSpec("sgs-kcenter", "SGS with k-center greedy as the base",
                 _sgs(KCenterGreedy), uses_k=True),
    SelectorSpec("sgs-herding", "SGS with herding as the base", _sgs(Herding), uses_k=True),
    SelectorSpec("fl-rbf", "facility location on an RBF kernel, global (SGS with k=0)",
                 lambda b, k, s: FacilityLocationRBF(budget=b, random_state=s)),
    SelectorSpec("kcenter", "k-center greedy (farthest-first coverage)",
                 lambda b, k, s: KCenterGreedy(budget=b, random_state=s)),
    SelectorSpec("herding", "herding (running mean closest to the full mean)",
                 lambda b, k, s: Herding(budget=b, random_state=s)),
    SelectorSpec("random", "uniform random subset",
                 lambda b, k, s: RandomSelector(budget=b, random_state=s)),
    SelectorSpec("stratified", "random within each class, class-proportional budgets",
                 lambda b, k, s: StratifiedSelector(budget=b, random_state=s)),
    SelectorSpec("balanced", "random within each class, equal (capped) class budgets",
                 lambda b, k, s: StratifiedSelector(budget=b, strategy="balanced",
                                                    random_state=s)),
    SelectorSpec("loss", "highest teacher loss first", _scalar, score="loss"),
    SelectorSpec("entropy", "highest teacher entropy first", _scalar, score="entropy"),
    SelectorSpec("el2n", "highest EL2N (error L2 norm) first", _scalar, score="el2n"),
    SelectorSpec("gradnorm", "highest head gradient norm first", _scalar, score="gradnorm"),
    SelectorSpec("forgetting", "most forgetting events during teacher training first",
                 _scalar, score="forgetting"),
    SelectorSpec("ccs", "coverage-centric selection over EL2N strata (Zheng et al. 2023)",
                 lambda b, k, s: CCS(budget=b, random_state=s), score="el2n"),
    SelectorSpec("ccs-cp", "CCS inside each class, class-proportional budgets with a floor "
                 "(Tsai et al. 2025)", lambda b, k, s: CCSCP(budget=b, random_state=s),
                 score="el2n"),
    SelectorSpec("drop", "DRoP: class budgets from validation error, random within class "
                 "(Vysogorets et al. 2025)", lambda b, k, s: DRoP(budget=b, random_state=s),
                 recall=True),
    SelectorSpec("nucs", "NUCS: class budgets from mean EL2N, a middle window within class "
                 "(Zhang et al. 2025)", lambda b, k, s: NUCS(budget=b, random_state=s),
                 score="el2n"),
    SelectorSpec("balanced-el2n", "Balance-EL2N: equal class budgets, highest EL2N within class",
                 lambda b, k, s: BalancedScore(budget=b, random_state=s), score="el2n"),
]
#: Every selector by its ``--selector`` name.
SELECTORS = {spec.name: spec for spec in _SPECS}


def _check_selector_name(name):
    if name not in SELECTORS:
        raise ValueError(
            f"unknown selector {name!r}; choose one of {', '.join(SELECTORS)} "
            "(`coreset3d run --help` describes each)."
        )
    return SELECTORS[name]


def make_selector(name, budget, k=0.4, seed=0):
    """An unfitted selector from its ``--selector`` name.

    Parameters
    ----------
    name : str
        A key of :data:`SELECTORS` (``"sgs"``, ``"fl-rbf"``, ``"el2n"``, ...).
    budget : int or float
        Subset size: an int count or a fraction in (0, 1].
    k : float, default=0.4
        SGS floor share in [0, 1]; ignored by the other selectors.
    seed : int, default=0
        The selector's ``random_state``.

    Returns
    -------
    selector : BaseSelector
    spec : SelectorSpec
        What ``fit`` needs besides ``X`` and ``y`` (``spec.score``,
        ``spec.recall``).

    Examples
    --------
    >>> sel, spec = make_selector("sgs", 80, k=0.6)
    >>> type(sel).__name__, sel.k, type(sel.base).__name__, spec.score
    ('SeededGlobalSelector', 0.6, 'FacilityLocationRBF', None)
    >>> make_selector("el2n", 0.1)[1].score
    'el2n'
    """
    spec = _check_selector_name(name)
    return spec.build(budget, k, seed), spec


# --------------------------------------------------------------------------- #
# Configuration
# --------------------------------------------------------------------------- #


def _meta(help_text, *, choices=None, metavar=None, cli=True):
    return {"help": help_text, "choices": choices, "metavar": metavar, "cli": cli}


@dataclass
class RunConfig:
    """Settings of a 3D-Pruner run; each field is a command-line flag.

    ``data_dir`` is ``--data-dir`` and so on; a config file (TOML or YAML)
    uses the same names, with ``-`` or ``_``. Fields left at None take a
    default that depends on the dataset (see :meth:`resolved`). The help of
    each field is in ``dataclasses.fields(RunConfig)[i].metadata["help"]``,
    which is what ``coreset3d run --help`` prints.

    Examples
    --------
    >>> cfg = RunConfig(budget=0.2, selector="fl-rbf").resolved()
    >>> cfg.teacher_epochs, cfg.epochs, cfg.imbalance_ratio
    (40, 300, 10.0)
    """

    dataset: str = field(default="synthetic", metadata=_meta(
        "which data: the built-in synthetic long-tailed set of procedural shapes, or a real "
        "benchmark read from --data-dir", choices=DATASETS))
    data_dir: str | None = field(default=None, metadata=_meta(
        "folder of the real dataset (ModelNet40 PointNet HDF5 folder, ScanObjectNN h5_files, "
        "ShapeNet-55 root, or a mesh folder <class>/<split>/*.off); not used by synthetic",
        metavar="DIR"))
    budget: int | float = field(default=0.1, metadata=_meta(
        "subset size: an int count of training shapes (e.g. 80) or a fraction in (0, 1] "
        "(written with a dot, e.g. 0.1)", metavar="B"))
    selector: str = field(default="sgs", metadata=_meta(
        "selection method (see the list below)", choices=tuple(SELECTORS)))
    k: float = field(default=0.4, metadata=_meta(
        "SGS steering knob in [0, 1]: the share of the budget spent on an equal per-class "
        "floor (0 = global selection, leans to OA; 1 = equal classes, leans to mAcc)"))
    model: str = field(default="pointnet", metadata=_meta(
        "network of the teacher and the student", choices=MODELS))
    width: float = field(default=0.5, metadata=_meta(
        "channel multiplier of the network (1.0 = the published size)"))
    embed_dim: int = field(default=128, metadata=_meta(
        "size of the embedding the selectors see", metavar="D"))
    n_points: int = field(default=256, metadata=_meta(
        "points per shape the networks see (a fresh random subset of the stored points at "
        "every training step when the data holds more)", metavar="N"))
    epochs: int | None = field(default=None, metadata=_meta(
        "student training epochs on the subset (default: 300 on synthetic, 200 otherwise)",
        metavar="E"))
    teacher_epochs: int | None = field(default=None, metadata=_meta(
        "teacher training epochs on the full training split (default: 40 on synthetic, "
        "80 otherwise)", metavar="E"))
    batch_size: int = field(default=32, metadata=_meta("mini-batch size of every training",
                                                         metavar="N"))
    lr: float = field(default=2e-3, metadata=_meta("peak AdamW learning rate of teacher and "
                                                    "student"))
    mixed_precision: bool = field(default=True, metadata=_meta(
        "bfloat16 autocast on CPU, float16 on CUDA, while training"))
    val_fraction: float = field(default=0.1, metadata=_meta(
        "share of each class of the training split held out as a validation split (at least "
        "one shape per class with two or more); the teacher, the selection and the budget use "
        "the rest. DRoP reads the teacher's per-class recall on it; 0 keeps the whole "
        "training split (then DRoP is unavailable)"))
    n_classes: int = field(default=10, metadata=_meta(
        "synthetic only: number of shape classes (2-13)"))
    n_per_class: int = field(default=200, metadata=_meta(
        "synthetic only: shapes of the largest class in the training split (the test split "
        "is drawn apart, with the same long tail)", metavar="N"))
    imbalance_ratio: float | None = field(default=None, metadata=_meta(
        "largest over smallest class size: the synthetic long tail (default 10), or for real "
        "data a long tail imposed on the training split with make_long_tailed (default: keep "
        "the data as it is)", metavar="R"))
    reference: bool = field(default=True, metadata=_meta(
        "also train a student on a random subset of the same size (the reference)"))
    device: str = field(default="auto", metadata=_meta(
        "torch device: auto (CUDA when available), cpu, cuda or cuda:N"))
    seed: int = field(default=0, metadata=_meta(
        "seeds the validation split, the teacher, the selection and the student (the "
        "synthetic shapes themselves always use seed 0)"))
    threads: int | None = field(default=None, metadata=_meta(
        "torch CPU threads (default: half the CPU cores, at least 1, or torch's own setting "
        "when OMP_NUM_THREADS is set; on a busy 2-core machine one thread trains several times "
        "faster than two)", metavar="T"))
    cache_dir: str | None = field(default=None, metadata=_meta(
        "artifact cache (default: $CORESET3D_CACHE, else ~/.cache/coreset3d)", metavar="DIR"))
    out: str | None = field(default=None, metadata=_meta(
        "output folder for results.json, report.md and the plots (default: "
        "coreset3d-runs/<dataset>-<selector>-b<budget>[-k<k>]-s<seed>)", metavar="DIR"))
    quiet: bool = field(default=False, metadata=_meta(
        "no progress bars and no stage lines; only the final results"))
    json: bool = field(default=False, metadata=_meta(
        "print the results as JSON on stdout (stage lines go to stderr)"))

    def resolved(self):
        """A validated copy with every dataset-dependent default filled in.

        Returns
        -------
        config : RunConfig

        Raises
        ------
        ValueError, TypeError
            A field out of range or of the wrong type (the message names the
            flag), or ``--data-dir`` missing or not a folder (FileNotFoundError).
        """
        values = asdict(self)
        _validate_fields(values)
        synthetic = values["dataset"] == "synthetic"
        if values["teacher_epochs"] is None:
            values["teacher_epochs"] = _TEACHER_EPOCHS[0 if synthetic else 1]
        if values["epochs"] is None:
            values["epochs"] = _STUDENT_EPOCHS[0 if synthetic else 1]
        if synthetic and values["imbalance_ratio"] is None:
            values["imbalance_ratio"] = _SYNTHETIC_IMBALANCE
        if not synthetic:
            if values["data_dir"] is None:
                raise ValueError(
                    f"--dataset {values['dataset']} reads its files from --data-dir DIR; pass "
                    "the folder holding them (or --dataset synthetic for the built-in set)."
                )
            path = Path(values["data_dir"]).expanduser()
            if not path.is_dir():
                raise FileNotFoundError(
                    f"--data-dir {str(path)!r} does not exist or is not a folder; pass the "
                    f"folder of the {values['dataset']} data."
                )
        if values["selector"] == "drop" and values["val_fraction"] == 0:
            raise ValueError(
                "--selector drop needs the teacher's per-class recall on a validation split, "
                "but --val-fraction is 0; pass --val-fraction > 0 (e.g. 0.1)."
            )
        if values["out"] is None:
            values["out"] = _default_out(values)
        return RunConfig(**values)

    @classmethod
    def from_mapping(cls, mapping, *, where="config"):
        """A config from a dict (a config file), with ``-`` or ``_`` in the keys.

        Unknown keys raise a ValueError that lists the known ones.
        """
        return cls(**normalize_keys(mapping, [f.name for f in fields(cls)], where=where))


def _default_out(values, sweep=False):
    tag = f"{values['dataset']}-{values['selector']}-b{values['budget']:g}"
    if sweep:
        tag += "-sweep"
    elif SELECTORS[values["selector"]].uses_k:
        tag += f"-k{values['k']:g}"
    return str(Path("coreset3d-runs") / f"{tag}-s{values['seed']}")


def normalize_keys(mapping, known, *, where="config"):
    """``{"data-dir": x}`` -> ``{"data_dir": x}``; a ValueError for unknown keys."""
    if not isinstance(mapping, dict):
        raise TypeError(f"{where} must be a table of settings, got {type(mapping).__name__}.")
    out = {}
    for key, value in mapping.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise ValueError(
                f"{where} has an unknown setting {key!r}; known settings are "
                f"{', '.join(k.replace('_', '-') for k in known)}."
            )
        out[name] = value
    return out


def _flag(name):
    return "--" + name.replace("_", "-")


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _validate_fields(v):
    """Type and range checks of a RunConfig's values; messages name the flag."""

    def fail(name, expected, exc=ValueError):
        raise exc(f"{_flag(name)} must be {expected}; got {v[name]!r}.")

    def check_choice(name, choices):
        if v[name] not in choices:
            if name == "selector":
                _check_selector_name(v[name])
            fail(name, f"one of {', '.join(choices)}")

    check_choice("dataset", DATASETS)
    check_choice("selector", tuple(SELECTORS))
    check_choice("model", MODELS)
    budget = v["budget"]
    if _is_int(budget):
        if budget < 1:
            fail("budget", "an int count >= 1 or a fraction in (0, 1]")
    elif _is_real(budget):
        if not 0 < budget <= 1:
            fail("budget", "a fraction in (0, 1] or an int count >= 1 (e.g. 80)")
    else:
        fail("budget", "an int count >= 1 or a fraction in (0, 1]", TypeError)
    for name in ("k", "val_fraction"):
        if not _is_real(v[name]) or not 0 <= v[name] <= 1:
            fail(name, "a number in [0, 1]")
    if v["val_fraction"] >= 1:
        fail("val_fraction", "a number in [0, 1) (1 would leave no training shape)")
    for name in ("embed_dim", "n_points", "batch_size", "n_per_class"):
        if not _is_int(v[name]) or v[name] < 1:
            fail(name, "an int >= 1")
    if not _is_int(v["n_classes"]) or not 2 <= v["n_classes"] <= 13:
        fail("n_classes", "an int in [2, 13] (the synthetic shape families)")
    for name in ("epochs", "teacher_epochs", "threads"):
        if v[name] is not None and (not _is_int(v[name]) or v[name] < 1):
            fail(name, "an int >= 1")
    for name in ("width", "lr"):
        if not _is_real(v[name]) or v[name] <= 0:
            fail(name, "a number > 0")
    if v["imbalance_ratio"] is not None and (not _is_real(v["imbalance_ratio"])
                                             or v["imbalance_ratio"] < 1):
        fail("imbalance_ratio", "a number >= 1")
    if not _is_int(v["seed"]) or v["seed"] < 0:
        fail("seed", "an int >= 0")
    for name in ("mixed_precision", "reference", "quiet", "json"):
        if not isinstance(v[name], bool):
            fail(name, "true or false", TypeError)
    for name in ("data_dir", "cache_dir", "out", "device"):
        if v[name] is not None and not isinstance(v[name], (str, os.PathLike)):
            fail(name, "a string", TypeError)
        if v[name] is not None:
            v[name] = os.fspath(v[name])


# --------------------------------------------------------------------------- #
# Data
# --------------------------------------------------------------------------- #


def load_data(config):
    """The training and test splits a run uses.

    Parameters
    ----------
    config : RunConfig
        A :meth:`RunConfig.resolved` config.

    Returns
    -------
    train, test : PointCloudDataset
        The synthetic set at ``n_points`` points per shape, or the real
        dataset's stored points (ShapeNet-55 and mesh folders are sampled to
        ``n_points`` on reading); with ``imbalance_ratio`` on real data, the
        training split subsampled to that long tail.
    """
    from .datasets import (
        load_mesh_folder,
        load_modelnet40,
        load_scanobjectnn,
        load_shapenet55,
        make_long_tailed,
        make_synthetic_shapes,
    )

    name = config.dataset
    if name == "synthetic":
        kwargs = {"n_classes": config.n_classes, "n_per_class_max": config.n_per_class,
                  "imbalance_ratio": config.imbalance_ratio, "n_points": config.n_points,
                  "seed": 0}
        train = make_synthetic_shapes(split="train", **kwargs)
        # The test split follows the training split's long tail (as ModelNet40's does), so
        # that OA (sample-weighted) and mAcc (class-weighted) measure different things.
        balanced = make_synthetic_shapes(split="test", n_test_per_class=config.n_per_class,
                                         **kwargs)
        return train, make_long_tailed(balanced, config.imbalance_ratio, seed=0)
    if name == "modelnet40":
        train, test = (load_modelnet40(config.data_dir, split) for split in ("train", "test"))
    elif name == "scanobjectnn":
        train, test = (load_scanobjectnn(config.data_dir, split) for split in ("train", "test"))
    elif name == "shapenet55":
        train, test = (load_shapenet55(config.data_dir, split, n_points=config.n_points,
                                       seed=config.seed) for split in ("train", "test"))
    else:
        train, test = (load_mesh_folder(config.data_dir, split, n_points=config.n_points,
                                        seed=config.seed) for split in ("train", "test"))
    if train.n_points < config.n_points:
        raise ValueError(
            f"--n-points {config.n_points} but the {name} shapes hold only {train.n_points} "
            f"points; pass --n-points <= {train.n_points}."
        )
    if config.imbalance_ratio is not None:
        train = make_long_tailed(train, config.imbalance_ratio, seed=config.seed)
    return train, test


def validation_split(labels, fraction, seed=0):
    """Stratified split of a training set into a training pool and a validation split.

    Each class ``c`` of ``n_c`` shapes gives ``round(fraction * n_c)``
    shapes to validation, at least one when ``n_c >= 2`` and never its last
    one, so every class keeps a training shape and every class of two or
    more shapes has a validation recall.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Integer class labels.
    fraction : float in [0, 1)
        Share of each class held out.
    seed : int, default=0
        Seed of which shapes are held out.

    Returns
    -------
    train_idx, val_idx : ndarray of int
        Sorted row indices of the pool and of the validation split.

    Examples
    --------
    >>> tr, va = validation_split([0] * 10 + [1] * 3 + [2], 0.1)
    >>> len(tr), len(va), sorted(np.asarray([0] * 10 + [1] * 3 + [2])[va].tolist())
    (12, 2, [0, 1])
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    val = []
    if fraction > 0:
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            n_val = min(rows.shape[0] - 1, max(1, int(np.floor(fraction * rows.shape[0] + 0.5))))
            if n_val > 0:
                val.append(rng.choice(rows, n_val, replace=False))
    val_idx = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=np.intp)
    mask = np.ones(labels.shape[0], dtype=bool)
    mask[val_idx] = False
    return np.flatnonzero(mask), val_idx.astype(np.intp)


# --------------------------------------------------------------------------- #
# Console: stage lines, final tables
# --------------------------------------------------------------------------- #


class Console:
    """Where a run reports: stage lines, final tables, progress bars.

    Stage lines go to stdout, or to stderr with ``json_mode`` (stdout then
    holds only the JSON); ``quiet`` drops stage lines and progress bars.
    """

    def __init__(self, quiet=False, json_mode=False, stdout=None, stderr=None):
        self.quiet = bool(quiet)
        self.json_mode = bool(json_mode)
        self._stdout = stdout
        self._stderr = stderr

    @property
    def progress(self):
        """Whether to show tqdm bars."""
        return not self.quiet

    def _stream(self, final):
        out = self._stdout or sys.stdout
        err = self._stderr or sys.stderr
        if self.json_mode:
            return err
        return out if final or not self.quiet else None

    def stage(self, name, text, seconds=None):
        """One line per finished stage: ``[name] text (12.3 s)``."""
        if self.quiet:
            return
        stream = self._stream(False)
        tail = "" if seconds is None else f"  ({_fmt_s(seconds)})"
        print(f"[{name}] {text}{tail}", file=stream, flush=True)

    def result(self, text):
        """Final results: stdout (stderr in JSON mode)."""
        if self.json_mode and self.quiet:
            return
        print(text, file=self._stream(True), flush=True)

    def emit_json(self, obj):
        """The JSON document on stdout (JSON mode only)."""
        if self.json_mode:
            print(json.dumps(obj, indent=2), file=self._stdout or sys.stdout, flush=True)


def _fmt_s(seconds):
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _pct(value):
    return "  n/a" if value is None or not np.isfinite(value) else f"{100 * value:5.1f}"


# --------------------------------------------------------------------------- #
# The run
# --------------------------------------------------------------------------- #


class _Run:
    """State shared by the stages of one run or sweep (data, cache, teacher)."""

    def __init__(self, config, console):
        self.config = config
        self.console = console
        self.cache = ArtifactCache(config.cache_dir)
        self.timings = {}
        self.hits = {}

    # ---------------------------------------------------------------- data
    def load(self):
        cfg = self.config
        started = time.perf_counter()
        train_all, test = load_data(cfg)
        pool_idx, val_idx = validation_split(train_all.labels, cfg.val_fraction, cfg.seed)
        self.train = train_all.subset(pool_idx)
        self.val = train_all.subset(val_idx) if val_idx.size else None
        self.test = test
        self.class_names = list(train_all.class_names)
        self.n_classes = train_all.n_classes
        self.sizes = self.train.class_counts()
        self.n_total = len(train_all)
        self.timings["data"] = time.perf_counter() - started
        nonzero = self.sizes[self.sizes > 0]
        self.console.stage(
            "data",
            f"{cfg.dataset}: {len(self.train)} training shapes"
            + (f" (+{len(self.val)} held out for validation)" if self.val is not None else "")
            + f", {len(test)} test; {self.n_classes} classes of {nonzero.max()}..{nonzero.min()}"
            f" shapes; {cfg.n_points} of {train_all.n_points} points",
            self.timings["data"],
        )
        self.n_select = self._check_budget(cfg.budget)

    def _check_budget(self, budget):
        n = len(self.train)
        if _is_int(budget):
            if budget > n:
                held = (f" ({self.n_total} training shapes minus {self.n_total - n} held out "
                        f"for validation with --val-fraction {self.config.val_fraction:g})"
                        if self.val is not None else "")
                raise ValueError(
                    f"--budget {budget} asks for more shapes than the training set has: {n}"
                    f"{held}; pass --budget <= {n} or a fraction in (0, 1]."
                )
            return int(budget)
        return resolve_budget(budget, n)

    # ------------------------------------------------------------- teacher
    def teacher(self):
        from .torch import TeacherConfig, evaluate, prepare_teacher

        cfg = self.config
        self.tcfg = TeacherConfig(
            model=cfg.model, width=cfg.width, embed_dim=cfg.embed_dim, n_points=cfg.n_points,
            epochs=cfg.teacher_epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            warmup_epochs=min(2, cfg.teacher_epochs), mixed_precision=cfg.mixed_precision,
            seed=cfg.seed)
        started = time.perf_counter()
        art = prepare_teacher(self.train.points, self.train.labels, self.test.points,
                              self.test.labels, self.tcfg, cache=self.cache,
                              n_classes=self.n_classes, device=cfg.device,
                              progress=self.console.progress)
        self.art = art
        rep = art.report
        self.device = rep["device"]
        for stage in ("teacher", "calibrated", "outputs"):
            self.hits[stage] = bool(rep["cache_hits"][stage])
        # DRoP's recall: the (uncalibrated) teacher on the validation split.
        self.val_recall = None
        if self.val is not None:
            acc = evaluate(art.teacher, self.val.points[:, :cfg.n_points], self.val.labels,
                           device=art.report["device"])
            self.val_recall = acc["per_class"]
            self.val_acc = {"oa": float(acc["oa"]), "macc": float(acc["macc"])}
        self.timings["teacher"] = time.perf_counter() - started
        how = ("cached" if self.hits["teacher"]
               else f"trained {rep['epochs_done']} epochs")
        self.console.stage(
            "teacher",
            f"{cfg.model} x{cfg.width:g}, {how}; test OA {_pct(rep['before']['oa'])} mAcc "
            f"{_pct(rep['before']['macc'])} -> calibrated OA {_pct(rep['after']['oa'])} mAcc "
            f"{_pct(rep['after']['macc'])}",
            self.timings["teacher"],
        )

    def teacher_summary(self):
        rep = self.art.report
        out = {"before": rep["before"], "after": rep["after"], "epochs": rep["epochs_done"],
               "resumed_from": rep["resumed_from"], "train_sessions": rep["train_sessions"],
               "keys": rep["keys"], "cache_hits": rep["cache_hits"],
               "wall_s": rep["wall_s"], "config": rep["config"]}
        if self.val is not None:
            out["validation"] = {**self.val_acc,
                                 "recall": _json_list(self.val_recall)}
        return out

    # ----------------------------------------------------------- selection
    def select(self, name, k, *, stage="select"):
        cfg = self.config
        selector, spec = make_selector(name, self.n_select, k, cfg.seed)
        fit_params, arrays = {}, []
        if spec.score is not None:
            fit_params["scores"] = self.art.scores[spec.score]
            arrays.append(fit_params["scores"])
        if spec.recall:
            fit_params["recall"] = _fill_recall(self.val_recall, self.sizes)
            arrays.append(fit_params["recall"])
        key = content_hash(self.art.embeddings, self.train.labels, *arrays, stage="selection",
                           version=_VERSION, selector=name, k=float(k) if spec.uses_k else None,
                           n_select=self.n_select, seed=cfg.seed, params=_params(selector))
        hit = self.cache.exists("selection", key, "npz")
        started = time.perf_counter()

        def compute():
            with warnings.catch_warnings(), _elapsed_bar(f"{stage} {name}",
                                                        self.console.progress):
                warnings.simplefilter("ignore", EmptyClassWarning)
                selector.fit(self.art.embeddings, self.train.labels, **fit_params)
            seeds = getattr(selector, "seed_indices_", np.empty(0, dtype=np.intp))
            return {"indices": selector.sample_indices_, "weights": selector.weights_,
                    "seed_indices": np.asarray(seeds, dtype=np.intp)}

        sel = self.cache.get_or_compute("selection", key, compute)
        seconds = time.perf_counter() - started
        kept = np.bincount(self.train.labels[sel["indices"]], minlength=self.n_classes)
        info = {"selector": name, "k": float(k) if spec.uses_k else None,
                "n_selected": int(sel["indices"].shape[0]),
                "kept": kept.tolist(), "n_seeds": int(sel["seed_indices"].shape[0]),
                "score": spec.score, "key": key, "cached": bool(hit), "seconds": seconds}
        present = kept[self.sizes > 0]
        label = name + (f" (k={k:g})" if spec.uses_k else "")
        self.console.stage(
            stage,
            f"{label}: {info['n_selected']} of {len(self.train)} shapes "
            f"({100 * info['n_selected'] / len(self.train):.1f}%), per class "
            f"{present.max()}..{present.min()}" + (" [cached]" if hit else ""),
            seconds,
        )
        return sel, info

    # ------------------------------------------------------------- student
    def student(self, sel, *, stage, label):
        import torch

        from .torch import Compose, RandomResample, default_augmentation, distill, evaluate

        cfg = self.config
        n = cfg.n_points
        indices, weights = sel["indices"], sel["weights"]
        fields_ = {"model": cfg.model, "width": cfg.width, "embed_dim": cfg.embed_dim,
                   "n_points": n, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                   "lr": cfg.lr, "warmup_epochs": min(5, cfg.epochs),
                   "mixed_precision": cfg.mixed_precision, "seed": cfg.seed,
                   "loss": "kd+rkd (distill defaults)"}
        key = content_hash(indices, weights, stage="student", version=_VERSION,
                           teacher=self.art.keys["calibrated"], config=fields_)
        started = time.perf_counter()
        hit = self.cache.exists("student", key, "json")
        if hit:
            report = self.cache.load_json("student", key)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                student = self.tcfg.build_model(self.n_classes)
            sub = self.train.subset(indices)
            transforms = []
            if n < sub.n_points:
                transforms.append(RandomResample(n))
                points = sub.points
            else:
                points = np.ascontiguousarray(sub.points[:, :n])
            transforms.extend(default_augmentation().transforms)
            ckpt = self.cache.path("student-checkpoint", key)
            history = distill(
                student, self.art.calibrated, points, sub.labels, sample_weight=weights,
                epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                warmup_epochs=fields_["warmup_epochs"], augment=Compose(transforms),
                mixed_precision=cfg.mixed_precision, device=self.device, seed=cfg.seed,
                checkpoint_dir=ckpt, resume=True, progress=self.console.progress)
            acc = evaluate(student, self.test.points[:, :n], self.test.labels,
                           device=self.device)
            report = {"oa": float(acc["oa"]), "macc": float(acc["macc"]),
                      "per_class": _json_list(acc["per_class"]), "epochs": cfg.epochs,
                      "resumed_from": int(history.resumed_from),
                      "final_loss": float(history.loss[-1]),
                      "train_s": time.perf_counter() - started}
            self.cache.save_torch("student-weights", key,
                                  {k: v.cpu() for k, v in student.state_dict().items()})
            self.cache.save_json("student", key, report)
            shutil.rmtree(ckpt, ignore_errors=True)
        seconds = time.perf_counter() - started
        how = "cached" if hit else (
            f"{cfg.epochs} epochs" + (f", resumed at epoch {report['resumed_from']}"
                                      if report["resumed_from"] else ""))
        self.console.stage(
            stage, f"{label} on {len(indices)} shapes, KD+RKD, {how}: test OA "
            f"{_pct(report['oa'])} mAcc {_pct(report['macc'])}", seconds)
        return {**report, "key": key, "cached": bool(hit), "seconds": seconds,
                "weights_path": str(self.cache.path("student-weights", key, "torch"))}

    # ------------------------------------------------------------- summary
    def data_summary(self):
        out = {"dataset": self.config.dataset, "class_names": self.class_names,
               "n_train": len(self.train), "n_validation": 0 if self.val is None else len(self.val),
               "n_test": len(self.test), "class_sizes": self.sizes.tolist(),
               "test_class_sizes": self.test.class_counts().tolist(),
               "n_points": self.config.n_points, "n_points_stored": self.train.n_points}
        if self.val is not None:
            out["validation_class_sizes"] = self.val.class_counts().tolist()
        return out


@contextmanager
def _elapsed_bar(desc, enabled):
    """A tqdm line that shows the elapsed time of a step that reports no progress itself.

    The selectors' greedy loops run in numba with the GIL released, so a
    thread can refresh the line once a second. Without tqdm, nothing is shown.
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:
        enabled = False
    if not enabled:
        yield
        return
    stop = threading.Event()
    bar = tqdm(desc=desc, bar_format="{desc}: {elapsed} elapsed", leave=False)

    def tick():
        while not stop.wait(1.0):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
        bar.close()


@contextmanager
def _torch_threads(threads):
    """Set torch's CPU threads for a run (None: half the cores) and restore them after."""
    import torch

    before = torch.get_num_threads()
    if threads is None:
        half = max(1, (os.cpu_count() or 2) // 2)
        threads = before if os.environ.get("OMP_NUM_THREADS") else half
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)


def _params(selector):
    """The JSON-able parameters of a selector (for its cache key)."""
    out = {}
    for name, value in selector.get_params(deep=True).items():
        if hasattr(value, "get_params"):
            out[name] = type(value).__name__
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[name] = value
        else:
            out[name] = repr(value)
    return out


def _fill_recall(recall, sizes):
    """Per-class recall aligned with the classes present; NaN (no validation shape) -> mean."""
    recall = np.asarray(recall, dtype=np.float64)[sizes > 0]
    finite = np.isfinite(recall)
    fill = recall[finite].mean() if finite.any() else 0.5
    return np.where(finite, recall, fill)


def _json_list(values):
    return [None if v is None or not np.isfinite(v) else float(v) for v in np.asarray(values)]


def _versions():
    out = {"coreset3d": __version__, "python": platform.python_version(),
           "numpy": np.__version__}
    for name in ("scipy", "sklearn", "numba", "torch"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except ImportError:
                continue
        out[name] = getattr(module, "__version__", "?")
    return out


def _write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run(config=None, *, console=None, command=None):
    """Run 3D-Pruner end to end and write the report.

    Parameters
    ----------
    config : RunConfig, default=None
        None runs the defaults: SGS (FL-RBF, k = 0.4) at 10 % of the
        built-in synthetic long-tailed set.
    console : Console, default=None
        Where stage lines and results go; None prints them (stdout) with
        progress bars.
    command : str, default=None
        The command line, recorded in the report.

    Returns
    -------
    results : dict
        What ``results.json`` holds: the resolved settings, versions, data
        summary, teacher accuracy before and after calibration, the
        selection (per-class kept counts), the student's OA, mAcc and
        per-class accuracy, the random reference, timings and cache hits.

    See Also
    --------
    sweep : the same for a list of SGS ``k``.
    coreset3d.torch.prepare_teacher : the cached teacher stage.

    Notes
    -----
    Stages: data, teacher (cached by content), selection (cached),
    student (checkpointed every epoch, cached when done), the random
    reference (the same), report. Cost is dominated by the teacher,
    ``teacher_epochs * n_train`` forward/backward passes, then the two
    students, ``epochs * B`` each (plus a teacher forward pass per step).
    """
    config = (config or RunConfig()).resolved()
    console = console or Console(config.quiet, config.json)
    with _torch_threads(config.threads) as threads:
        return _run(config, console, command, threads)


def _run(config, console, command, threads):
    started = time.perf_counter()
    state = _Run(config, console)
    state.load()
    state.teacher()
    sel, info = state.select(config.selector, config.k)
    student = state.student(sel, stage="student", label=info["selector"])
    reference = ref_info = None
    if config.reference:
        ref_sel, ref_info = state.select("random", 0.0, stage="reference")
        reference = state.student(ref_sel, stage="reference", label="random")
    state.timings.update({"select": info["seconds"], "student": student["seconds"]})
    hits = {**state.hits, "selection": info["cached"], "student": student["cached"]}
    if reference is not None:
        state.timings["reference"] = ref_info["seconds"] + reference["seconds"]
        hits.update({"reference_selection": ref_info["cached"],
                     "reference": reference["cached"]})
    results = {
        "kind": "run",
        "command": command,
        "config": asdict(config),
        "versions": _versions(),
        "device": state.device,
        "threads": threads,
        "data": state.data_summary(),
        "teacher": state.teacher_summary(),
        "selection": info,
        "student": student,
        "reference": None if reference is None else {"selection": ref_info, **reference},
        "cache_hits": hits,
        "cache_dir": str(state.cache.root),
    }
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    state.timings["total"] = time.perf_counter() - started
    results["timings"] = dict(state.timings)
    return _finish(out / "results.json", results, console, _run_plots, _run_markdown,
                   _run_table)


def _finish(path, results, console, plots_fn, markdown_fn, table_fn):
    """Plots, the results file, report.md, the final table and the JSON of a run or sweep."""
    out = path.parent
    results["plots"] = plots_fn(out, results, console)
    _write_json(path, results)
    (out / "report.md").write_text(markdown_fn(results), encoding="utf-8")
    console.stage("report", f"{path}, {out / 'report.md'}")
    console.result(table_fn(results))
    console.emit_json(results)
    return results


def _run_table(results):
    teacher = results["teacher"]
    rows = [("teacher (full data, calibrated)", teacher["after"]["oa"], teacher["after"]["macc"],
             results["data"]["n_train"])]
    sel = results["selection"]
    label = sel["selector"] + (f" k={sel['k']:g}" if sel["k"] is not None else "")
    rows.append((f"{label} (pruned student)", results["student"]["oa"],
                 results["student"]["macc"], sel["n_selected"]))
    if results.get("reference"):
        ref = results["reference"]
        rows.append(("random subset (same size)", ref["oa"], ref["macc"],
                     ref["selection"]["n_selected"]))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  {'OA':>6}  {'mAcc':>6}  {'shapes':>6}"]
    for name, oa, macc, n in rows:
        lines.append(f"{name:{width}}  {_pct(oa):>6}  {_pct(macc):>6}  {n:>6}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Sweep over k
# --------------------------------------------------------------------------- #


_SWEEP_IGNORED = ("k", "out", "quiet", "json", "threads", "device", "cache_dir")


def sweep(config=None, ks=DEFAULT_KS, *, console=None, command=None):
    """SGS's steering curve: OA and mAcc of the student for each ``k``.

    For every ``k`` in ``ks`` the selection and the student are run (the
    teacher is trained once, or read from the cache), and the finished
    point is written to ``sweep.json`` at once; a rerun with the same
    settings skips the points already there. The plot shows OA against
    mAcc, one point per ``k``, with the full-data teacher and a random
    subset of the same size as references (the paper's Figure 7).

    Parameters
    ----------
    config : RunConfig, default=None
        Its ``selector`` must be an SGS variant (``sgs``, ``sgs-kcenter``,
        ``sgs-herding``); ``k`` is ignored.
    ks : sequence of float, default=(0, 0.1, 0.2, 0.4, 0.6, 0.8, 1)
        The values of ``k``, each in [0, 1].
    console : Console, default=None
    command : str, default=None

    Returns
    -------
    results : dict
        What ``sweep.json`` holds: the settings, the teacher, the random
        reference and one entry per ``k`` (OA, mAcc, per-class accuracy
        and kept counts).
    """
    config = config or RunConfig()
    out_given = config.out is not None
    config = config.resolved()
    if not out_given:
        config = replace(config, out=_default_out(asdict(config), sweep=True))
    if not SELECTORS[config.selector].uses_k:
        raise ValueError(
            f"sweep steers SGS's k, but --selector is {config.selector!r}; pass --selector "
            "sgs (or sgs-kcenter, sgs-herding)."
        )
    ks = _check_ks(ks)
    console = console or Console(config.quiet, config.json)
    with _torch_threads(config.threads) as threads:
        return _sweep(config, ks, console, command, threads)


def _sweep(config, ks, console, command, threads):
    out = Path(config.out)
    path = out / "sweep.json"
    settings = {k: v for k, v in asdict(config).items() if k not in _SWEEP_IGNORED}
    done = {}
    if path.exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        if previous.get("settings") != settings:
            diff = sorted(k for k in set(settings) | set(previous.get("settings", {}))
                          if previous.get("settings", {}).get(k) != settings.get(k))
            raise ValueError(
                f"{path} holds a sweep with other settings ({', '.join(diff)} differ); pass "
                "another --out or remove that file to start over."
            )
        done = {float(p["k"]): p for p in previous.get("points", [])}
    started = time.perf_counter()
    state = _Run(config, console)
    state.load()
    state.teacher()
    results = {"kind": "sweep", "command": command, "settings": settings,
               "config": asdict(config), "versions": _versions(), "device": state.device,
               "threads": threads,
               "data": state.data_summary(), "teacher": state.teacher_summary(),
               "reference": None, "points": [done[k] for k in sorted(done)],
               "cache_dir": str(state.cache.root)}
    if config.reference:
        ref_sel, ref_info = state.select("random", 0.0, stage="reference")
        ref = state.student(ref_sel, stage="reference", label="random")
        results["reference"] = {"selection": ref_info, **ref}
    _write_json(path, results)
    for k in ks:
        if k in done:
            console.stage(f"k={k:g}", "already in sweep.json, skipped")
            continue
        sel, info = state.select(config.selector, k, stage=f"k={k:g}")
        student = state.student(sel, stage=f"k={k:g}", label=f"{config.selector} k={k:g}")
        done[k] = {"k": k, "oa": student["oa"], "macc": student["macc"],
                   "per_class": student["per_class"], "kept": info["kept"],
                   "n_selected": info["n_selected"], "selection_cached": info["cached"],
                   "student_cached": student["cached"],
                   "resumed_from": student["resumed_from"],
                   "seconds": info["seconds"] + student["seconds"]}
        results["points"] = [done[x] for x in sorted(done)]
        _write_json(path, results)
    results["wall_s"] = time.perf_counter() - started
    return _finish(path, results, console, _sweep_plots, _sweep_markdown, _sweep_table)


def _check_ks(ks):
    values = []
    for k in ks:
        if not _is_real(k) or not 0 <= k <= 1:
            raise ValueError(f"--ks must be numbers in [0, 1]; got {k!r}.")
        values.append(float(k))
    if not values:
        raise ValueError("--ks is empty; pass at least one k in [0, 1].")
    return list(dict.fromkeys(values))


def _sweep_table(results):
    lines = [f"{'':34}  {'OA':>6}  {'mAcc':>6}"]
    t = results["teacher"]["after"]
    lines.append(f"{'teacher (full data, calibrated)':34}  {_pct(t['oa']):>6}  "
                 f"{_pct(t['macc']):>6}")
    if results.get("reference"):
        r = results["reference"]
        lines.append(f"{'random subset (same size)':34}  {_pct(r['oa']):>6}  "
                     f"{_pct(r['macc']):>6}")
    name = results["config"]["selector"]
    for p in results["points"]:
        label = f"{name} k={p['k']:g}"
        lines.append(f"{label:34}  {_pct(p['oa']):>6}  {_pct(p['macc']):>6}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Reports
# --------------------------------------------------------------------------- #


def _try_plots(console, fn, *args):
    try:
        return fn(*args)
    except ImportError as exc:
        console.stage("report", f"no plots ({exc})")
        return []


def _run_plots(out, results, console):
    def draw():
        from . import plots

        data = results["data"]
        sizes = np.asarray(data["class_sizes"])
        kept = {results["selection"]["selector"]: results["selection"]["kept"]}
        acc = {"teacher (calibrated)": results["teacher"]["after"]["per_class"],
               "student": results["student"]["per_class"]}
        if results.get("reference"):
            kept["random"] = results["reference"]["selection"]["kept"]
            acc["random subset"] = results["reference"]["per_class"]
        files = [plots.plot_retention(sizes, kept, out / "retention.png",
                                      class_names=data["class_names"]),
                 plots.plot_per_class_accuracy(sizes, acc, out / "per_class_accuracy.png",
                                               class_names=data["class_names"])]
        return [str(Path(f).name) for f in files]

    return _try_plots(console, draw)


def _sweep_plots(out, results, console):
    def draw():
        from . import plots

        refs = {"teacher (full data)": (results["teacher"]["after"]["oa"],
                                        results["teacher"]["after"]["macc"])}
        if results.get("reference"):
            refs["random subset"] = (results["reference"]["oa"], results["reference"]["macc"])
        points = [(f"k={p['k']:g}", p["oa"], p["macc"]) for p in results["points"]]
        files = [plots.plot_tradeoff(points, out / "tradeoff.png", references=refs,
                                     connect=True,
                                     title=f"{results['config']['selector']}: OA vs mAcc "
                                           "as k varies")]
        data = results["data"]
        kept = {f"k={p['k']:g}": p["kept"] for p in results["points"]}
        if results.get("reference"):
            kept["random"] = results["reference"]["selection"]["kept"]
        files.append(plots.plot_retention(np.asarray(data["class_sizes"]), kept,
                                          out / "retention.png",
                                          class_names=data["class_names"]))
        return [str(Path(f).name) for f in files]

    return _try_plots(console, draw)


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _md_pct(value):
    return "" if value is None else f"{100 * value:.1f}"


def _md_common(results):
    cfg = results["config"]
    data = results["data"]
    lines = []
    if results.get("command"):
        lines += ["```", results["command"], "```", ""]
    lines += [
        f"Data: **{cfg['dataset']}**, {data['n_train']} training shapes "
        f"({data['n_validation']} more held out for validation), {data['n_test']} test "
        f"shapes, {len(data['class_names'])} classes, {cfg['n_points']} points per shape.",
        f"Networks: {cfg['model']} x{cfg['width']:g} (embedding {cfg['embed_dim']}); teacher "
        f"{cfg['teacher_epochs']} epochs, student {cfg['epochs']} epochs, seed {cfg['seed']}, "
        f"device {results['device']}.",
        "",
    ]
    return lines


def _run_markdown(results):
    data, sel = results["data"], results["selection"]
    teacher, student, ref = results["teacher"], results["student"], results.get("reference")
    label = sel["selector"] + (f" (k = {sel['k']:g})" if sel["k"] is not None else "")
    lines = [f"# coreset3d run: {label}, budget {sel['n_selected']} of {data['n_train']}", ""]
    lines += _md_common(results)
    rows = [["teacher, before calibration", _md_pct(teacher["before"]["oa"]),
             _md_pct(teacher["before"]["macc"]), data["n_train"]],
            ["teacher, calibrated (CSL)", _md_pct(teacher["after"]["oa"]),
             _md_pct(teacher["after"]["macc"]), data["n_train"]],
            [f"student on {label}", _md_pct(student["oa"]), _md_pct(student["macc"]),
             sel["n_selected"]]]
    if ref:
        rows.append(["student on a random subset", _md_pct(ref["oa"]), _md_pct(ref["macc"]),
                     ref["selection"]["n_selected"]])
    lines += ["## Test accuracy (%)", "",
              _md_table(["model", "OA", "mAcc", "training shapes"], rows), ""]
    header = ["class", "train size", f"kept ({sel['selector']})"]
    if ref:
        header.append("kept (random)")
    header += ["acc. teacher", "acc. student"] + (["acc. random"] if ref else [])
    order = np.argsort(-np.asarray(data["class_sizes"]), kind="stable")
    per_class = []
    for c in order.tolist():
        row = [data["class_names"][c], data["class_sizes"][c], sel["kept"][c]]
        if ref:
            row.append(ref["selection"]["kept"][c])
        row += [_md_pct(teacher["after"]["per_class"][c]), _md_pct(student["per_class"][c])]
        if ref:
            row.append(_md_pct(ref["per_class"][c]))
        per_class.append(row)
    lines += ["## Per class (largest first)", "", _md_table(header, per_class), ""]
    for name in results.get("plots", []):
        lines += [f"![{name}]({name})", ""]
    timing_rows = [[stage, f"{seconds:.1f}", _hit_text(results["cache_hits"], stage)]
                   for stage, seconds in results["timings"].items()]
    lines += ["## Timings", "", _md_table(["stage", "seconds", "cache"], timing_rows), ""]
    lines += [f"Versions: {', '.join(f'{k} {v}' for k, v in results['versions'].items())}.", ""]
    return "\n".join(lines)


def _hit_text(hits, stage):
    keys = {"teacher": ("teacher", "calibrated", "outputs"), "select": ("selection",),
            "student": ("student",), "reference": ("reference_selection", "reference")}
    names = keys.get(stage, ())
    if not names or any(n not in hits for n in names):
        return ""
    return ", ".join(f"{n}: {'hit' if hits[n] else 'computed'}" for n in names)


def _sweep_markdown(results):
    cfg, data = results["config"], results["data"]
    lines = [f"# coreset3d sweep: {cfg['selector']}, k from "
             f"{min(p['k'] for p in results['points']):g} to "
             f"{max(p['k'] for p in results['points']):g}", ""]
    lines += _md_common(results)
    rows = [["teacher (full data, calibrated)", _md_pct(results["teacher"]["after"]["oa"]),
             _md_pct(results["teacher"]["after"]["macc"]), data["n_train"]]]
    if results.get("reference"):
        r = results["reference"]
        rows.append(["random subset", _md_pct(r["oa"]), _md_pct(r["macc"]),
                     r["selection"]["n_selected"]])
    for p in results["points"]:
        rows.append([f"{cfg['selector']} k = {p['k']:g}", _md_pct(p["oa"]), _md_pct(p["macc"]),
                     p["n_selected"]])
    lines += ["## Test accuracy (%)", "", _md_table(["model", "OA", "mAcc", "shapes"], rows), ""]
    for name in results.get("plots", []):
        lines += [f"![{name}]({name})", ""]
    return "\n".join(lines)


def compare_runs(dirs, out=None, *, console=None):
    """One table and one OA/mAcc plot over several run or sweep folders.

    Parameters
    ----------
    dirs : sequence of path
        Folders written by :func:`run` (``results.json``) or :func:`sweep`
        (``sweep.json``).
    out : path, default=None
        Where ``comparison.md`` and ``comparison.png`` go; None writes nothing.
    console : Console, default=None

    Returns
    -------
    rows : list of dict
        One per student (a run gives its selector and random reference, a
        sweep one row per ``k``): folder, label, dataset, budget, OA, mAcc.
    """
    console = console or Console()
    rows = []
    for d in dirs:
        d = Path(d)
        if (d / "results.json").is_file():
            res = _read_results(d / "results.json")
            sel = res["selection"]
            label = sel["selector"] + (f" k={sel['k']:g}" if sel.get("k") is not None else "")
            rows.append(_row(d, label, res, res["student"], sel["n_selected"]))
            if res.get("reference"):
                rows.append(_row(d, "random", res, res["reference"],
                                 res["reference"]["selection"]["n_selected"]))
        elif (d / "sweep.json").is_file():
            res = _read_results(d / "sweep.json")
            for p in res["points"]:
                rows.append(_row(d, f"{res['config']['selector']} k={p['k']:g}", res, p,
                                 p["n_selected"]))
            if res.get("reference"):
                rows.append(_row(d, "random", res, res["reference"],
                                 res["reference"]["selection"]["n_selected"]))
        else:
            raise FileNotFoundError(
                f"{str(d)!r} holds no results.json or sweep.json; pass folders written by "
                "`coreset3d run` or `coreset3d sweep` (their --out)."
            )
        teacher = res["teacher"]["after"]
        rows.append(_row(d, "teacher (full data)", res, teacher, res["data"]["n_train"]))
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        table = _md_table(["run", "model", "dataset", "shapes", "OA", "mAcc"],
                          [[r["run"], r["label"], r["dataset"], r["n_selected"],
                            _md_pct(r["oa"]), _md_pct(r["macc"])] for r in rows])
        files = _try_plots(console, _comparison_plot, rows, out)
        text = ["# coreset3d comparison", "", table, ""]
        text += [f"![{f}]({f})" for f in files]
        (out / "comparison.md").write_text("\n".join(text) + "\n", encoding="utf-8")
    return rows


def _comparison_plot(rows, out):
    from . import plots

    points = [(f"{r['run']}: {r['label']}", r["oa"], r["macc"]) for r in rows
              if not r["label"].startswith("teacher")]
    refs = {}
    for r in rows:
        if r["label"].startswith("teacher"):
            refs.setdefault(f"teacher ({r['run']})", (r["oa"], r["macc"]))
    path = plots.plot_tradeoff(points, out / "comparison.png", references=refs, connect=False,
                               title="OA vs mAcc of the students")
    return [Path(path).name]


def _read_results(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"could not read {path}: {exc}") from exc


def _row(d, label, res, acc, n):
    return {"run": d.name or str(d), "path": str(d), "label": label,
            "dataset": res["config"]["dataset"], "n_selected": int(n),
            "oa": acc["oa"], "macc": acc["macc"]}


# --------------------------------------------------------------------------- #
# Selection on the user's own embeddings
# --------------------------------------------------------------------------- #


_X_KEYS = ("X", "embeddings", "x", "features", "data")
_Y_KEYS = ("y", "labels", "label", "targets")


class _InputError(ValueError):
    """A problem with the user's file found by our own checks (passed through as is)."""


def _pick_key(available, wanted, defaults, what, path):
    if wanted is not None:
        if wanted not in available:
            raise _InputError(
                f"{path} has no {what} named {wanted!r}; it holds {sorted(available)}."
            )
        return wanted
    for key in defaults:
        if key in available:
            return key
    return None


def _existing_file(path, what):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist.")
    return path


def _read_labels_file(path):
    path = _existing_file(path, "labels")
    try:
        if path.suffix == ".npy":
            y = np.load(path, allow_pickle=False)
        else:
            y = np.loadtxt(path, dtype=str, delimiter=",", ndmin=1)
            y = _maybe_numeric(y)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"could not read labels from {path} ({exc}); pass a .npy array or a "
                         "text file with one label per line.") from exc
    return np.asarray(y).reshape(-1) if np.asarray(y).ndim == 2 and 1 in np.shape(y) else y


def _maybe_numeric(values):
    values = np.asarray(values)
    try:
        as_int = values.astype(np.int64)
        if np.all(as_int.astype(str) == np.char.strip(values)):
            return as_int
    except ValueError:
        pass
    return np.char.strip(values)


def _read_csv(path, label_column):
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        frame = pd.read_csv(path)
        header = not all(_looks_numeric(c) for c in frame.columns)
        if not header:
            frame = pd.read_csv(path, header=None)
        columns = [str(c) for c in frame.columns]
        frame.columns = columns
        col = _label_col(columns, label_column, path)
        y = frame[col].to_numpy()
        X = frame.drop(columns=[col])
        bad = [c for c in X.columns if not np.issubdtype(X[c].dtype, np.number)]
        if bad:
            raise _InputError(f"{path}: columns {bad[:5]} are not numeric; every column but the "
                             "label must hold numbers.")
        return X.to_numpy(), y
    rows = np.loadtxt(path, dtype=str, delimiter=",", ndmin=2)
    header = not all(_looks_numeric(c) for c in rows[0])
    columns = [str(c) for c in rows[0]] if header else [str(i) for i in range(rows.shape[1])]
    body = rows[1:] if header else rows
    col = columns.index(_label_col(columns, label_column, path))
    X = np.delete(body, col, axis=1).astype(np.float64)
    return X, _maybe_numeric(body[:, col])


def _looks_numeric(text):
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _label_col(columns, label_column, path):
    if label_column is None:
        return columns[-1]
    name = str(label_column)
    if name in columns:
        return name
    if name.lstrip("-").isdigit() and -len(columns) <= int(name) < len(columns):
        return columns[int(name)]
    raise _InputError(f"--label-column {label_column!r} is not a column of {path}; its columns "
                     f"are {columns[:10]}{'...' if len(columns) > 10 else ''}.")


def _h5_to_array(dataset, dtype):
    """Copy an h5py dataset into memory in row chunks, converting as it goes."""
    out = np.empty(dataset.shape, dtype=dtype)
    step = max(1, (64 << 20) // max(1, int(np.prod(dataset.shape[1:])) * 8))
    for start in range(0, dataset.shape[0], step):
        out[start:start + step] = dataset[start:start + step]
    return out


def load_embeddings(path, *, labels=None, label_column=None, x_key=None, y_key=None):
    """Read embeddings (and labels) from ``.npy``, ``.npz``, ``.csv`` or ``.h5``.

    Parameters
    ----------
    path : str or path
        ``.npy``: an (n, d) array (memory-mapped while read). ``.npz``: keys
        ``X`` or ``embeddings``, and ``y`` or ``labels``. ``.csv``: one row
        per sample; the last column (or ``label_column``) holds the labels;
        a header row is detected. ``.h5``/``.hdf5``: datasets ``x_key`` and
        ``y_key`` (default: ``X``/``embeddings``, ``y``/``labels``), read
        in chunks without loading anything else in the file.
    labels : str or path, default=None
        A separate labels file (``.npy``, or text with one label per line);
        overrides labels found in ``path``.
    label_column : str or int, default=None
        CSV only: the label column, by name or position.
    x_key, y_key : str, default=None
        NPZ and HDF5: the names of the embeddings and labels.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float32 stays float32, float64 stays float64, other numbers become
        float64.
    y : ndarray of shape (n_samples,) or None

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        An unknown format, an unreadable or corrupt file, a missing key, a
        non-2-D or non-finite array, or labels of another length.
    """
    path = _existing_file(path, "embeddings")
    suffix = path.suffix.lower()
    y = None
    try:
        if suffix == ".npy":
            X = np.load(path, mmap_mode="r", allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                xk = _pick_key(data.files, x_key, _X_KEYS, "embeddings array", path)
                if xk is None:
                    raise _InputError(f"{path} has no embeddings array; it holds {data.files}. "
                                     "Name it X or embeddings, or pass --x-key.")
                X = data[xk]
                yk = _pick_key(data.files, y_key, _Y_KEYS, "labels array", path)
                y = None if yk is None else data[yk]
        elif suffix == ".csv":
            X, y = _read_csv(path, label_column)
        elif suffix in (".h5", ".hdf5"):
            try:
                import h5py
            except ImportError as exc:
                raise ImportError("reading .h5 embeddings needs h5py: pip install h5py") from exc
            with h5py.File(path, "r") as fh:
                names = [k for k in fh if isinstance(fh[k], h5py.Dataset)]
                xk = _pick_key(names, x_key, _X_KEYS, "dataset", path)
                if xk is None:
                    raise _InputError(f"{path} has no embeddings dataset; it holds {names}. "
                                     "Pass --x-key NAME.")
                ds = fh[xk]
                dtype = ds.dtype if ds.dtype in (np.float32, np.float64) else np.float64
                X = _h5_to_array(ds, dtype)
                yk = _pick_key(names, y_key, _Y_KEYS, "dataset", path)
                if yk is not None:
                    y = fh[yk][()]
                    if y.dtype.kind in "SO":
                        y = np.char.decode(y.astype(bytes), "utf-8")
        else:
            raise _InputError(
                f"{path} has an unknown extension {suffix!r}; pass a .npy, .npz, .csv or .h5 file."
            )
    except (_InputError, ImportError):
        raise
    except Exception as exc:  # noqa: BLE001 - zip, pickle, h5 and OS errors of corrupt files
        raise _InputError(
            f"could not read embeddings from {path} ({type(exc).__name__}: {exc}); the file is "
            f"corrupt or not a {suffix} file."
        ) from exc
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        if not np.issubdtype(X.dtype, np.number):
            raise _InputError(f"embeddings in {path} have dtype {X.dtype}; expected numbers.")
        X = X.astype(np.float64)
    else:
        X = np.ascontiguousarray(X)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise _InputError(f"embeddings in {path} must be a 2-D array (n_samples, n_features); "
                         f"got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise _InputError(f"embeddings in {path} contain NaN or infinite values; drop or fix "
                         "those rows.")
    if labels is not None:
        y = _read_labels_file(labels)
    if y is not None:
        y = np.asarray(y).reshape(-1) if np.asarray(y).ndim > 1 else np.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise _InputError(f"there are {y.shape[0]} labels for {X.shape[0]} rows of "
                             "embeddings; pass one label per row.")
    return X, y


def _read_vector(path, what, n=None):
    path = _existing_file(path, what)
    try:
        if path.suffix == ".npy":
            v = np.load(path, allow_pickle=False)
        elif path.suffix == ".json":
            v = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(v, dict):
                return v
        else:
            v = np.loadtxt(path, delimiter=",", ndmin=1)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"could not read {what} from {path} ({exc}).") from exc
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if n is not None and v.shape[0] != n:
        raise ValueError(f"{what} in {path} has {v.shape[0]} values; expected {n}.")
    return v


def select_embeddings(X, y=None, *, selector="sgs", budget=0.1, k=0.4, seed=0, scores=None,
                      recall=None, max_memory=None, progress=False):
    """Run a selector by name on embeddings and summarise it per class.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), default=None
        Class labels (ints or strings); required by class-aware selectors
        (SGS, stratified, DRoP, ...).
    selector : str, default="sgs"
        A key of :data:`SELECTORS`.
    budget : int or float, default=0.1
    k : float, default=0.4
        SGS floor share.
    seed : int, default=0
    scores : array-like of shape (n_samples,), default=None
        Per-sample scores, for the score-based selectors.
    recall : dict or array-like of shape (n_classes,), default=None
        Per-class validation recall, for DRoP.
    max_memory : int or str, default=None
        Cap on the kernel memory of facility location (``"4GiB"``, bytes);
        None keeps :class:`FacilityLocationRBF`'s default (30 % of RAM).
        Ignored by selectors without a kernel.
    progress : bool, default=False
        Show the elapsed time on stderr while the selector runs (needs tqdm).

    Returns
    -------
    result : dict
        ``indices`` (selection order), ``weights``, ``selector`` (fitted),
        and with labels ``classes``, ``sizes``, ``kept``, ``share``
        (kept / size) and ``class_weight`` (the weight of each kept sample
        of the class; NaN where none is kept).

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(60, 4)
    >>> y = np.array(["a"] * 50 + ["b"] * 10)
    >>> res = select_embeddings(X, y, budget=10, k=0.4)
    >>> res["classes"].tolist(), res["kept"].tolist(), len(res["indices"])
    (['a', 'b'], [7, 3], 10)
    """
    sel, spec = make_selector(selector, budget, k, seed)
    if max_memory is not None:
        sel.set_params(**{name: max_memory for name in sel.get_params(deep=True)
                          if name.split("__")[-1] == "max_memory"})
    fit_params = {}
    if spec.score is not None:
        if scores is None:
            raise ValueError(f"--selector {selector} ranks samples by a score ({spec.score}); "
                             "pass --scores FILE with one score per row.")
        fit_params["scores"] = scores
    if spec.recall:
        if recall is None:
            raise ValueError("--selector drop needs the per-class validation recall; pass "
                             "--recall FILE (.npy/.csv aligned with the sorted classes, or a "
                             "JSON object class -> recall).")
        fit_params["recall"] = recall
    if sel._requires_labels and y is None:
        raise ValueError(f"--selector {selector} needs class labels; pass --labels FILE, or "
                         "embeddings with a labels column/key.")
    if _is_int(budget) and budget > X.shape[0]:
        raise ValueError(f"--budget {budget} is more than the {X.shape[0]} rows of the "
                         f"embeddings; pass --budget <= {X.shape[0]} or a fraction in (0, 1].")
    with warnings.catch_warnings(), _elapsed_bar(f"select {selector}", progress):
        warnings.simplefilter("ignore", EmptyClassWarning)
        sel.fit(X, y, **fit_params)
    result = {"indices": sel.sample_indices_, "weights": sel.weights_, "selector": sel,
              "name": selector}
    if y is not None:
        classes, y_enc = np.unique(np.asarray(y), return_inverse=True)
        sizes = np.bincount(y_enc, minlength=classes.shape[0])
        chosen = y_enc[sel.sample_indices_]
        kept = np.bincount(chosen, minlength=classes.shape[0])
        class_weight = np.full(classes.shape[0], np.nan)
        class_weight[chosen] = sel.weights_
        result.update({"classes": classes, "sizes": sizes, "kept": kept,
                       "share": kept / sizes, "class_weight": class_weight,
                       "labels": np.asarray(y)[sel.sample_indices_]})
    return result


def selection_table(result):
    """The per-class table of a :func:`select_embeddings` result, as text."""
    if "classes" not in result:
        return f"{len(result['indices'])} rows selected (no labels: no per-class table)"
    names = [str(c) for c in result["classes"]]
    width = max(5, *(len(n) for n in names))
    lines = [f"{'class':{width}}  {'size':>7}  {'kept':>6}  {'share':>6}  {'weight':>7}"]
    for i, name in enumerate(names):
        w = result["class_weight"][i]
        lines.append(f"{name:{width}}  {result['sizes'][i]:>7}  {result['kept'][i]:>6}  "
                     f"{100 * result['share'][i]:>5.1f}%  "
                     f"{'-' if not np.isfinite(w) else f'{w:.3f}':>7}")
    total = int(result["sizes"].sum())
    lines.append(f"{'total':{width}}  {total:>7}  {len(result['indices']):>6}  "
                 f"{100 * len(result['indices']) / total:>5.1f}%")
    return "\n".join(lines)


def write_selection(result, out):
    """Write a selection: ``selection.npz``, ``selection.csv`` and ``class_counts.csv``.

    ``selection.npz`` holds ``indices`` (selection order), ``weights`` and,
    with labels, ``classes``, ``sizes``, ``kept``; ``selection.csv`` one row
    per selected sample (rank, index, label, weight); ``class_counts.csv``
    the per-class table (class, size, kept, share, weight).

    Returns
    -------
    paths : list of pathlib.Path
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"indices": result["indices"], "weights": result["weights"]}
    if "classes" in result:
        classes = result["classes"]
        arrays.update({"classes": classes.astype(str) if classes.dtype.kind == "O" else classes,
                       "sizes": result["sizes"], "kept": result["kept"]})
    np.savez(out / "selection.npz", **arrays)
    paths = [out / "selection.npz", out / "selection.csv"]
    with open(out / "selection.csv", "w", encoding="utf-8") as fh:
        fh.write("rank,index,label,weight\n")
        labels = result.get("labels")
        for r, (i, w) in enumerate(zip(result["indices"], result["weights"], strict=True)):
            lab = "" if labels is None else _csv_cell(labels[r])
            fh.write(f"{r},{int(i)},{lab},{float(w):.6g}\n")
    if "classes" in result:
        with open(out / "class_counts.csv", "w", encoding="utf-8") as fh:
            fh.write("class,size,kept,share,weight\n")
            for i, c in enumerate(result["classes"]):
                w = result["class_weight"][i]
                fh.write(f"{_csv_cell(c)},{int(result['sizes'][i])},{int(result['kept'][i])},"
                         f"{result['share'][i]:.6g},{'' if not np.isfinite(w) else f'{w:.6g}'}\n")
        paths.append(out / "class_counts.csv")
    return paths


def _csv_cell(value):
    text = str(value)
    return f'"{text}"' if any(ch in text for ch in ',"\n') else text
