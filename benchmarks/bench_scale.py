"""Million-sample selection on one machine: FacilityLocationRBF(similarity="knn").

Float32 embeddings of d = 128 (a long-tailed mixture of 40 classes, as in
``bench_selection.py``, L2-normalised, RBF sigma = 0.5) are written once to
``.npy`` files and opened as ``numpy.memmap``: the selector reads them in row
blocks. Budget 1 %. Every cell runs in a fresh subprocess, so its peak
resident memory (file pages it touched included) is its own; each finished
cell is appended to a JSON-lines file at once, and a rerun skips cells
already there (``--fresh`` starts over).

    python benchmarks/bench_scale.py                          # 1e4, 4e4, 1e5, 1e6
    python benchmarks/bench_scale.py --sizes 10000 40000
    python benchmarks/bench_scale.py --table-only --markdown docs/benchmarks.md

Prints per cell the time, peak RSS, the objective F(S) on the kNN kernel
(the sum of ``gains_``) and, up to 100,000 rows, F(S) on the dense kernel;
up to N = 40,000 the dense lazy greedy runs too and the kNN objectives are
given as a share of its (both evaluated on the dense kernel). Last, the time
growth exponent between sizes (``log t2/t1 / log N2/N1``), and the neighbour
library comparison of ``bench_knn.py`` where its results exist.
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_selection import load_rows, record, run_worker  # noqa: E402

SIGMA = 0.5
D = 128
DEFAULT_OUT = HERE / "results" / "scale.jsonl"
DEFAULT_DATA = HERE / "results" / "scale_data"
DENSE_OBJECTIVE_MAX = 100_000  # F(S) on the dense kernel up to this N (B x N x d work)
COMPARE_N = 40_000  # the dense greedy runs up to this N too
METHODS = {
    "knn": {"similarity": "knn", "knn_algorithm": "approximate"},
    "knn-stochastic": {"similarity": "knn", "knn_algorithm": "approximate",
                       "optimizer": "stochastic", "epsilon": 0.01},
    "dense": {},
}


def write_embeddings(path, n, d=D, n_classes=40, imbalance=15.0, seed=0, chunk=100_000):
    """The long-tailed mixture of ``bench_selection.make_embeddings``, written in chunks.

    Class c has weight imbalance**(-c / (C-1)); class centres and modes come
    from ``seed``, each chunk's rows from ``(seed, chunk index)``, so memory
    stays at one chunk and a file of N rows starts with the file of fewer.
    """
    rng = np.random.RandomState(seed)
    weights = imbalance ** (-np.arange(n_classes) / (n_classes - 1))
    centers = rng.randn(n_classes, d) * 0.35
    sub = rng.randn(n_classes, 4, d) * 0.2
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for c, start in enumerate(range(0, n, chunk)):
        m = min(chunk, n - start)
        r = np.random.RandomState([seed, c])
        y = r.choice(n_classes, size=m, p=weights / weights.sum())
        X = centers[y] + sub[y, r.randint(4, size=m)] + r.randn(m, d) * 0.25
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        out[start : start + m] = X
    out.flush()
    del out


def embeddings_file(n, data_dir):
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"longtail_{n}x{D}.npy"
    if not path.exists():
        tmp = path.with_suffix(".tmp.npy")
        write_embeddings(tmp, n)
        tmp.rename(path)
    return path


def dense_objective(X, indices, sigma=SIGMA, block=256):
    """F(S) on the dense RBF kernel, float64, blocked over S and X."""
    S = np.asarray(X[np.sort(np.asarray(indices))], dtype=np.float64)
    sq_s = (S**2).sum(1)
    gamma = 1.0 / (2 * sigma**2)
    total = 0.0
    for start in range(0, X.shape[0], 8192):
        part = np.asarray(X[start : start + 8192], dtype=np.float64)
        sq_p = (part**2).sum(1)
        best = np.zeros(part.shape[0])
        for s0 in range(0, S.shape[0], block):
            d2 = sq_s[s0 : s0 + block, None] + sq_p[None, :] - 2 * S[s0 : s0 + block] @ part.T
            best = np.maximum(best, np.exp(-gamma * np.maximum(d2, 0)).max(0))
        total += best.sum()
    return float(total)


def peak_rss_bytes():
    """Peak resident memory of this process since its exec.

    Linux's ``ru_maxrss`` survives ``exec`` and so starts at the parent's
    peak (here the parent wrote the embedding files); ``VmHWM`` belongs to the
    new address space. ``ru_maxrss`` where there is no /proc.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(method, n, path):
    from coreset3d import FacilityLocationRBF

    X = np.load(path, mmap_mode="r")
    budget = max(1, round(0.01 * n))
    params = {"sigma": SIGMA, "normalize": False, "random_state": 0, **METHODS[method]}
    start = time.perf_counter()  # numba cache loads, faiss import
    FacilityLocationRBF(8, **params).fit(np.ascontiguousarray(X[:2000]))
    setup = time.perf_counter() - start
    rss_before = peak_rss_bytes()
    start = time.perf_counter()
    sel = FacilityLocationRBF(budget, **params).fit(X)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    row = {"method": method, "n": n, "d": X.shape[1], "budget": budget, "seconds": seconds,
           "setup_seconds": setup, "peak_rss_bytes": peak, "rss_before_bytes": rss_before,
           "objective": float(sel.gains_.sum()), "kernel_nnz": int(sel.kernel_nnz_),
           "n_selected": int(np.unique(sel.sample_indices_).shape[0]),
           "threads": os.cpu_count()}
    if n <= DENSE_OBJECTIVE_MAX:
        row["dense_objective"] = dense_objective(X, sel.sample_indices_)
    print(json.dumps(row))


