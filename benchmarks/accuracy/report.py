"""Tables, plots and the paper's claims from the ModelNet40 grid results.

    python benchmarks/accuracy/report.py                     # print the report
    python benchmarks/accuracy/report.py --markdown docs/benchmarks.md

``--markdown`` replaces the text between ``<!-- accuracy -->`` and
``<!-- /accuracy -->`` in that file (appending the markers when missing) and
writes the plots to ``docs/img/``. Cells still missing from the results are
reported as missing, never filled in.
"""

import argparse
import json
import math
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import protocol  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
START, END = "<!-- accuracy -->", "<!-- /accuracy -->"
LABELS = {"random": "Random", "stratified": "Stratified (balanced)", "loss": "Loss",
          "gradnorm": "GradNorm", "entropy": "Entropy", "el2n": "EL2N", "drop": "DRoP",
          "balanced-el2n": "Balance-EL2N", "nucs-el2n": "NUCS-EL2N",
          "ccs-cp-el2n": "CCS-CP-EL2N", "herding": "Herding", "kcenter": "K-Center",
          "fl-rbf": "FL-RBF"}
LABELS.update({f"sgs-k{k:g}": f"SGS k={k:g} (FL-RBF)" for k in protocol.STEERING_KS if k})
LABELS.update({f"sgs-opt-k{k:g}": f"SGS k={k:g}, optimal quota" for k in protocol.OPTIMAL_KS})
SCALAR = ("loss", "gradnorm", "entropy", "el2n")


load = protocol.load_rows


#: The first sitting's protocol: the teacher gave soft labels on the student's 256 points.
EARLIER = replace(protocol.STUDENT, teacher_points=None)


def prior_of(row):
    """The class prior a row's weights aimed at (rows from before the field: empirical)."""
    return row.get("prior", "empirical")


class Results:
    """Per-(method, budget, loss, prior) statistics over the seeds that finished."""

    def __init__(self, rows):
        self.cells = defaultdict(list)
        for r in rows:
            self.cells[(r["method"], r["budget"], r["loss"], prior_of(r))].append(r)

    def get(self, method, budget, loss="kd+rkd", prior="empirical"):
        return self.cells.get((method, budget, loss, prior), [])

    def stat(self, method, budget, metric, loss="kd+rkd", prior="empirical"):
        vals = [100 * r[metric] for r in self.get(method, budget, loss, prior)]
        if not vals:
            return None
        return float(np.mean(vals)), float(np.std(vals)), len(vals)

    def fmt(self, method, budget, metric, loss="kd+rkd", prior="empirical"):
        s = self.stat(method, budget, metric, loss, prior)
        if s is None:
            return "–"
        mean, std, n = s
        return f"{mean:.2f} ± {std:.2f}" + ("" if n >= 3 else f" (n={n})")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main_table(res, budgets, prior="empirical"):
    header = ["method"] + [f"{b}: {m}" for b in budgets for m in ("OA", "mAcc")]
    rows = [[LABELS[m]] + [res.fmt(m, b, met, prior=prior) for b in budgets
                           for met in ("oa", "macc")]
            for m in protocol.MAIN_METHODS]
    return _table(header, rows)


def loss_table(res, budgets, methods, losses):
    header = ["method", "training"] + [f"{b}: {m}" for b in budgets for m in ("OA", "mAcc")]
    names = {"hard": "hard labels", "kd": "+ calibrated soft labels (KD)",
             "kd+rkd": "+ embedding geometry (KD + RKD)"}
    rows = [[LABELS[m], names[loss]] + [res.fmt(m, b, met, loss) for b in budgets
                                        for met in ("oa", "macc")]
            for m in methods for loss in losses]
    return _table(header, rows)


def steering_points(res, prior="empirical"):
    pts = []
    for k in protocol.STEERING_KS:
        method = "fl-rbf" if k == 0 else f"sgs-k{k:g}"
        oa = res.stat(method, protocol.STEERING_BUDGET, "oa", prior=prior)
        macc = res.stat(method, protocol.STEERING_BUDGET, "macc", prior=prior)
        if oa and macc:
            pts.append((k, oa, macc))
    return pts


PRIOR_NAMES = {"empirical": "training prior", "uniform": "uniform prior"}


