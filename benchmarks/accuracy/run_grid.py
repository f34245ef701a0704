"""Run the ModelNet40 pruning grid: select, train a student, test; one JSON line per cell.

Reuses the calibrated PointNet teacher of ``benchmarks/train_teacher.py``
from the artifact cache (trained first if the cache lacks it, with the
settings recorded in ``benchmarks/results/teacher_modelnet40.json``). Every
finished cell is appended to the results file at once and skipped by a
rerun, so the grid can run in several sittings; a student interrupted
mid-training resumes from its last epoch checkpoint.

    python benchmarks/accuracy/run_grid.py --list                  # what would run
    python benchmarks/accuracy/run_grid.py --experiments main --budgets 400 --seeds 0
    nohup python benchmarks/accuracy/run_grid.py > /dev/null 2>&1 &   # the whole grid
    tail -f benchmarks/results/accuracy_progress.log

``--audit`` also writes the signal audit (the paper's Table 3) of the
embeddings and the Loss, EL2N and Entropy scores to
``benchmarks/results/accuracy_audit.json``; ``--time-selection`` only times
the selections, alone in one process, into
``benchmarks/results/accuracy_select_time.json``.
"""

import hashlib
import json
import logging
import os
import shlex
import shutil
import sys
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import protocol  # noqa: E402  (benchmarks/accuracy is not a package)
from train_teacher import base_parser  # noqa: E402  (benchmarks/)

RESULTS = REPO / "benchmarks" / "results"
TEACHER_REPORT = RESULTS / "teacher_modelnet40.json"
log = logging.getLogger("coreset3d.bench.accuracy")


def parse_args(argv=None):
    p = base_parser(__doc__)
    p.add_argument("--experiments", nargs="+", default=list(protocol.EXPERIMENTS),
                   choices=protocol.EXPERIMENTS)
    p.add_argument("--budgets", nargs="+", type=int, default=list(protocol.BUDGETS))
    p.add_argument("--seeds", nargs="+", type=int, default=list(protocol.SEEDS))
    p.add_argument("--methods", nargs="+", default=None, help="only these methods")
    p.add_argument("--shard", default="0/1", metavar="I/N",
                   help="run only every N-th cell of the grid, starting at the I-th: N "
                        "processes with shards 0/N .. N-1/N and the same other options split "
                        "the grid (measure before sharding on one machine: "
                        "benchmarks/bench_malloc.py --pair)")
    p.add_argument("--teacher-points", type=int, default=protocol.STUDENT.teacher_points,
                   help="points a shape the teacher sees for the soft labels (the student "
                        "sees the first of them); 0: the student's own points")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--device", default="auto")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="start no new cell after this many minutes")
    p.add_argument("--audit", action="store_true", help="also write the signal audit")
    p.add_argument("--time-selection", action="store_true",
                   help="only time the selection of every method, budget and seed of the "
                        "chosen cells, in this one process (no training; run it on a quiet "
                        "machine), into benchmarks/results/accuracy_select_time.json")
    p.add_argument("--list", action="store_true", help="print the pending cells and exit")
    p.add_argument("--out", type=Path, default=RESULTS / "accuracy.jsonl")
    p.add_argument("--log", type=Path, default=RESULTS / "accuracy_progress.log")
    return p.parse_args(argv)


def done_keys(path, config=protocol.STUDENT):
    """Keys of the cells already in the results file under the student settings ``config``."""
    return {row["key"] for row in protocol.load_rows(path, config)}


def shard_cells(cells, done, shard, n_shards):
    """The pending cells of one shard.

    Shards split the full cell list, not the pending one, so a shard started
    later (or restarted) never takes a cell that another shard owns.
    """
    return [c for i, c in enumerate(cells) if i % n_shards == shard and c.key not in done]


def parse_shard(text):
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        i = n = -1
    if not 0 <= i < n:
        raise SystemExit(f"--shard must be I/N with 0 <= I < N (e.g. 0/2), got {text!r}.")
    return i, n


def load_teacher(args):
    """Data, the calibrated teacher and what the selectors need, from the cache."""
    from coreset3d.cache import ArtifactCache
    from coreset3d.datasets import load_modelnet40
    from coreset3d.torch import TeacherConfig, prepare_teacher

    report = json.loads(TEACHER_REPORT.read_text(encoding="utf-8"))
    config = TeacherConfig(**report["config"])
    train = load_modelnet40(args.data_dir, "train")
    test = load_modelnet40(args.data_dir, "test")
    art = prepare_teacher(train.points, train.labels, test.points, test.labels, config,
                          cache=ArtifactCache(args.cache), n_classes=train.n_classes,
                          device=args.device, progress=False)
    if not art.report.get("complete", True):
        raise SystemExit("the cached teacher is incomplete; finish benchmarks/train_teacher.py")
    labels = np.asarray(train.labels)
    data = {"train_points": train.points, "train_labels": labels,
            "test_points": test.points, "test_labels": np.asarray(test.labels),
            "n_classes": train.n_classes, "class_names": train.class_names}
    teacher = {"embeddings": art.embeddings, "labels": labels, "scores": art.scores,
               "recall": protocol.class_recall_proxy(art.history, labels, train.n_classes)}
    return data, teacher, art


