"""Test the cached ModelNet40 teacher at several point counts, before and after calibration.

The teacher of ``benchmarks/train_teacher.py`` trains on 512-point subsets
(a lever for speed on a CPU) and its report tests it on the first 512 points
of each test shape. This script reloads that teacher from the artifact cache
(the settings come from ``benchmarks/results/teacher_modelnet40.json``, so
nothing is trained) and tests it on the first ``n`` points for every ``n`` in
``--points``: the full 1,024 points of the standard ModelNet40 test, and the
256 points the grid's students see (the teacher gives their soft labels on
those batches).

    python benchmarks/eval_teacher.py                    # 256, 512 and 1,024 points
    python benchmarks/eval_teacher.py --points 128 1024

Writes ``benchmarks/results/teacher_modelnet40_points.json``.
"""

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from train_teacher import base_parser  # benchmarks/ is the script's folder

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"


def parse_args(argv=None):
    p = base_parser(__doc__)
    p.add_argument("--report", type=Path, default=RESULTS / "teacher_modelnet40.json",
                   help="the teacher's report: its config selects the cached teacher")
    p.add_argument("--points", type=int, nargs="+", default=[256, 512, 1024],
                   help="test on the first n points of each shape, for each n")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=RESULTS / "teacher_modelnet40_points.json")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch

    from coreset3d.cache import ArtifactCache
    from coreset3d.datasets import load_modelnet40
    from coreset3d.torch import TeacherConfig, evaluate, prepare_teacher

    torch.set_num_threads(args.threads)
    report = json.loads(args.report.read_text(encoding="utf-8"))
    config = TeacherConfig(**report["config"])
    train = load_modelnet40(args.data_dir, "train")
    test = load_modelnet40(args.data_dir, "test")
    too_many = [n for n in args.points if not 0 < n <= test.n_points]
    if too_many:
        raise SystemExit(f"--points must lie in 1..{test.n_points} (the points stored), "
                         f"got {too_many}.")
    art = prepare_teacher(train.points, train.labels, test.points, test.labels, config,
                          cache=ArtifactCache(args.cache), n_classes=train.n_classes,
                          device=args.device, progress=False)
    if not all(art.report["cache_hits"].values()):
        raise SystemExit("the teacher was not in the cache and has just been (re)made: this "
                         "script tests the teacher of the report; run train_teacher.py first.")
    rows = []
    for n in args.points:
        pts = np.ascontiguousarray(test.points[:, :n])
        row = {"n_points": n}
        for name, model in (("before", art.teacher), ("after", art.calibrated)):
            acc = evaluate(model, pts, test.labels, device=args.device)
            row[name] = {"oa": float(acc["oa"]), "macc": float(acc["macc"])}
        rows.append(row)
        print(f"{n:5d} points: OA {100 * row['before']['oa']:.2f} mAcc "
              f"{100 * row['before']['macc']:.2f} before calibration, OA "
              f"{100 * row['after']['oa']:.2f} mAcc {100 * row['after']['macc']:.2f} after",
              flush=True)
    out = {
        "benchmark": "the cached ModelNet40 teacher tested on the first n points of each shape",
        "command": "python " + " ".join([os.path.relpath(__file__, REPO), *sys.argv[1:]]),
        "teacher_report": os.path.relpath(args.report, REPO),
        "teacher_key": art.keys["calibrated"], "trained_on_points": config.n_points,
        "n_test": len(test), "rows": rows,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"written to {os.path.relpath(args.out, REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
