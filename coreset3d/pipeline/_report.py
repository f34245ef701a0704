"""The outputs of runs and sweeps: results.json, report.md, plots, and comparisons."""

import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ._console import Console, pct


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
        lines.append(f"{name:{width}}  {pct(oa):>6}  {pct(macc):>6}  {n:>6}")
    return "\n".join(lines)


def _try_plots(console, fn, *args):
    try:
        return fn(*args)
    except ImportError as exc:
        console.stage("report", f"no plots ({exc})")
        return []


def _run_plots(out, results, console):
    def draw():
        from .. import plots

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
        from .. import plots

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
    from .. import plots

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