def cells(sizes):
    for n in sizes:
        names = ["dense", "knn", "knn-stochastic"] if n <= COMPARE_N else ["knn", "knn-stochastic"]
        for method in names:
            yield method, n


def growth(rows, method):
    """Time growth exponents between consecutive sizes, and over the whole range."""
    pts = sorted((r["n"], r["seconds"]) for r in rows if r["method"] == method and "error" not in r)
    steps = [(a[0], b[0], math.log(b[1] / a[1]) / math.log(b[0] / a[0]))
             for a, b in zip(pts, pts[1:], strict=False)]
    overall = None
    if len(pts) >= 2:
        overall = float(np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)[0])
    return steps, overall


def knn_library_table(path):
    """The latest ``bench_knn.py`` row per (library, N), as a markdown table."""
    rows = {(r["method"], r["n"]): r for r in load_rows(path)} if path.exists() else {}
    if not rows:
        return ""
    lines = ["| library | N | d | k | build + query (s) | first call (s) | peak RSS (GiB) "
             "| recall@k |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (_, n), r in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        lines.append(f"| {r['method']} | {n} | {r['d']} | {r['k']} | {r['seconds']:.1f} | "
                     f"{r['setup_seconds']:.1f} | {r['peak_rss_bytes'] / 2**30:.2f} | "
                     f"{r['recall']:.3f} |")
    return "\n".join(lines)


def targets(by):
    """The targets of issue 7, met or not, from the rows at hand."""
    out = []
    for method in ("knn", "knn-stochastic"):
        big, small, ref = by.get((1_000_000, method)), by.get((COMPARE_N, method)), \
            by.get((COMPARE_N, "dense"))
        if big and "error" not in big:
            minutes, gib = big["seconds"] / 60, big["peak_rss_bytes"] / 2**30
            out.append(f"- {method}, N = 1,000,000: {minutes:.1f} min (target <= 20: "
                       f"{'met' if minutes <= 20 else 'not met'}), peak {gib:.2f} GiB "
                       f"(target < 8: {'met' if gib < 8 else 'not met'}).")
        if small and ref and "error" not in small and "error" not in ref:
            share = 100 * small["dense_objective"] / ref["dense_objective"]
            out.append(f"- {method}, N = {COMPARE_N:,}: {share:.2f} % of the dense lazy greedy's "
                       f"objective (target >= 99 %: {'met' if share >= 99 else 'not met'}).")
    return ["", "Against the targets of issue 7:", "", *out] if out else []