def write_audit(teacher, path):
    """Signal audit (Table 3) of embeddings vs Loss, EL2N, Entropy at each budget."""
    from coreset3d.metrics import signal_audit

    signals = {"embedding (FL-RBF gain)": teacher["embeddings"],
               **{name: teacher["scores"][name] for name in ("loss", "el2n", "entropy")}}
    out = {"budgets": {}}
    for budget in protocol.BUDGETS:
        rows = {}
        for name, signal in signals.items():
            audit = signal_audit(signal, teacher["labels"], budget, sigma=0.5)
            rows[name] = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                          for k, v in asdict(audit).items() if k not in ("classes", "values")}
        out["budgets"][str(budget)] = rows
    path.write_text(json.dumps(out, indent=1, default=float) + "\n", encoding="utf-8")
    log.info("signal audit written to %s", path)


def time_selection(cells, teacher, path):
    """Selection seconds of each (method, budget, seed) of ``cells``, alone in this process.

    The grid's own ``select_s`` ran beside other shards' training and numba
    kernels, so it measures the machine's load as much as the method. Each
    method first selects once untimed (numba loads its cached kernels); the
    file is rewritten after every timing, so a stopped run keeps what it has.
    """
    runs = sorted({(c.method, c.budget, c.seed) for c in cells},
                  key=lambda r: (list(protocol.METHODS).index(r[0]), r[1], r[2]))
    out = {"load_avg_before": list(os.getloadavg()), "cpus": os.cpu_count(),
           "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "runs": []}
    warm = set()
    for method, budget, seed in runs:
        if method not in warm:
            protocol.select(method, budget, seed, teacher)
            warm.add(method)
        seconds = protocol.select(method, budget, seed, teacher)[2]
        out["runs"].append({"method": method, "budget": budget, "seed": seed,
                            "seconds": seconds, "load_avg": list(os.getloadavg())})
        path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        log.info("select %-24s %5d seed %d: %.3fs", method, budget, seed, seconds)
    return out


def main(argv=None):
    args = parse_args(argv)
    todo_all = protocol.cells(args.experiments, args.budgets, args.seeds, args.methods)
    if args.teacher_points and args.teacher_points < protocol.STUDENT.n_points:
        raise SystemExit(f"--teacher-points must be 0 (the student's points) or at least the "
                         f"student's {protocol.STUDENT.n_points}, got {args.teacher_points}.")
    config = replace(protocol.STUDENT, teacher_points=args.teacher_points or None)
    done = done_keys(args.out, config)
    pending = [c for c in todo_all if c.key not in done]
    todo = shard_cells(todo_all, done, *parse_shard(args.shard))
    if args.list:
        for c in todo:
            print(c.key)
        print(f"{len(todo)} cells for shard {args.shard}; {len(pending)} pending of "
              f"{len(todo_all)} ({len(todo_all) - len(pending)} done)")
        return 0

    args.log.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(args.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    import torch

    from coreset3d.cache import ArtifactCache
    from coreset3d.torch import keep_freed_memory

    torch.set_num_threads(args.threads)
    # the student's activation buffers, reused instead of page-faulted anew each step
    malloc_tuned = keep_freed_memory()
    command = "python " + " ".join(shlex.quote(a) for a in
                                   [os.path.relpath(__file__, REPO), *sys.argv[1:]])
    log.info("start: %s (%d pending of %d cells; freed memory kept: %s)", command, len(todo),
             len(todo_all), malloc_tuned)
    started = time.perf_counter()
    data, teacher, art = load_teacher(args)
    log.info("teacher ready (%s) in %.0fs", art.keys["calibrated"][:12],
             time.perf_counter() - started)
    if args.audit:
        write_audit(teacher, RESULTS / "accuracy_audit.json")
    if args.time_selection:
        time_selection(todo_all, teacher, RESULTS / "accuracy_select_time.json")
        log.info("selection timed in %.1f min", (time.perf_counter() - started) / 60)
        return 0
    ckpt_root = ArtifactCache(args.cache).path("student-checkpoint", "accuracy-grid")
    for i, cell in enumerate(todo):
        minutes = (time.perf_counter() - started) / 60
        if args.max_minutes is not None and minutes > args.max_minutes:
            log.info("stopping after %.1f min: %d cells left", minutes, len(todo) - i)
            break
        indices, weights, select_s, counts = protocol.select(cell.method, cell.budget,
                                                             cell.seed, teacher, cell.prior)
        student = protocol.student_fields(config, cell.loss)
        tag = hashlib.sha1(json.dumps(student, sort_keys=True).encode()).hexdigest()[:8]
        ckpt = ckpt_root / f"{cell.key.replace('|', '_')}_{tag}"
        result = protocol.train_student(cell, indices, weights, data, art.calibrated,
                                        config=config, device=args.device, checkpoint_dir=ckpt)
        shutil.rmtree(ckpt, ignore_errors=True)
        row = {"key": cell.key, **asdict(cell), **result, "select_s": select_s,
               "class_counts": counts.tolist(), "n_classes_kept": int((counts > 0).sum()),
               "student": student, "teacher": art.keys["calibrated"],
               "threads": args.threads, "malloc_tuned": malloc_tuned,
               "load_avg": list(os.getloadavg()),
               "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        log.info("[%d/%d] %-32s OA %.2f mAcc %.2f  (select %.1fs, train %.0fs)", i + 1,
                 len(todo), cell.key, 100 * row["oa"], 100 * row["macc"], select_s,
                 row["train_s"])
    log.info("done in %.1f min", (time.perf_counter() - started) / 60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
