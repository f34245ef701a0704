"""DistributedSelector (GreeDi on Dask) against single-machine FacilityLocationRBF.

N = 100,000 float32 embeddings of d = 128 (the long-tailed mixture of
bench_selection.py, L2-normalised), budget 1 %, FL-RBF with sigma = 0.5 and
a dense kernel per partition (8 partitions of 12,500 rows). Cells, each in a
fresh subprocess so that its peak memory is its own:

- ``single``: FacilityLocationRBF on all rows in one process (both cores; the
  100k x 100k kernel does not fit, so it runs on its row cache);
- ``local``: DistributedSelector without a client (the synchronous scheduler
  in this process, both cores through numba and BLAS);
- ``dask-1``, ``dask-2``: a LocalCluster of 1 or 2 worker processes of one
  thread each (numba and BLAS limited to one thread per worker), reading
  the embeddings from an ``.npy`` file with ``from_npy`` on the workers.

Besides wall time, each cell records the CPU seconds every process (the
client, or each worker) spent on the fit: on a shared machine, wall time
depends on what else runs, while the CPU seconds per worker show how the
work was split.

Each finished cell is appended to a JSON-lines file at once (a rerun skips
cells already there; ``--fresh`` starts over). The objective
F(S) = sum_i max_{j in S} K(x_i, x_j) of every selection is evaluated by
bench_selection.objective (float64, one routine for all), outside the timed
subprocess.

    python benchmarks/bench_distributed.py                  # all cells, then the table
    python benchmarks/bench_distributed.py --n 20000 --cells local dask-2
    python benchmarks/bench_distributed.py --cells local dask-1 dask-2 --repeat 3 --rerun
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_selection import load_rows, make_embeddings, objective, record  # noqa: E402

SIGMA = 0.5
CELLS = ("single", "local", "dask-1", "dask-2")
DEFAULT_OUT = HERE / "results" / "distributed.jsonl"
ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_rss():
    """This process's peak resident memory in bytes: VmHWM, its own since exec (ru_maxrss
    would carry over the peak of the parent that spawned it)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds():
    """User + system CPU time of this process, all its threads."""
    t = os.times()
    return t.user + t.system


def timed(fit, repeat, cpu=lambda: {"client": cpu_seconds()}):
    """Run ``fit`` ``repeat`` times: the last fitted selector, every wall time in seconds
    and, per run, the CPU seconds each process (from ``cpu``) spent on it."""
    times, cpus = [], []
    for _ in range(repeat):
        before = cpu()
        start = time.perf_counter()
        sel = fit()
        times.append(time.perf_counter() - start)
        after = cpu()
        cpus.append(sorted(after[k] - before[k] for k in after))
    return sel, times, cpus


def worker(cell, data, n_select, n_partitions, repeat, picks):
    from coreset3d import FacilityLocationRBF

    fl = FacilityLocationRBF(sigma=SIGMA, normalize=False)
    row = {"cell": cell, "budget": n_select, "n_partitions": n_partitions,
           "load_before": os.getloadavg()[0]}
    if cell in ("single", "local"):
        from coreset3d.distributed import DistributedSelector

        X = np.load(data)
        fl.set_params(budget=8).fit(X[:2000])  # load the numba cache outside the timing
        log(f"{cell}: fitting {X.shape} x {repeat} ...")
        if cell == "single":
            fit = lambda: clone(fl).set_params(budget=n_select).fit(X)  # noqa: E731
        else:
            fit = lambda: DistributedSelector(  # noqa: E731
                fl, budget=n_select, n_partitions=n_partitions, random_state=0
            ).fit(X)
        sel, times, cpus = timed(fit, repeat)
        row["peak_rss_bytes"] = peak_rss()
        row["worker_peak_rss_bytes"] = []
    else:
        from distributed import Client, LocalCluster

        from coreset3d.distributed import DistributedSelector, from_npy

        n_workers = int(cell.split("-")[1])
        start = time.perf_counter()
        with LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True,
            dashboard_address=None, env=ONE_THREAD,
        ) as cluster, Client(cluster) as client:
            row["startup_seconds"] = time.perf_counter() - start
            warm = np.load(data, mmap_mode="r")[:2000].copy()
            client.run(lambda: fl.set_params(budget=8).fit(warm) and None)  # numba cache
            X = from_npy(data)
            log(f"{cell}: {n_workers} workers up in {row['startup_seconds']:.1f} s; "
                f"fitting x {repeat} ...")
            sel, times, cpus = timed(lambda: DistributedSelector(
                fl, budget=n_select, client=client, n_partitions=n_partitions, random_state=0
            ).fit(X), repeat, cpu=lambda: client.run(cpu_seconds))
            row["worker_peak_rss_bytes"] = sorted(client.run(peak_rss).values())
            row["peak_rss_bytes"] = peak_rss()
    row["seconds"], row["seconds_all"] = min(times), times
    row["cpu_seconds"] = cpus[int(np.argmin(times))]  # per process (workers), fastest run
    row["cpu_seconds_all"] = cpus
    if hasattr(sel, "candidate_objectives_"):
        row["candidates"] = sel.candidate_objectives_
        row["source"] = sel.solution_source_
    np.save(picks, sel.sample_indices_)
    row["load_after"] = os.getloadavg()[0]
    log(f"{cell}: {', '.join(f'{t:.1f}' for t in times)} s (1-min load "
        f"{row['load_before']:.1f} -> {row['load_after']:.1f})")
    print(json.dumps(row))


