"""The ``coreset3d`` command line: ``run``, ``select``, ``sweep`` and ``report``.

A thin shell over :mod:`coreset3d.pipeline`. Every option can also come from a
config file (``--config FILE``, TOML, or YAML when PyYAML is installed) whose
keys are the option names (``data-dir`` or ``data_dir``); options given on the
command line override the file, which overrides the defaults. A file may hold
the keys at its top level or in a table named after the command (``[run]``,
``[sweep]``, ``[select]``), which wins over the top level.

Exit status: 0 on success, 2 for a usage or input error (a missing data folder,
an unknown selector, a budget larger than the training set, an unreadable
embeddings file: one line on stderr says what and how to fix it), 130 when
interrupted (rerun the same command to resume).
"""

import argparse
import os
import shlex
import sys
import textwrap
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from . import __version__
from . import pipeline as pl
from ._memory import keep_freed_memory
from .pipeline._config import is_int, is_real, meta
from .pipeline._console import json_list, pct
from .pipeline._embeddings_io import read_vector
from .pipeline._select import check_selector_name

__all__ = ["main", "build_parser", "SelectConfig"]

_PROG = "coreset3d"


# --------------------------------------------------------------------------- #
# Option parsing
# --------------------------------------------------------------------------- #


def parse_budget(text):
    """``"80"`` -> 80 (a count), ``"0.1"`` or ``"1.0"`` -> a fraction."""
    text = str(text).strip()
    try:
        if any(ch in text for ch in ".eE"):
            return float(text)
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int count (e.g. 80) or a fraction with a dot (e.g. 0.1), got {text!r}"
        ) from None


