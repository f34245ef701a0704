"""SGS's steering curve: one student per ``k`` (the paper's Figure 7)."""

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from ._config import DEFAULT_KS, RunConfig, _default_out, is_real
from ._console import Console, _torch_threads, pct
from ._report import _finish, _sweep_markdown, _sweep_plots, _versions, _write_json
from ._run import _Run
from ._select import SELECTORS

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
        if not is_real(k) or not 0 <= k <= 1:
            raise ValueError(f"--ks must be numbers in [0, 1]; got {k!r}.")
        values.append(float(k))
    if not values:
        raise ValueError("--ks is empty; pass at least one k in [0, 1].")
    return list(dict.fromkeys(values))


def _sweep_table(results):
    lines = [f"{'':34}  {'OA':>6}  {'mAcc':>6}"]
    t = results["teacher"]["after"]
    lines.append(f"{'teacher (full data, calibrated)':34}  {pct(t['oa']):>6}  "
                 f"{pct(t['macc']):>6}")
    if results.get("reference"):
        r = results["reference"]
        lines.append(f"{'random subset (same size)':34}  {pct(r['oa']):>6}  "
                     f"{pct(r['macc']):>6}")
    name = results["config"]["selector"]
    for p in results["points"]:
        label = f"{name} k={p['k']:g}"
        lines.append(f"{label:34}  {pct(p['oa']):>6}  {pct(p['macc']):>6}")
    return "\n".join(lines)
