"""The settings of a run (:class:`RunConfig`), their checks and config-file keys."""

import math
import os
from dataclasses import asdict, dataclass, field, fields
from numbers import Integral, Real
from pathlib import Path

from ._select import SELECTORS, TARGET_PRIORS, check_selector_name

DATASETS = ("synthetic", "modelnet40", "scanobjectnn", "shapenet55", "meshes")
MODELS = ("pointnet", "dgcnn")
#: The k values of :func:`sweep` (the paper's Figure 7).
DEFAULT_KS = (0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Defaults that depend on the dataset: (synthetic, real data).
_TEACHER_EPOCHS = (40, 80)
_STUDENT_EPOCHS = (300, 200)
_SYNTHETIC_IMBALANCE = 10.0


def meta(help_text, *, choices=None, metavar=None, cli=True):
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

    dataset: str = field(default="synthetic", metadata=meta(
        "which data: the built-in synthetic long-tailed set of procedural shapes, or a real "
        "benchmark read from --data-dir", choices=DATASETS))
    data_dir: str | None = field(default=None, metadata=meta(
        "folder of the real dataset (ModelNet40 PointNet HDF5 folder, ScanObjectNN h5_files, "
        "ShapeNet-55 root, or a mesh folder <class>/<split>/*.off); not used by synthetic",
        metavar="DIR"))
    budget: int | float = field(default=0.1, metadata=meta(
        "subset size: an int count of training shapes (e.g. 80) or a fraction in (0, 1] "
        "(written with a dot, e.g. 0.1)", metavar="B"))
    selector: str = field(default="sgs", metadata=meta(
        "selection method (see the list below)", choices=tuple(SELECTORS)))
    k: float = field(default=0.4, metadata=meta(
        "SGS steering knob in [0, 1]: the share of the budget spent on an equal per-class "
        "floor (0 = global selection, leans to OA; 1 = equal classes, leans to mAcc)"))
    target_prior: str = field(default="empirical", metadata=meta(
        "class prior the student's per-sample weights aim at: empirical (the training split's "
        "own; the OA prior) or uniform (every class equal; the mAcc prior); the subset itself "
        "does not depend on it", choices=TARGET_PRIORS))
    model: str = field(default="pointnet", metadata=meta(
        "network of the teacher and the student", choices=MODELS))
    width: float = field(default=0.5, metadata=meta(
        "channel multiplier of the network (1.0 = the published size)"))
    embed_dim: int = field(default=128, metadata=meta(
        "size of the embedding the selectors see", metavar="D"))
    n_points: int = field(default=256, metadata=meta(
        "points per shape the networks see (a fresh random subset of the stored points at "
        "every training step when the data holds more)", metavar="N"))
    epochs: int | None = field(default=None, metadata=meta(
        "student training epochs on the subset (default: 300 on synthetic, 200 otherwise)",
        metavar="E"))
    teacher_epochs: int | None = field(default=None, metadata=meta(
        "teacher training epochs on the full training split (default: 40 on synthetic, "
        "80 otherwise)", metavar="E"))
    batch_size: int = field(default=32, metadata=meta("mini-batch size of every training",
                                                         metavar="N"))
    lr: float = field(default=2e-3, metadata=meta("peak AdamW learning rate of teacher and "
                                                    "student"))
    mixed_precision: bool = field(default=True, metadata=meta(
        "bfloat16 autocast on CPU, float16 on CUDA, while training"))
    val_fraction: float = field(default=0.1, metadata=meta(
        "share of each class of the training split held out as a validation split (at least "
        "one shape per class with two or more); the teacher, the selection and the budget use "
        "the rest. DRoP reads the teacher's per-class recall on it; 0 keeps the whole "
        "training split (then DRoP is unavailable)"))
    n_classes: int = field(default=10, metadata=meta(
        "synthetic only: number of shape classes (2-13)"))
    n_per_class: int = field(default=200, metadata=meta(
        "synthetic only: shapes of the largest class in the training split (the test split "
        "is drawn apart, with the same long tail)", metavar="N"))
    imbalance_ratio: float | None = field(default=None, metadata=meta(
        "largest over smallest class size: the synthetic long tail (default 10), or for real "
        "data a long tail imposed on the training split with make_long_tailed (default: keep "
        "the data as it is)", metavar="R"))
    reference: bool = field(default=True, metadata=meta(
        "also train a student on a random subset of the same size (the reference)"))
    device: str = field(default="auto", metadata=meta(
        "torch device: auto (CUDA when available), cpu, cuda or cuda:N"))
    seed: int = field(default=0, metadata=meta(
        "seeds the validation split, the teacher, the selection and the student (the "
        "synthetic shapes themselves always use seed 0)"))
    threads: int | None = field(default=None, metadata=meta(
        "torch CPU threads (default: half the CPU cores, at least 1, or torch's own setting "
        "when OMP_NUM_THREADS is set; on a busy 2-core machine one thread trains several times "
        "faster than two)", metavar="T"))
    cache_dir: str | None = field(default=None, metadata=meta(
        "artifact cache (default: $CORESET3D_CACHE, else ~/.cache/coreset3d)", metavar="DIR"))
    out: str | None = field(default=None, metadata=meta(
        "output folder for results.json, report.md and the plots (default: "
        "coreset3d-runs/<dataset>-<selector>-b<budget>[-k<k>]-s<seed>)", metavar="DIR"))
    quiet: bool = field(default=False, metadata=meta(
        "no progress bars and no stage lines; only the final results"))
    json: bool = field(default=False, metadata=meta(
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
    if values["target_prior"] != "empirical":
        tag += f"-{values['target_prior']}"
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


def is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _validate_fields(v):
    """Type and range checks of a RunConfig's values; messages name the flag."""

    def fail(name, expected, exc=ValueError):
        raise exc(f"{_flag(name)} must be {expected}; got {v[name]!r}.")

    def check_choice(name, choices):
        if v[name] not in choices:
            if name == "selector":
                check_selector_name(v[name])
            fail(name, f"one of {', '.join(choices)}")

    check_choice("dataset", DATASETS)
    check_choice("selector", tuple(SELECTORS))
    check_choice("model", MODELS)
    check_choice("target_prior", TARGET_PRIORS)
    budget = v["budget"]
    if is_int(budget):
        if budget < 1:
            fail("budget", "an int count >= 1 or a fraction in (0, 1]")
    elif is_real(budget):
        if not 0 < budget <= 1:
            fail("budget", "a fraction in (0, 1] or an int count >= 1 (e.g. 80)")
    else:
        fail("budget", "an int count >= 1 or a fraction in (0, 1]", TypeError)
    for name in ("k", "val_fraction"):
        if not is_real(v[name]) or not 0 <= v[name] <= 1:
            fail(name, "a number in [0, 1]")
    if v["val_fraction"] >= 1:
        fail("val_fraction", "a number in [0, 1) (1 would leave no training shape)")
    for name in ("embed_dim", "n_points", "batch_size", "n_per_class"):
        if not is_int(v[name]) or v[name] < 1:
            fail(name, "an int >= 1")
    if not is_int(v["n_classes"]) or not 2 <= v["n_classes"] <= 13:
        fail("n_classes", "an int in [2, 13] (the synthetic shape families)")
    for name in ("epochs", "teacher_epochs", "threads"):
        if v[name] is not None and (not is_int(v[name]) or v[name] < 1):
            fail(name, "an int >= 1")
    for name in ("width", "lr"):
        if not is_real(v[name]) or v[name] <= 0:
            fail(name, "a number > 0")
    if v["imbalance_ratio"] is not None and (not is_real(v["imbalance_ratio"])
                                             or v["imbalance_ratio"] < 1):
        fail("imbalance_ratio", "a number >= 1")
    if not is_int(v["seed"]) or v["seed"] < 0:
        fail("seed", "an int >= 0")
    for name in ("mixed_precision", "reference", "quiet", "json"):
        if not isinstance(v[name], bool):
            fail(name, "true or false", TypeError)
    for name in ("data_dir", "cache_dir", "out", "device"):
        if v[name] is not None and not isinstance(v[name], (str, os.PathLike)):
            fail(name, "a string", TypeError)
        if v[name] is not None:
            v[name] = os.fspath(v[name])