def parse_ks(text):
    """``"0,0.2,1"`` -> [0.0, 0.2, 1.0]."""
    try:
        return [float(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers in [0, 1] (e.g. 0,0.4,1), got {text!r}"
        ) from None


def _bool(text):
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _field_default(f):
    if f.default is not MISSING:
        return f.default
    return f.default_factory()  # pragma: no cover - no such field today


def _default_text(name, default):
    if name == "out":
        return ""
    if default is None:
        return ""
    if isinstance(default, bool):
        return f" (default: {'on' if default else 'off'})"
    return f" (default: {default})"


_TYPES = {"budget": parse_budget, "k": float, "width": float, "lr": float,
          "val_fraction": float, "imbalance_ratio": float, "embed_dim": int, "n_points": int,
          "epochs": int, "teacher_epochs": int, "batch_size": int, "n_classes": int,
          "n_per_class": int, "seed": int, "threads": int}


_METAVARS = {"width": "W", "lr": "LR", "val_fraction": "F", "n_classes": "C", "seed": "S",
             "threads": "T", "device": "DEV", "k": "K"}


def _add_config_options(parser, cls, skip=()):
    """One option per dataclass field, default SUPPRESS so that only given flags appear."""
    for f in fields(cls):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        meta = f.metadata
        default = _field_default(f)
        help_text = meta["help"] + _default_text(f.name, default)
        flag = "--" + f.name.replace("_", "-")
        kwargs = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if f.name in ("quiet", "json"):
            parser.add_argument(flag, action="store_const", const=True, **kwargs)
        elif isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
        else:
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
                kwargs["metavar"] = "{" + ",".join(meta["choices"]) + "}" \
                    if len(meta["choices"]) <= 6 else "NAME"
            else:
                kwargs["metavar"] = meta.get("metavar") or _METAVARS.get(f.name)
            kwargs["type"] = _TYPES.get(f.name, str)
            parser.add_argument(flag, **kwargs)


def _selector_epilog():
    width = max(len(name) for name in pl.SELECTORS)
    lines = ["selectors (--selector):"]
    for name, spec in pl.SELECTORS.items():
        needs = []
        if spec.score:
            needs.append(f"teacher {spec.score} scores")
        if spec.recall:
            needs.append("validation recall")
        if spec.uses_k:
            needs.append("--k")
        extra = f" [uses {', '.join(needs)}]" if needs else ""
        lines.extend(textwrap.wrap(f"{spec.summary}{extra}", 96,
                                   initial_indent=f"  {name:{width}}  ",
                                   subsequent_indent=" " * (width + 4)))
    return "\n".join(lines)


@dataclass
class SelectConfig:
    """Settings of ``coreset3d select``; each field is a command-line option."""

    embeddings: str | None = field(default=None, metadata=meta(
        "embeddings file: .npy (n, d), .npz (keys X/embeddings and y/labels), .csv (one row "
        "per sample, labels in the last column) or .h5 (datasets X/embeddings, y/labels)",
        cli=False))
    labels: str | None = field(default=None, metadata=meta(
        "labels file (.npy, or text with one label per line); overrides labels inside the "
        "embeddings file", metavar="FILE"))
    label_column: str | None = field(default=None, metadata=meta(
        "CSV only: label column, by name or position (default: the last column)",
        metavar="COL"))
    x_key: str | None = field(default=None, metadata=meta(
        ".npz/.h5 only: name of the embeddings array (default: X, then embeddings)",
        metavar="NAME"))
    y_key: str | None = field(default=None, metadata=meta(
        ".npz/.h5 only: name of the labels array (default: y, then labels)", metavar="NAME"))
    scores: str | None = field(default=None, metadata=meta(
        "per-sample scores (.npy or one number per line), for the score-based selectors "
        "(loss, el2n, ccs, nucs, ...)", metavar="FILE"))
    recall: str | None = field(default=None, metadata=meta(
        "per-class validation recall for drop (.npy/.csv aligned with the sorted classes, or "
        "a JSON object class -> recall)", metavar="FILE"))
    budget: int | float = field(default=0.1, metadata=meta(
        "subset size: an int count or a fraction in (0, 1] (with a dot)", metavar="B"))
    selector: str = field(default="sgs", metadata=meta(
        "selection method (see the list below)", choices=tuple(pl.SELECTORS)))
    k: float = field(default=0.4, metadata=meta("SGS floor share in [0, 1]"))
    target_prior: str = field(default="empirical", metadata=meta(
        "class prior of the written weights: empirical (the data's own; OA) or uniform (every "
        "class equal; mAcc)", choices=pl.TARGET_PRIORS))
    max_memory: str | None = field(default=None, metadata=meta(
        "cap on the kernel memory of facility location, e.g. 4GiB (default: 30%% of RAM); "
        "beyond it kernel rows are recomputed on demand", metavar="SIZE"))
    seed: int = field(default=0, metadata=meta("random_state of the selector"))
    out: str = field(default="coreset3d-selection", metadata=meta(
        "output folder for selection.npz, selection.csv and class_counts.csv (default: "
        "coreset3d-selection)", metavar="DIR"))
    quiet: bool = field(default=False, metadata=meta("no stage lines; only the table"))
    json: bool = field(default=False, metadata=meta(
        "print the result as JSON on stdout (stage lines go to stderr)"))


def _para(text):
    return textwrap.fill(text, 88)


def build_parser():
    """The argparse parser of ``coreset3d`` (every option documented with its default)."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Class-aware coreset selection for long-tailed 3D datasets (3D-Pruner).",
        epilog="Run `coreset3d COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    formatter = argparse.RawDescriptionHelpFormatter

    config_help = ("read options from a TOML file (or YAML with PyYAML installed); keys are "
                   "the option names, flags given here override it")
    p_run = sub.add_parser(
        "run", formatter_class=formatter, help="the whole 3D-Pruner pipeline on a dataset",
        description=_para("Train (or load) the teacher, calibrate it, embed and score the training "
                    "set, select a subset, train the student on it with KD + RKD, evaluate OA "
                    "and mAcc on the test split, and write results.json and report.md. With no "
                    "option: SGS (FL-RBF, k = 0.4) at 10% of the built-in synthetic "
                    "long-tailed set, next to a random subset of the same size."),
        epilog=_selector_epilog())
    p_run.add_argument("--config", metavar="FILE", help=config_help)
    _add_config_options(p_run, pl.RunConfig)

    p_sweep = sub.add_parser(
        "sweep", formatter_class=formatter, help="SGS's OA/mAcc steering curve over k",
        description=_para("For each k: select with SGS and train the student, reusing the cached "
                    "teacher; each finished k is written to sweep.json at once and a rerun "
                    "skips it. Draws OA against mAcc with the full-data teacher and a random "
                    "subset as references (the paper's Figure 7). Takes every option of `run`; "
                    "--k is replaced by --ks."),
        epilog=_selector_epilog())
    p_sweep.add_argument("--config", metavar="FILE", help=config_help)
    p_sweep.add_argument("--ks", type=parse_ks, default=argparse.SUPPRESS, metavar="K,K,...",
                         help="values of k, comma-separated (default: "
                              f"{','.join(f'{k:g}' for k in pl.DEFAULT_KS)})")
    _add_config_options(p_sweep, pl.RunConfig, skip=("k",))

    p_select = sub.add_parser(
        "select", formatter_class=formatter, help="selection alone, on your own embeddings",
        description=_para("Select a subset of your own embeddings (no network involved) and write "
                    "the indices, weights and per-class counts (selection.npz, selection.csv, "
                    "class_counts.csv); prints the per-class table (class, size, kept, share "
                    "= kept/size, weight of each kept sample)."),
        epilog=_selector_epilog())
    p_select.add_argument("embeddings", nargs="?", default=argparse.SUPPRESS,
                          help=SelectConfig.__dataclass_fields__["embeddings"].metadata["help"])
    p_select.add_argument("--config", metavar="FILE", help=config_help)
    _add_config_options(p_select, SelectConfig)

    p_report = sub.add_parser(
        "report", formatter_class=formatter, help="compare several runs in one table and plot",
        description=_para("Read the results.json / sweep.json of each folder and write one table "
                    "(comparison.md, also printed) and one OA-vs-mAcc plot (comparison.png)."))
    p_report.add_argument("dirs", nargs="+", metavar="DIR",
                          help="folders written by `coreset3d run` or `coreset3d sweep`")
    p_report.add_argument("--out", default="coreset3d-report", metavar="DIR",
                          help="where comparison.md and comparison.png go "
                               "(default: coreset3d-report)")
    p_report.add_argument("--quiet", action="store_true", help="print nothing but the table")
    p_report.add_argument("--json", action="store_true", help="print the rows as JSON")
    return parser


# --------------------------------------------------------------------------- #
# Config files
# --------------------------------------------------------------------------- #


def read_config_file(path, command):
    """The settings of a TOML/YAML file for ``command`` (top level + its table)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ImportError(
                f"--config {path} is YAML, which needs PyYAML (pip install pyyaml); or write "
                "the same keys in a .toml file."
            ) from None
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"--config {path} is not valid YAML: {exc}") from None
    elif suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise ImportError("TOML config files need Python >= 3.11 or "
                                  "`pip install tomli`.") from None
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--config {path} is not valid TOML: {exc}") from None
    else:
        raise ValueError(f"--config {path}: expected a .toml, .yaml or .yml file.")
    if not isinstance(data, dict):
        raise ValueError(f"--config {path} must hold a table of settings at its top level.")
    tables = {"run", "sweep", "select", "report"}
    merged = {k: v for k, v in data.items() if k not in tables}
    section = data.get(command, {})
    if not isinstance(section, dict):
        raise ValueError(f"--config {path}: [{command}] must be a table of settings.")
    merged.update(section)
    return merged