def steering_table(res):
    """k against OA and mAcc with the weights toward each prior that was measured."""
    by_prior = {prior: {p[0]: p for p in steering_points(res, prior)}
                for prior in protocol.PRIORS}
    priors = [prior for prior in protocol.PRIORS if by_prior[prior]]
    if not priors:
        return "not measured yet"
    header = ["k"] + [f"{PRIOR_NAMES[p]}: {m}" for p in priors for m in ("OA", "mAcc")]
    rows = []
    for k in protocol.STEERING_KS:
        cells = []
        for prior in priors:
            pt = by_prior[prior].get(k)
            cells += ([f"{pt[1][0]:.2f} ± {pt[1][1]:.2f}", f"{pt[2][0]:.2f} ± {pt[2][1]:.2f}"]
                      if pt else ["–", "–"])
        rows.append([f"{k:g}"] + cells)
    return _table(header, rows)


def _delta(a, b):
    """``a - b`` of two (mean, std, n) stats and the standard error of the difference
    (seeds independent; sample variances); the error is NaN with a single seed."""
    var = [st ** 2 / (n - 1) if n > 1 else math.nan for _, st, n in (a, b)]
    return a[0] - b[0], math.sqrt(sum(var))


def _diff(a, b):
    """``a - b`` as text: '+0.58 ± 0.25', or no '±' with a single seed."""
    d, se = _delta(a, b)
    return f"{d:+.2f}" + ("" if math.isnan(se) else f" ± {se:.2f}")


def _verdict(ok, margins):
    """'holds' or 'does not hold' on the means, flagged when it hangs on noise.

    ``margins`` are (difference minus the claim's threshold, its standard error),
    one per condition, positive where the condition is met. A claim that holds
    is flagged when any margin is smaller than its standard error; one that
    fails, when every failed margin is (other seeds could flip the verdict).
    """
    known = [(m, se) for m, se in margins if not math.isnan(se)]
    if ok:
        close = any(m < se for m, se in known)
    else:
        failed = [(m, se) for m, se in known if m < 0]
        close = bool(failed) and all(-m < se for m, se in failed)
    word = "holds" if ok else "does not hold"
    return f"**{word}**" + (" (on the means, by less than one standard error)" if close else "")


def _dominates(a, b):
    """Point ``a`` = (OA, mAcc) at least as good as ``b`` on both, better on one."""
    return a[0] >= b[0] and a[1] >= b[1] and a != b


def _pareto_claim(res, prior):
    """Whether the optimal-quota points dominate the fixed-k steering curve, on the means."""
    budget = protocol.STEERING_BUDGET
    curve = {f"k = {p[0]:g}": (p[1][0], p[2][0]) for p in steering_points(res, prior)}
    optimal = {}
    for k in protocol.OPTIMAL_KS:
        oa, macc = (res.stat(f"sgs-opt-k{k:g}", budget, met, prior=prior) for met in ("oa", "macc"))
        if oa and macc:
            optimal[f"optimal k = {k:g}"] = (oa[0], macc[0])
    if len(curve) < len(protocol.STEERING_KS) or not optimal:
        return None
    covered = [name for name, pt in curve.items()
               if any(_dominates(o, pt) for o in optimal.values())]
    beaten = [name for name, o in optimal.items()
              if any(_dominates(pt, o) for pt in curve.values())]
    ok = len(covered) == len(curve)
    return (f"- Optimal seed quota vs the fixed-k curve at {budget}, weights toward the "
            f"{PRIOR_NAMES[prior]} (beyond the paper; claim: every fixed-k point is dominated "
            f"by an optimal-quota point on OA and mAcc): {len(covered)} of {len(curve)} "
            f"dominated ({', '.join(covered) or 'none'}); optimal-quota points dominated by a "
            f"fixed k: {', '.join(beaten) or 'none'}: **{'holds' if ok else 'does not hold'}**.")


