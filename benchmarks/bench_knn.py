"""Which approximate-neighbour library builds the kNN graph for FacilityLocationRBF?

Builds the k-nearest-neighbour graph of N float32 embeddings (the long-tailed
mixture of ``bench_selection.py``, L2-normalised) with each candidate and
reports wall time, peak resident memory and recall@k against exact neighbours
of 1,000 random rows. Each candidate runs in a fresh subprocess; a first call
on 2,000 rows (numba compilation for pynndescent) is reported apart. Rows are
appended to ``benchmarks/results/knn_libs.jsonl``.

    python benchmarks/bench_knn.py                      # 100,000 x 128, k = 20
    python benchmarks/bench_knn.py --n 1000000 --methods faiss-ivf pynndescent
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_selection import make_embeddings  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "knn_libs.jsonl"


def knn_pynndescent(X, k):
    from pynndescent import NNDescent

    # a larger search graph than k + 1 (pynndescent's default is 30), truncated to k + 1
    index = NNDescent(X, n_neighbors=max(30, k + 1), metric="euclidean", random_state=0,
                      compressed=True, low_memory=True)
    return index.neighbor_graph[0][:, : k + 1]


def knn_faiss_hnsw(X, k):
    import faiss

    index = faiss.IndexHNSWFlat(X.shape[1], 32)
    index.hnsw.efConstruction = 40
    index.add(X)
    index.hnsw.efSearch = max(64, 2 * (k + 1))
    return index.search(X, k + 1)[1]


def knn_faiss_ivf(X, k):
    """What FacilityLocationRBF(similarity="knn") runs: IVF-Flat, ~2 sqrt(N) lists, 8 probed."""
    from coreset3d.selectors._knn import TransformedRows, faiss_neighbors

    data = TransformedRows(X, normalize=False)
    return faiss_neighbors(data, k, np.random.RandomState(0))[0]


METHODS = {"pynndescent": knn_pynndescent, "faiss-hnsw": knn_faiss_hnsw,
           "faiss-ivf": knn_faiss_ivf}


def recall(X, neighbors, k, n_queries=1000, seed=1):
    """Share of the exact k nearest neighbours (self excluded) found, over random rows."""
    rows = np.random.RandomState(seed).choice(X.shape[0], n_queries, replace=False)
    X64 = X.astype(np.float64)
    sq = (X64**2).sum(1)
    hits = 0
    for start in range(0, n_queries, 100):  # 100 queries at a time: (100, N) distances
        part = rows[start : start + 100]
        d2 = sq[part][:, None] + sq[None, :] - 2 * X64[part] @ X64.T
        d2[np.arange(part.shape[0]), part] = np.inf
        exact = np.argpartition(d2, k, axis=1)[:, :k]
        for q, r in enumerate(part.tolist()):
            found = [j for j in neighbors[r].tolist() if j != r][:k]
            hits += len(set(found) & set(exact[q].tolist()))
    return hits / (n_queries * k)


def worker(method, n, d, k):
    X = make_embeddings(n, d=d)[0]
    start = time.perf_counter()
    METHODS[method](X[:2000].copy(), k)  # compile / warm up on a small set
    setup = time.perf_counter() - start
    start = time.perf_counter()
    neighbors = METHODS[method](X, k)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"method": method, "n": n, "d": d, "k": k, "seconds": seconds,
                      "setup_seconds": setup, "peak_rss_bytes": peak,
                      "recall": recall(X, neighbors, k)}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="JSON lines, one per run, appended (default: %(default)s)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        method, n, d, k = args.worker
        return worker(method, int(n), int(d), int(k))
    print("| library | N | d | k | build + query (s) | compile/warm-up (s) | peak RSS (GiB) "
          "| recall@k |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for method in args.methods:
        cmd = [sys.executable, __file__, "--worker", method, str(args.n), str(args.d), str(args.k)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"| {method} | failed: {proc.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as fh:
            fh.write(json.dumps(r) + "\n")
        print(f"| {method} | {r['n']} | {r['d']} | {r['k']} | {r['seconds']:.1f} | "
              f"{r['setup_seconds']:.1f} | {r['peak_rss_bytes'] / 2**30:.2f} | "
              f"{r['recall']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