def _merge(args, command, cls, extra=()):
    """Defaults <- config file <- flags, as a dict of dataclass fields (+ extra keys)."""
    known = [f.name for f in fields(cls)] + list(extra)
    given = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    values = {}
    if getattr(args, "config", None):
        values.update(pl.normalize_keys(read_config_file(args.config, command), known,
                                        where=f"--config {args.config}"))
    values.update(given)
    if "budget" in values and isinstance(values["budget"], str):
        values["budget"] = parse_budget(values["budget"])
    if "ks" in values and isinstance(values["ks"], str):
        values["ks"] = parse_ks(values["ks"])
    return values


# --------------------------------------------------------------------------- #
# Commands
# --------------------------------------------------------------------------- #


def _cmd_run(args, command):
    values = _merge(args, "run", pl.RunConfig)
    config = pl.RunConfig(**values)
    keep_freed_memory()  # process-wide, so the command applies it and the library does not
    pl.run(config, command=command)
    return 0


def _cmd_sweep(args, command):
    values = _merge(args, "sweep", pl.RunConfig, extra=("ks",))
    ks = values.pop("ks", pl.DEFAULT_KS)
    config = pl.RunConfig(**values)
    keep_freed_memory()
    pl.sweep(config, ks, command=command)
    return 0


def _cmd_select(args, command):
    values = _merge(args, "select", SelectConfig)
    cfg = SelectConfig(**values)
    console = pl.Console(cfg.quiet, cfg.json)
    if cfg.embeddings is None:
        raise ValueError("select needs an embeddings file: coreset3d select EMBEDDINGS.npy "
                         "[--labels LABELS.npy] (or `embeddings = \"...\"` in --config).")
    check_selector_name(cfg.selector)
    budget = cfg.budget
    if not (is_int(budget) and budget >= 1) and not (is_real(budget)
                                                         and 0 < budget <= 1):
        raise ValueError(f"--budget must be an int count >= 1 or a fraction in (0, 1]; got "
                         f"{budget!r}.")
    started = time.perf_counter()
    X, y = pl.load_embeddings(cfg.embeddings, labels=cfg.labels, label_column=cfg.label_column,
                              x_key=cfg.x_key, y_key=cfg.y_key)
    console.stage("load", f"{cfg.embeddings}: {X.shape[0]} x {X.shape[1]} {X.dtype} embeddings"
                  + ("" if y is None else f", {len(set(y.tolist()))} classes"),
                  time.perf_counter() - started)
    scores = None if cfg.scores is None else read_vector(cfg.scores, "scores", X.shape[0])
    recall = None if cfg.recall is None else read_vector(cfg.recall, "recall")
    started = time.perf_counter()
    result = pl.select_embeddings(X, y, selector=cfg.selector, budget=budget, k=cfg.k,
                                  seed=cfg.seed, scores=scores, recall=recall,
                                  max_memory=cfg.max_memory, target_prior=cfg.target_prior,
                                  progress=console.progress)
    seconds = time.perf_counter() - started
    console.stage("select", f"{cfg.selector}: {len(result['indices'])} of {X.shape[0]} rows",
                  seconds)
    paths = pl.write_selection(result, cfg.out)
    console.stage("write", ", ".join(str(p) for p in paths))
    console.result(pl.selection_table(result))
    if cfg.json:
        doc = {"command": command, "config": asdict(cfg), "n_samples": int(X.shape[0]),
               "n_selected": len(result["indices"]), "seconds": seconds,
               "files": [str(p) for p in paths]}
        if "classes" in result:
            doc["classes"] = [
                {"class": _jsonable(c), "size": int(result["sizes"][i]),
                 "kept": int(result["kept"][i]), "share": float(result["share"][i]),
                 "weight": json_list([result["class_weight"][i]])[0]}
                for i, c in enumerate(result["classes"])]
        console.emit_json(doc)
    return 0