def claims(res, audit, budgets):
    """The paper's claims checked on the measured means; 'not measured' where cells lack."""
    out = []
    b0 = min(budgets)
    for prior in protocol.PRIORS:
        fl_oa, fl = (res.stat("fl-rbf", b0, met, prior=prior) for met in ("oa", "macc"))
        sgs_oa, sgs = (res.stat("sgs-k0.4", b0, met, prior=prior) for met in ("oa", "macc"))
        if not (fl and sgs and fl_oa and sgs_oa):
            if prior == "empirical":
                out.append(f"- SGS vs FL-RBF at {b0} shapes: not measured yet.")
            continue
        (dm, se_m), (do, se_o) = _delta(sgs, fl), _delta(sgs_oa, fl_oa)
        ok = dm >= 1.5 and do >= -0.5
        verdict = _verdict(ok, [(dm - 1.5, se_m), (do + 0.5, se_o)]) + "."
        if prior == "empirical":
            out.append(f"- SGS (k = 0.4) vs FL-RBF at {b0} shapes: mAcc {_diff(sgs, fl)}, OA "
                       f"{_diff(sgs_oa, fl_oa)} points (claim: mAcc >= +1.5 with OA within "
                       f"0.5): {verdict}")
        else:
            out.append(f"  With both students' weights toward the {prior} prior: mAcc "
                       f"{_diff(sgs, fl)}, OA {_diff(sgs_oa, fl_oa)}: {verdict}")
    for prior in protocol.PRIORS:
        name = f"the {PRIOR_NAMES[prior]}"
        pts = steering_points(res, prior)
        if len(pts) == len(protocol.STEERING_KS):
            best_oa = max(pts, key=lambda p: p[1][0])
            best_m = max(pts, key=lambda p: p[2][0])
            first, last = pts[0], pts[-1]
            (dm, se_m), (do, se_o) = _delta(last[2], first[2]), _delta(last[1], first[1])
            ok = dm > 0 and do <= 0
            out.append(f"- Steering at {protocol.STEERING_BUDGET}, weights toward {name}: k = 1 "
                       f"vs k = 0 mAcc {_diff(last[2], first[2])}, OA {_diff(last[1], first[1])};"
                       f" best OA at k = {best_oa[0]:g}, best mAcc at k = {best_m[0]:g} (claim: "
                       f"k trades OA for mAcc): {_verdict(ok, [(dm, se_m), (do, se_o)])}.")
    for prior in protocol.PRIORS:
        line = _pareto_claim(res, prior)
        if line:
            out.append(line)
    for b, prior in [(b, p) for p in protocol.PRIORS for b in budgets]:
        f_oa, f_m = res.stat("fl-rbf", b, "oa", prior=prior), res.stat("fl-rbf", b, "macc",
                                                                        prior=prior)
        others = [(m, res.stat(m, b, "oa", prior=prior), res.stat(m, b, "macc", prior=prior))
                  for m in SCALAR]
        others = [o for o in others if o[1] and o[2]]
        where = f"at {b}" + ("" if prior == "empirical" else f", weights toward the {prior} prior")
        if not (f_oa and f_m and others):
            if prior == "empirical":
                out.append(f"- FL-RBF vs scalar scores {where}: not measured yet.")
            continue
        beaten = [m for m, oa, ma in others if f_oa[0] > oa[0] and f_m[0] > ma[0]]
        best_oa = max(others, key=lambda o: o[1][0])
        best_m = max(others, key=lambda o: o[2][0])
        out.append(f"- FL-RBF vs scalar scores {where}: FL-RBF {f_oa[0]:.2f}/{f_m[0]:.2f} "
                   f"(OA/mAcc), best scalar OA {best_oa[1][0]:.2f} ({LABELS[best_oa[0]]}), "
                   f"best scalar mAcc {best_m[2][0]:.2f} ({LABELS[best_m[0]]}); beats "
                   f"{len(beaten)} of {len(others)} on both: "
                   f"**{'holds' if len(beaten) == len(others) else 'does not hold'}**.")
    for m in ("fl-rbf", "sgs-k0.4"):
        for b in budgets:
            h = (res.stat(m, b, "oa", "hard"), res.stat(m, b, "macc", "hard"))
            k = (res.stat(m, b, "oa"), res.stat(m, b, "macc"))
            if not all(h) or not all(k):
                continue
            margins = [_delta(k[0], h[0]), _delta(k[1], h[1])]
            ok = all(d > 0 for d, _ in margins)
            out.append(f"- KD + RKD vs hard labels, {LABELS[m]} at {b}: "
                       f"OA {_diff(k[0], h[0])}, mAcc {_diff(k[1], h[1])}: "
                       f"{_verdict(ok, margins)}.")
    if audit:
        for b, rows in audit["budgets"].items():
            emb = rows["embedding (FL-RBF gain)"]
            worse = [n for n in ("loss", "el2n", "entropy")
                     if abs(rows[n]["pearson_log_size"]) > abs(emb["pearson_log_size"])]
            out.append(f"- Signal audit at {b}: |corr(class mean, log class size)| of the "
                       f"embedding signal {abs(emb['pearson_log_size']):.2f} vs "
                       + ", ".join(f"{n} {abs(rows[n]['pearson_log_size']):.2f}"
                                   for n in ("loss", "el2n", "entropy"))
                       + f": **{'holds' if len(worse) == 3 else 'does not hold'}**.")
            empty = {m: [int((np.asarray(r["class_counts"]) == 0).sum())
                         for r in res.get(m, int(b)) if "class_counts" in r]
                     for m in ("fl-rbf", *SCALAR)}
            if all(empty.values()):
                out.append(f"  The subsets themselves at {b}: FL-RBF leaves "
                           f"{np.mean(empty['fl-rbf']):.1f} classes empty, "
                           + ", ".join(f"{LABELS[m]} {np.mean(empty[m]):.1f}" for m in SCALAR)
                           + " (mean over seeds; the class make-up table above).")
    else:
        out.append("- Signal audit: not measured yet (run_grid.py --audit).")
    return "\n".join(out)


