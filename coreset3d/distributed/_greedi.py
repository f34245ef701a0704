"""GreeDi as one Dask graph: partitions, two rounds, the best partition, the objective.

``task_*`` functions run on the Dask workers on plain numpy data and return
small results; ``build_*`` functions run on the client and only wire delayed
calls together, so no embedding row passes through the client. Every fit is
a clone of the user's selector, used through its public estimator API
(``budget``, ``random_state``, ``fit(..., initial_indices=...)``,
``sample_indices_``, ``gains_``, ``sigma_``).
"""

import math
import warnings
from typing import NamedTuple

import numpy as np
from dask import delayed
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from ..allocation import floor_allocation
from ..base import EmptyClassWarning

#: Rows drawn to fix ``sigma="median"`` once per problem (what FacilityLocationRBF draws).
MEDIAN_ROWS = 2000
#: ``max_memory`` of the clones that only score a given set: its kernel rows, no full kernel.
EVAL_MEMORY = "64MiB"


class Block(NamedTuple):
    """Rows of X with their row ids in the fitted X and their encoded labels (or None)."""

    ids: np.ndarray
    X: np.ndarray
    y: np.ndarray | None


class Picks(NamedTuple):
    """One partition's round-1 selection."""

    block: Block  # the new picks, in pick order (warm-start rows excluded)
    gains: np.ndarray | None  # gains of warm start + picks on the partition
    n_rows: int  # rows the partition offered besides the warm start


class Solution(NamedTuple):
    """A problem's answer: new picks in order, and their scores on all its rows."""

    block: Block
    gains: np.ndarray | None  # global marginal gains of warm start + picks (sum objectives)
    objectives: dict  # candidate -> objective, where evaluated
    source: str  # "union", "union+sample" or "partition <p>"


# ----------------------------------------------------------------------------- on the workers
def task_block(ids, X, y, order=None):
    """A partition, materialised on the worker from the chunks of X (read in ascending
    row order; ``order`` puts the rows back in the order of ``ids``)."""
    X = np.asarray(X) if order is None else np.asarray(X)[order]
    return Block(np.asarray(ids), np.ascontiguousarray(X), y)


def task_concat(*blocks):
    """Blocks one after another (None and empty blocks skipped); None if nothing is left."""
    blocks = [b for b in blocks if b is not None and b.ids.shape[0]]
    if not blocks:
        return None
    y = None if blocks[0].y is None else np.concatenate([b.y for b in blocks])
    return Block(
        np.concatenate([b.ids for b in blocks]), np.concatenate([b.X for b in blocks]), y
    )


def task_fix_sigma(selector, sample):
    """The selector with ``sigma="median"`` replaced by its estimate on ``sample``."""
    probe = _fit(selector, sample, 0, 1, 0, keep=True)
    return clone(selector).set_params(sigma=float(probe.sigma_))


def task_round1(selector, part, seeds, n_new, seed):
    """Round 1: the selector on one partition (after the warm start) for up to n_new picks."""
    work, n_seed = _prepend(seeds, part)
    n_rows = work.ids.shape[0] - n_seed
    n_pick = min(n_new, n_rows)
    order, gains = _fit(selector, work, n_seed, n_seed + n_pick, seed)
    return Picks(_take(work, order[n_seed:]), gains, n_rows)


def task_round2(selector, seeds, n_new, seed, sample, *picks):
    """Round 2: the selector on the union of the round-1 picks (plus ``sample``), to n_new."""
    union = task_concat(*(p.block for p in picks))
    if sample is not None:
        union = _prepend(union, sample)[0]
    work, n_seed = _prepend(seeds, union)
    order, gains = _fit(selector, work, n_seed, n_seed + n_new, seed)
    return _take(work, order[n_seed:])


def task_candidates(seeds, n_new, n_total, union, extended, *picks):
    """The two round-2 solutions and the partition solution most likely to beat them.

    Partitions that picked fewer than ``n_new`` rows cannot be a solution.
    The rest are ranked by their own objective scaled to all rows
    (``value * n_total / n_rows``), an estimate of their objective on all
    rows; only the top one is scored exactly, which costs ``|S|`` kernel rows
    per partition instead of ``m |S|``.
    """
    candidates = {"union": task_concat(seeds, union), "union+sample": task_concat(seeds, extended)}
    n_seed = 0 if seeds is None else seeds.ids.shape[0]
    ranked = [
        (float(p.gains[n_seed : n_seed + n_new].sum()) * n_total / p.n_rows, i)
        for i, p in enumerate(picks)
        if p.gains is not None and p.block.ids.shape[0] >= n_new
    ]
    if ranked:
        best = max(ranked, key=lambda t: (t[0], -t[1]))[1]
        candidates[f"partition {best}"] = task_concat(seeds, _take(picks[best].block, slice(n_new)))
    return candidates