def _jsonable(value):
    return value.item() if hasattr(value, "item") else value


def _cmd_report(args, command):
    console = pl.Console(args.quiet, args.json)
    rows = pl.compare_runs(args.dirs, args.out, console=console)
    width = max(len(f"{r['run']}: {r['label']}") for r in rows)
    lines = [f"{'run: model':{width}}  {'shapes':>6}  {'OA':>6}  {'mAcc':>6}"]
    for r in rows:
        lines.append(f"{r['run'] + ': ' + r['label']:{width}}  {r['n_selected']:>6}  "
                     f"{pct(r['oa']):>6}  {pct(r['macc']):>6}")
    console.stage("report", f"{Path(args.out) / 'comparison.md'}, "
                  f"{Path(args.out) / 'comparison.png'}")
    console.result("\n".join(lines))
    console.emit_json({"command": command, "rows": rows, "out": args.out})
    return 0


_COMMANDS = {"run": _cmd_run, "sweep": _cmd_sweep, "select": _cmd_select,
             "report": _cmd_report}


def main(argv=None):
    """Entry point of the ``coreset3d`` console script and ``python -m coreset3d``.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 for a usage or input error, 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    command = " ".join([_PROG, *map(shlex.quote, argv)])
    try:
        return _COMMANDS[args.command](args, command)
    except KeyboardInterrupt:
        print(f"\n{_PROG} {args.command}: interrupted; run the same command again to resume "
              "(finished stages are cached).", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, ImportError) as exc:
        if os.environ.get("CORESET3D_DEBUG"):
            raise
        print(f"{_PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