def audit_table(audit):
    rows = []
    for b, signals in audit["budgets"].items():
        for name, a in signals.items():
            rows.append([b, name, f"{a['pearson_size']:.2f}", f"{a['pearson_log_size']:.2f}",
                         f"{a['overlap']:.2f}", f"{a['count_ratio']:.1f}",
                         a["n_empty_classes"]])
    return _table(["budget", "signal", "corr(size)", "corr(log size)", "overlap P∩G / B",
                   "count ratio of G", "classes empty in G"], rows)


def makeup_table(rows, class_sizes, budgets):
    """Class make-up of each method's subsets (KD + RKD cells), mean over seeds.

    Total-variation distance of the subset's class shares to the training
    prior (0: proportional) and to the uniform prior (0: balanced).
    """
    sizes = np.asarray(class_sizes, dtype=float)
    prior, uniform = sizes / sizes.sum(), np.full(sizes.shape[0], 1 / sizes.shape[0])
    by = defaultdict(list)
    for r in rows:
        if r["loss"] == "kd+rkd" and prior_of(r) == "empirical" and "class_counts" in r:
            by[(r["method"], r["budget"])].append(np.asarray(r["class_counts"], dtype=float))
    table = []
    for b in budgets:
        for m in protocol.METHODS:
            counts = by.get((m, b))
            if not counts:
                continue
            shares = [c / c.sum() for c in counts]
            fewest, most = np.mean([c.min() for c in counts]), np.mean([c.max() for c in counts])
            table.append([
                LABELS.get(m, m), b, f"{np.mean([(c == 0).sum() for c in counts]):.1f}",
                f"{fewest:.0f}–{most:.0f}",
                f"{np.mean([0.5 * abs(q - prior).sum() for q in shares]):.2f}",
                f"{np.mean([0.5 * abs(q - uniform).sum() for q in shares]):.2f}"])
    return _table(["method", "budget", "classes left empty", "fewest–most shapes a class",
                   "TV to the training prior", "TV to uniform"], table)


def select_time_table(rows, field="select_s"):
    """Median seconds per method and budget, of the grid's rows or of timed runs."""
    by = defaultdict(list)
    for r in rows:
        by[(r["method"], r["budget"])].append(r[field])
    methods = [m for m in protocol.METHODS if any(k[0] == m for k in by)]
    budgets = sorted({k[1] for k in by})
    table = [[LABELS.get(m, m)] + [f"{np.median(by[(m, b)]):.2f}" if (m, b) in by else "–"
                                   for b in budgets] for m in methods]
    return _table(["method"] + [f"{b} (s)" for b in budgets], table)


