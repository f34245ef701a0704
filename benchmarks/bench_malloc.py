"""Student training with and without keep_freed_memory, alone and two side by side.

Times a few epochs of the accuracy grid's student (``benchmarks/accuracy/
protocol.py``: PointNet x0.5, KD + RKD from a PointNet teacher on 512 of
1,024 points, bfloat16 autocast, one torch thread) on random clouds, each
run in a fresh interpreter, and prints seconds an epoch, minor page faults a
step and the ratio of the default allocator to ``keep_freed_memory``.
``--pair`` also runs two workers at once, as two grid shards on one machine
do. No data or cache is needed; the numbers measure the machine.

    python benchmarks/bench_malloc.py                   # 800 shapes, 3 epochs
    python benchmarks/bench_malloc.py --shapes 1600 --pair

Appends its rows to ``benchmarks/results/malloc.jsonl``.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def worker(tuned, n_shapes, epochs):
    sys.path.insert(0, str(HERE / "accuracy"))
    import numpy as np
    import protocol
    import torch

    from coreset3d.torch import PointNet, keep_freed_memory

    torch.set_num_threads(1)
    applied = keep_freed_memory() if tuned else False
    rng = np.random.default_rng(0)
    data = {"train_points": rng.normal(size=(n_shapes, 1024, 3)).astype(np.float32),
            "train_labels": np.arange(n_shapes) % 40, "n_classes": 40,
            "test_points": rng.normal(size=(64, 1024, 3)).astype(np.float32),
            "test_labels": np.arange(64) % 40}
    teacher = PointNet(40, width=0.5, embed_dim=256).eval()
    config = replace(protocol.STUDENT, epochs=epochs, warmup_epochs=0)
    cell = protocol.Cell("fl-rbf", n_shapes, 0, "kd+rkd")
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    started = time.perf_counter()
    protocol.train_student(cell, np.arange(n_shapes), np.ones(n_shapes), data, teacher,
                           config=config, device="cpu")
    seconds = time.perf_counter() - started
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    steps = epochs * -(-n_shapes // config.batch_size)
    print(json.dumps({"tuned": tuned, "applied": applied, "seconds_per_epoch": seconds / epochs,
                      "faults_per_step": faults / steps}))


def spawn(tuned, args):
    cmd = [sys.executable, __file__, "--worker", "on" if tuned else "off",
           "--shapes", str(args.shapes), "--epochs", str(args.epochs)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def collect(procs):
    rows = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a worker failed (exit {proc.returncode})")
        rows.append(json.loads(out.strip().splitlines()[-1]))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", type=int, default=800)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--pair", action="store_true", help="also two workers side by side")
    p.add_argument("--worker", choices=["on", "off"], help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=RESULTS / "malloc.jsonl")
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker == "on", args.shapes, args.epochs)
        return 0
    runs = {}
    for tuned in (False, True):
        runs[("alone", tuned)] = collect([spawn(tuned, args)])
        if args.pair:
            runs[("pair", tuned)] = collect([spawn(tuned, args), spawn(tuned, args)])
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as fh:
        for (mode, _), rows in runs.items():
            for row in rows:
                fh.write(json.dumps({"mode": mode, "shapes": args.shapes, "epochs": args.epochs,
                                     **row, "load_avg": os.getloadavg()[0],
                                     "finished_at": stamp}) + "\n")
    print(f"{args.shapes} shapes, {args.epochs} epochs; seconds an epoch, page faults a step")
    for (mode, tuned), rows in runs.items():
        secs = ", ".join(f"{r['seconds_per_epoch']:.2f}" for r in rows)
        faults = ", ".join(f"{r['faults_per_step']:.0f}" for r in rows)
        print(f"  {mode:5s} {'keep_freed_memory' if tuned else 'glibc defaults':17s} "
              f"{secs:>12s} s   {faults:>12s} faults")
    ratio = runs[("alone", False)][0]["seconds_per_epoch"] / runs[("alone", True)][0][
        "seconds_per_epoch"]
    print(f"defaults / keep_freed_memory, one process: {ratio:.2f}x")
    if args.pair:
        for tuned in (False, True):
            slow = max(r["seconds_per_epoch"] for r in runs[("pair", tuned)])
            print(f"two side by side vs alone, {'tuned' if tuned else 'defaults'}: "
                  f"{slow / runs[('alone', tuned)][0]['seconds_per_epoch']:.2f}x slower each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