def task_score(selector, part, candidates):
    """Marginal gains of each candidate set on ``part`` plus the set itself."""
    return {
        name: _gains_of(selector, _prepend(S, part)[0], S.ids.shape[0])
        for name, S in candidates.items()
    }


def task_choose(selector, seeds, candidates, *scores):
    """Gains on all rows, summed over partitions; keep the candidate of highest objective.

    A candidate ``S`` was scored on ``S + P_p`` for every partition ``P_p``,
    so its rows were counted ``m`` times: ``F(S) = sum_p F_{S+P_p}(S) - (m - 1)
    F_S(S)``, prefix by prefix, which gives the marginal gains too.
    """
    n_parts = len(scores)
    totals = {}
    for name, S in candidates.items():
        own = _gains_of(selector, S, S.ids.shape[0])
        totals[name] = sum(s[name] for s in scores) - (n_parts - 1) * own
    objectives = {name: float(g.sum()) for name, g in totals.items()}
    source = max(objectives, key=lambda n: (objectives[n], n.startswith("union")))
    n_seed = 0 if seeds is None else seeds.ids.shape[0]
    picked = _take(candidates[source], slice(n_seed, None))
    return Solution(picked, totals[source], objectives, source)


def task_single(picks, scored):
    """A problem of one partition: its round-1 selection is the answer (its gains, of a
    summed objective, are those on all rows)."""
    return Solution(picks.block, picks.gains if scored else None, {}, "partition 0")


def task_unscored(extended):
    """The round-2 solution, where the selector reports no summed objective."""
    return Solution(extended, None, {}, "union+sample")


def task_summary(solution, seeds):
    """What the client needs: row ids, gains and objectives (no embedding rows)."""
    seed_ids = np.empty(0, dtype=np.intp) if seeds is None else seeds.ids
    return {
        "seeds": seed_ids,
        "new": solution.block.ids,
        "gains": solution.gains,
        "objectives": solution.objectives,
        "source": solution.source,
    }


def _fit(selector, block, n_seed, n_select, seed, *, keep=False):
    """Fit a clone whose first ``n_seed`` rows are the warm start: (order, gains), or the clone."""
    sel = clone(selector)
    params = {"budget": int(n_select)}
    if seed is not None and sel.get_params(deep=False).get("random_state", 0) is None:
        params["random_state"] = int(seed)
    sel.set_params(**params)
    initial = np.arange(n_seed) if n_seed else None
    with warnings.catch_warnings():  # the inner fits' weights are never used
        warnings.simplefilter("ignore", EmptyClassWarning)
        sel.fit(block.X, block.y, initial_indices=initial)
    if keep:
        return sel
    gains = getattr(sel, "gains_", None)
    return sel.sample_indices_, None if gains is None else np.asarray(gains, dtype=np.float64)


def _gains_of(selector, block, n_set):
    """Gains of the first ``n_set`` rows of ``block``, taken in order, on all of ``block``.

    The warm start is scored one kernel row at a time: single-row products run
    far faster on one BLAS thread than on several (whose wake-ups dominate).
    """
    scorer = clone(selector)
    if "max_memory" in scorer.get_params(deep=False):
        scorer.set_params(max_memory=EVAL_MEMORY)
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(scorer, block, n_set, n_set, None)[1]


def _prepend(seeds, block):
    """``seeds`` first, then the rows of ``block`` that are not seeds; and len(seeds)."""
    if seeds is None or seeds.ids.shape[0] == 0:
        return block, 0
    keep = ~np.isin(block.ids, seeds.ids)
    return task_concat(seeds, _take(block, keep)) or seeds, seeds.ids.shape[0]


def _take(block, pos):
    return Block(block.ids[pos], block.X[pos], None if block.y is None else block.y[pos])


# ----------------------------------------------------------------------------- on the client
class Source:
    """Where partitions come from: rows of a dask array, read where its chunks live, or of a
    numpy array (scattered to the cluster when there is one)."""

    def __init__(self, X, y, client):
        self.X, self.y, self.client = X, y, client
        self.lazy = hasattr(X, "dask")
        self.scattered = []

    def block(self, ids):
        """The rows ``ids``, in that order, as a delayed :class:`Block`."""
        ids = np.asarray(ids, dtype=np.intp)
        ascending = np.sort(ids)
        order = None if np.array_equal(ascending, ids) else np.searchsorted(ascending, ids)
        y = None if self.y is None else self.y[ids]
        if self.lazy:
            data = self.X[ascending]  # becomes one task that gathers the chunks on a worker
        elif self.client is not None:
            # unique keys (no content hash): a later fit scattering the same rows must not
            # share a key that this fit's futures release
            data = self.client.scatter(self.X[ascending], hash=False)
            self.scattered.append(data)  # held until the fit is over
        else:
            data = self.X[ascending]
        return delayed(task_block, pure=False)(ids, data, y, order)