def plots(res, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    curves = [(prior, steering_points(res, prior)) for prior in protocol.PRIORS]
    curves = [(prior, pts) for prior, pts in curves if pts]
    if curves:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        for prior, pts in curves:
            ax.errorbar([p[2][0] for p in pts], [p[1][0] for p in pts],
                        xerr=[p[2][1] for p in pts], yerr=[p[1][1] for p in pts], fmt="o-",
                        capsize=2, label=f"SGS, weights toward the {PRIOR_NAMES[prior]} "
                                         "(± std)")
            for k, oa, macc in pts:
                ax.annotate(f"{k:g}", (macc[0], oa[0]), textcoords="offset points",
                            xytext=(4, 4), fontsize=8)
        opt = [(k, res.stat(f"sgs-opt-k{k:g}", protocol.STEERING_BUDGET, "oa"),
                res.stat(f"sgs-opt-k{k:g}", protocol.STEERING_BUDGET, "macc"))
               for k in protocol.OPTIMAL_KS]
        opt = [o for o in opt if o[1] and o[2]]
        if opt:
            ax.plot([o[2][0] for o in opt], [o[1][0] for o in opt], "s",
                    label="SGS, optimal quota, weights toward the training prior")
            for k, oa, macc in opt:
                ax.annotate(f"{k:g}", (macc[0], oa[0]), textcoords="offset points",
                            xytext=(4, -10), fontsize=8)
        ax.set_xlabel("mAcc (%)")
        ax.set_ylabel("OA (%)")
        ax.set_title(f"Steering k at {protocol.STEERING_BUDGET} shapes (ModelNet40; labels: k)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / "accuracy_steering.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def resolution_table(res, earlier, budgets):
    """KD and KD + RKD with the teacher on the student's points vs on its own resolution."""
    header = ["method", "training", "teacher sees"] + [f"{b}: {m}" for b in budgets
                                                       for m in ("OA", "mAcc")]
    names = {"kd": "KD", "kd+rkd": "KD + RKD"}
    rows = []
    for m in ("fl-rbf", "sgs-k0.4"):
        for loss in ("kd", "kd+rkd"):
            for label, r in ((f"the student's {protocol.STUDENT.n_points} points", earlier),
                             (f"{protocol.STUDENT.teacher_points} points", res)):
                if any(r.get(m, b, loss) for b in budgets):
                    rows.append([LABELS[m], names[loss], label]
                                + [r.fmt(m, b, met, loss) for b in budgets
                                   for met in ("oa", "macc")])
    return _table(header, rows)


def render(rows, audit, earlier_rows=(), select_time=None):
    res, earlier = Results(rows), Results(earlier_rows)
    budgets = sorted({r["budget"] for r in rows}) or list(protocol.BUDGETS)
    seeds = sorted({r["seed"] for r in rows})
    parts = [
        f"_{len(rows)} cells finished (seeds {seeds}); a missing entry is a cell not run yet; "
        "(n=…) marks a mean over fewer than 3 seeds._",
        "", "### OA / mAcc (%) of the KD + RKD student, mean ± std over seeds", "",
        main_table(res, budgets), "",
    ]
    if any(res.get(m, b, prior="uniform") for m in protocol.MAIN_METHODS
           if m not in protocol.PRIOR_METHODS for b in budgets):
        parts += ["### The same with the student's weights toward the uniform prior", "",
                  "_Experiment `main-uniform`: the subsets of the table above, the weights "
                  "from `target_prior=\"uniform\"`._", "",
                  main_table(res, budgets, "uniform"), ""]
    parts += [
        "### Training: hard labels vs the calibrated teacher (term B)", "",
        loss_table(res, budgets, ("fl-rbf", "sgs-k0.4"), ("hard", "kd+rkd")), "",
        "### Ablation (FL-RBF)", "", loss_table(res, budgets, ("fl-rbf",), tuple(protocol.LOSSES)),
    ]
    if earlier_rows:
        parts += [
            "", "### Teacher resolution: soft labels on the student's points or on the "
            "teacher's own", "",
            f"_{len(earlier_rows)} cells of the first sitting, when the teacher gave its soft "
            f"labels on the student's {protocol.STUDENT.n_points}-point batches (`run_grid.py "
            "--teacher-points 0`); every other table uses the teacher on "
            f"{protocol.STUDENT.teacher_points} points, of which the student sees the first "
            f"{protocol.STUDENT.n_points}._", "",
            resolution_table(res, earlier, sorted({r["budget"] for r in (*rows, *earlier_rows)})),
        ]
    parts += ["", f"### Steering k at {protocol.STEERING_BUDGET} shapes", "",
              "_Every other table trains the student with per-sample weights toward the "
              "training set's class prior (the selectors' default `target_prior=\"empirical\"`,"
              " the OA prior). That reweighting hands the head classes back the weight a "
              "balanced subset took from them, so the steering is also run with weights toward"
              " the uniform prior (`target_prior=\"uniform\"`, the mAcc prior): same subsets, "
              "other weights._", ""]
    if any(steering_points(res, prior) for prior in protocol.PRIORS):
        parts += ["![OA against mAcc as k moves](img/accuracy_steering.png)", ""]
    parts.append(steering_table(res))
    prior_rows = [[LABELS[m], b] + [res.fmt(m, b, met, prior=prior) for prior in protocol.PRIORS
                                    for met in ("oa", "macc")]
                  for m in protocol.PRIOR_METHODS for b in budgets
                  if res.get(m, b, prior="uniform")]
    if prior_rows:
        parts += ["", "### Target prior of the student's weights", "",
                  _table(["method", "budget", "training prior: OA", "mAcc", "uniform prior: OA",
                          "mAcc"], prior_rows)]
    opt_rows = [[f"{k:g}", b, PRIOR_NAMES[prior]]
                + [res.fmt(f"{m}{k:g}", b, met, prior=prior) for m in ("sgs-opt-k", "sgs-k")
                   for met in ("oa", "macc")]
                for prior in protocol.PRIORS for k in protocol.OPTIMAL_KS for b in budgets
                if res.get(f"sgs-opt-k{k:g}", b, prior=prior)]
    parts += ["", "### SGS with the optimal seed quota (beyond the paper)", "",
              _table(["k", "budget", "weights toward", "optimal quota: OA", "mAcc",
                      "flat floor: OA", "mAcc"], opt_rows)
              if opt_rows else "not measured yet", ""]
    if audit:
        parts += ["### Signal audit (Table 3)", "", audit_table(audit), ""]
        sizes = next(iter(next(iter(audit["budgets"].values())).values()))["class_sizes"]
        parts += ["### Class make-up of the subsets (mean over seeds)", "",
                  makeup_table(rows, sizes, budgets), ""]
    if select_time and select_time["runs"]:
        load = select_time["load_avg_before"][0]
        parts += ["### Selection time on the ModelNet40 embeddings (median seconds over seeds)",
                  "", f"_One process alone on the machine (load average {load:.2f} before it, "
                  f"{select_time['cpus']} CPUs), {select_time['started_at'][:10]}: "
                  "`python benchmarks/accuracy/run_grid.py --time-selection`; each method "
                  "selected once untimed first, which loads numba's cached kernels._", "",
                  select_time_table(select_time["runs"], "seconds"), ""]
    elif rows:
        parts += ["### Selection time on the ModelNet40 embeddings (median seconds over cells)",
                  "", "_As the grid measured it, beside other shards' training._", "",
                  select_time_table(rows), ""]
    parts += ["### The paper's claims on this grid", "",
              "_Differences of means over seeds, ± the standard error of the difference; "
              "'holds' applies the claim's own threshold to the means, and says so where a "
              "difference is within one standard error of it._", "",
              claims(res, audit, budgets), ""]
    return "\n".join(parts)


def write_markdown(path, text):
    doc = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{START}\n{text}\n{END}"
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        doc = head + block + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc, encoding="utf-8")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS / "accuracy.jsonl")
    p.add_argument("--audit", type=Path, default=RESULTS / "accuracy_audit.json")
    p.add_argument("--select-time", type=Path, default=RESULTS / "accuracy_select_time.json")
    p.add_argument("--markdown", type=Path, default=None)
    args = p.parse_args(argv)
    rows = load(args.results)
    earlier = [r for r in load(args.results, EARLIER) if r["loss"] != "hard"]
    audit, select_time = (json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
                          for path in (args.audit, args.select_time))
    text = render(rows, audit, earlier, select_time)
    if args.markdown is None:
        print(text)
        return 0
    write_markdown(args.markdown, text)
    img = args.markdown.parent / "img"
    img.mkdir(exist_ok=True)
    for path in plots(Results(rows), img):
        print(f"wrote {path}")
    print(f"updated {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