def table(rows):
    by = {(r["n"], r["method"]): r for r in rows}
    lines = ["| N | method | budget | time (s) | + setup (s) | peak RSS (GiB) | F(S), kNN kernel "
             "| F(S), dense kernel | share of dense greedy |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n, method in sorted(by, key=lambda k: (k[0], list(METHODS).index(k[1]))):
        r = by[(n, method)]
        if "error" in r:
            lines.append(f"| {n} | {method} | | failed: {r['error']} | | | | | |")
            continue
        dense = r.get("dense_objective")
        ref = by.get((n, "dense"), {}).get("dense_objective")
        share = f"{100 * dense / ref:.2f} %" if dense and ref else ""
        knn = f"{r['objective']:.1f}" if method != "dense" else ""
        lines.append(
            f"| {n} | {method} | {r['budget']} | {r['seconds']:.1f} | {r['setup_seconds']:.1f} | "
            f"{r['peak_rss_bytes'] / 2**30:.2f} | {knn} | "
            f"{f'{dense:.1f}' if dense else ''} | {share} |")
    lines += targets(by)
    for method in ("knn", "knn-stochastic"):
        steps, overall = growth(rows, method)
        if steps:
            parts = ", ".join(f"{a:,} to {b:,}: {e:.2f}" for a, b, e in steps)
            lines.append(f"\nTime growth exponent, {method}: {parts}; fit over all sizes: "
                         f"{overall:.2f}.")
    return "\n".join(lines)


def run_cell(method, n, path, timeout):
    head = {"method": method, "n": n, "budget": max(1, round(0.01 * n))}
    return run_worker(__file__, [method, n, path], head, timeout)


def wait_for_teacher(max_minutes):
    """Wait (at most ``max_minutes``) while a teacher training run holds the CPUs."""
    deadline = time.monotonic() + 60 * max_minutes
    while time.monotonic() < deadline:
        busy = subprocess.run(["pgrep", "-f", "train_teacher"], capture_output=True, text=True)
        if not busy.stdout.strip():
            return
        print("[scale] train_teacher is running; waiting", flush=True)
        time.sleep(60)
    print(f"[scale] still running after {max_minutes} min; going on", flush=True)


def write_markdown(path, text):
    """Put ``text`` between the scale-table markers of ``path``; add a Scale section if none."""
    start, end = "<!-- scale-table -->", "<!-- /scale-table -->"
    machine = f"_Machine: {os.cpu_count()} CPU cores, numpy {np.__version__}._"
    body = f"{start}\n{machine}\n\n{text}\n{end}"
    doc = path.read_text()
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        doc = head + body + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + SECTION.format(table=body)
    path.write_text(doc)


SECTION = """## Scale: a million embeddings on one machine

```bash
nohup nice -n 19 python benchmarks/bench_scale.py --markdown docs/benchmarks.md \\
    > benchmarks/results/scale_progress.log 2>&1 &
```

`FacilityLocationRBF(similarity="knn", n_neighbors=20, knn_algorithm="approximate")`
on float32 embeddings of d = 128 (the long-tailed mixture of the selection
benchmark, L2-normalised, sigma = 0.5), budget 1 %, read from `.npy` files
opened as `numpy.memmap` (in row blocks). Each cell runs in a fresh
subprocess; **peak RSS** includes the file pages the run touched. **F(S),
kNN kernel** is `gains_.sum()`; **F(S), dense kernel** evaluates the same
selection on the full RBF kernel (up to 100,000 rows), and up to N = 40,000
**share of dense greedy** divides it by the dense lazy greedy's. Time
includes the neighbour search, the graph and the greedy; **+ setup** is a
first fit on 2,000 rows in the same process (numba cache loads, faiss
import). The 2 cores may be shared with other jobs while it runs (they were
for the table below), which slows the larger cells most.

{table}
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[10_000, COMPARE_N, 100_000, 1_000_000])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA,
                        help="where the embedding files are written (reused across runs)")
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--knn-results", type=Path, default=HERE / "results" / "knn_libs.jsonl",
                        help="bench_knn.py results to add to the table (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="ignore results already in --out")
    parser.add_argument("--table-only", action="store_true",
                        help="run nothing: print (and --markdown) the table of --out as it is")
    parser.add_argument("--wait-teacher", type=float, default=30, metavar="MINUTES",
                        help="when a 10^6 cell is to run, first wait at most this long while a "
                        "train_teacher process runs (default: %(default)s)")
    parser.add_argument("--markdown", type=Path, help="write the table into this file, between "
                        "<!-- scale-table --> and <!-- /scale-table --> (a Scale section is "
                        "added when the markers are missing)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        method, n, path = args.worker
        return worker(method, int(n), path)

    done = load_rows(args.out, args.fresh)
    have = {(r["method"], r["n"]) for r in done if "error" not in r}
    todo = [(m, n) for m, n in cells(args.sizes)
            if not args.table_only and m in args.methods and (m, n) not in have]
    for n in sorted({n for _, n in todo}):
        embeddings_file(n, args.data_dir)
    if any(n >= 1_000_000 for _, n in todo) and args.wait_teacher > 0:
        wait_for_teacher(args.wait_teacher)  # before the first cell: all see the same machine
    for method, n in todo:
        path = embeddings_file(n, args.data_dir)
        print(f"[scale] {method} N={n} ...", flush=True)
        done.append(record(args.out, run_cell(method, n, path, args.timeout), "[scale]"))
    latest = {(r["method"], r["n"]): r for r in done
              if r["n"] in args.sizes and r["method"] in args.methods}
    text = table(list(latest.values()))
    libraries = knn_library_table(args.knn_results)
    if libraries:
        text += ("\n\nNeighbour libraries (`python benchmarks/bench_knn.py`, k = 20, the same "
                 "mixture in memory; faiss-ivf is the search FacilityLocationRBF runs):\n\n"
                 + libraries)
    print(text)
    if args.markdown:
        write_markdown(args.markdown, text)


if __name__ == "__main__":
    main()