def split_random(rows, n_parts, rng):
    """Rows shuffled and cut into ``n_parts`` near-equal parts (each sorted)."""
    return [np.sort(p) for p in np.array_split(rng.permutation(rows), n_parts)]


def split_by_class(rows, y, n_parts):
    """Whole classes per part: largest class first into the part with fewest rows."""
    classes, counts = np.unique(y[rows], return_counts=True)
    load = np.zeros(n_parts, dtype=np.int64)
    members = [[] for _ in range(n_parts)]
    for c in np.argsort(-counts, kind="stable"):
        p = int(np.argmin(load))
        members[p].append(classes[c])
        load[p] += counts[c]
    return [np.sort(rows[np.isin(y[rows], m)]) for m in members]


def build_problem(source, selector, parts, seeds, n_new, *, kappa, scored, rng):
    """GreeDi of ``selector`` over ``parts`` for ``n_new`` picks after ``seeds``.

    Round 2 runs on the union of the round-1 picks plus a uniform sample of
    ``n_total / m`` rows ("union+sample"): on the union alone the objective
    over-weights sparse regions, whose rows every partition picks. Returns a
    delayed :class:`Solution`. ``scored``: the selector's gains are marginal
    gains of a summed objective, so GreeDi's own round 2 on the union alone
    and the best partition's solution are scored too, the one of highest
    objective on all rows is kept and its gains are made global.
    """
    everything = np.concatenate(parts)
    n_total = everything.shape[0]
    if selector.get_params(deep=False).get("sigma") == "median":
        rows = rng.choice(everything, min(n_total, MEDIAN_ROWS), replace=False)
        selector = delayed(task_fix_sigma, pure=False)(selector, source.block(rows))
    blocks = [source.block(p) for p in parts]
    n_round1 = n_new if len(parts) == 1 else math.ceil(kappa * n_new)
    picks = [
        delayed(task_round1, pure=False)(selector, b, seeds, n_round1, _seed(rng)) for b in blocks
    ]
    if len(parts) == 1:
        return delayed(task_single, pure=False)(picks[0], scored)
    sample = source.block(rng.choice(everything, math.ceil(n_total / len(parts)), replace=False))
    round2 = delayed(task_round2, pure=False)
    extended = round2(selector, seeds, n_new, _seed(rng), sample, *picks)
    if not scored:
        return delayed(task_unscored, pure=False)(extended)
    union = round2(selector, seeds, n_new, _seed(rng), None, *picks)
    candidates = delayed(task_candidates, pure=False)(
        seeds, n_new, n_total, union, extended, *picks
    )
    scores = [delayed(task_score, pure=False)(selector, b, candidates) for b in blocks]
    return delayed(task_choose, pure=False)(selector, seeds, candidates, *scores)


def _seed(rng):
    return int(rng.randint(np.iinfo(np.int32).max))


def build_seeds(source, sgs, base, warm, initial, n_new, classes, n_parts, problem):
    """SeededGlobalSelector's phase 1 with the rows partitioned by class.

    Class ``c`` gets ``min(floor(k n_new / C), its rows outside the warm
    start)`` seeds (:func:`~coreset3d.allocation.floor_allocation`), picked at
    random or by GreeDi of ``base`` on the class's rows alone (one partition
    per ``N / n_parts`` rows of the class), so the floor is exactly SGS's.
    Returns the delayed block of warm start + seeds and the allocation.
    """
    if sgs.k > 0 and classes.shape[0] < 2:
        raise ValueError(
            f"k={sgs.k} asks for a per-class floor but y holds one class "
            f"({classes.tolist()[0]!r}); pass k=0 (global selection) or labels of "
            "several classes."
        )
    quota = floor_allocation(np.bincount(source.y, minlength=classes.shape[0]), n_new, sgs.k)
    n_samples = source.y.shape[0]
    taken = np.zeros(n_samples, dtype=bool)
    taken[initial] = True
    rng = problem["rng"]
    blocks, allocation = [warm], {}
    for c, label in enumerate(classes.tolist()):
        rows = np.flatnonzero((source.y == c) & ~taken)
        n_c = int(min(quota[c], rows.shape[0]))
        allocation[label] = n_c
        if n_c == 0:
            continue
        if sgs.seed_strategy == "random":
            blocks.append(source.block(rows[rng.choice(rows.shape[0], n_c, replace=False)]))
            continue
        m_c = max(1, min(rows.shape[0], math.ceil(rows.shape[0] * n_parts / n_samples)))
        solution = build_problem(source, base, split_random(rows, m_c, rng), None, n_c, **problem)
        blocks.append(solution.block)
    return delayed(task_concat, pure=False)(*blocks), allocation