def run_cell(worker_args, timeout):
    """``--worker *worker_args`` in a fresh interpreter (its progress goes to our stderr):
    its JSON row, or an "error" when it failed or ran past ``timeout`` seconds."""
    cmd = [sys.executable, __file__, "--worker", *map(str, worker_args)]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout {timeout}s"}
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode} (traceback in the log)"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows, n):
    by = {r["cell"]: r for r in rows}
    ref = by.get("single", {}).get("objective")
    one = by.get("dask-1", {}).get("seconds")
    lines = [
        "| cell | cores used | fit (s): fastest (all runs) | speed-up vs 1 worker | "
        "CPU s per process | peak RSS, client (GiB) | "
        "peak RSS per worker (GiB) | objective F(S) | vs single machine | load (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    cores = {"single": 2, "local": 2, "dask-1": 1, "dask-2": 2}
    for cell in CELLS:
        r = by.get(cell)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"| {cell} | | failed: {r['error']} | | | | | | | |")
            continue
        speed = f"{one / r['seconds']:.2f}x" if one and cell.startswith("dask") else ""
        workers = ", ".join(f"{b / 2**30:.2f}" for b in r["worker_peak_rss_bytes"]) or "-"
        ratio = f"{r['objective'] / ref:.4f}" if ref and "objective" in r else ""
        load = f"{r.get('load_before', 0):.1f} -> {r.get('load_after', 0):.1f}"
        runs = ", ".join(f"{t:.1f}" for t in r.get("seconds_all", [r["seconds"]]))
        cpu = ", ".join(f"{t:.1f}" for t in r.get("cpu_seconds", [])) or "-"
        lines.append(
            f"| {cell} | {cores[cell]} | {r['seconds']:.1f} ({runs}) | {speed} | {cpu} | "
            f"{r['peak_rss_bytes'] / 2**30:.2f} | {workers} | "
            f"{r.get('objective', float('nan')):.1f} | {ratio} | {load} |"
        )
    return f"N = {n}\n\n" + "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--fresh", action="store_true", help="ignore results already in --out")
    parser.add_argument("--repeat", type=int, default=1,
                        help="fits per cell (same process); the table shows the fastest")
    parser.add_argument("--rerun", action="store_true",
                        help="run --cells again even if --out has them (the new rows win)")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        cell, data, n_select, n_partitions, repeat, picks = args.worker
        return worker(cell, data, int(n_select), int(n_partitions), int(repeat), picks)

    rows = [r for r in load_rows(args.out, args.fresh) if r.get("n") == args.n]
    done = set() if args.rerun else {r["cell"] for r in rows if "error" not in r}
    tmp = Path(tempfile.mkdtemp(prefix="bench_distributed_"))
    X, _ = make_embeddings(args.n, d=args.d)
    data = tmp / "embeddings.npy"
    np.save(data, X)
    n_select = max(1, round(args.fraction * args.n))
    log(f"N={args.n} d={args.d} budget={n_select} partitions={args.partitions}; data in {data}")
    for cell in args.cells:
        if cell in done:
            log(f"{cell}: already in {args.out}, skipped")
            continue
        picks = tmp / f"{cell}.npy"
        head = {"cell": cell, "n": args.n, "d": args.d, "budget": n_select}
        log(f"{cell}: start")
        cell_args = [cell, data, n_select, args.partitions, args.repeat, picks]
        row = {**head, **run_cell(cell_args, args.timeout)}
        if "error" not in row:
            row["objective"] = objective(X, np.load(picks), sigma=SIGMA)
        rows = [r for r in rows if r["cell"] != cell] + [record(args.out, row)]
    shutil.rmtree(tmp)
    print(table(rows, args.n))


if __name__ == "__main__":
    main()
