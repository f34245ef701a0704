"""The ModelNet40 pruning protocol: the grid of cells, the selectors, the student.

One *cell* is one (method, budget, seed, loss) combination: select a subset
of the training split from the calibrated teacher's embeddings or scores,
train a student from scratch on it, and test it on the full test split.
Every cell shares the student settings of :data:`STUDENT` (one set of
hyper-parameters for every method, never tuned per method).

The experiments are named groups of cells (a cell shared by two groups, say
FL-RBF with KD+RKD at 400 shapes, runs once):

- ``main``: every method of :data:`MAIN_METHODS` with KD+RKD (the paper's
  Table 2 with its Table 4 training applied to all).
- ``hard``: FL-RBF and SGS (k = 0.4) with hard labels only (the gain of the
  prior-invariant training, term B).
- ``ablation``: FL-RBF with hard labels, + calibrated soft labels (KD), +
  embedding geometry (KD + RKD) (the paper's Figure 5).
- ``steering``: SGS with k in :data:`STEERING_KS` at 800 shapes (Figure 7).
- ``optimal``: SGS whose seed quota comes from
  :func:`coreset3d.allocation.optimal_allocation` instead of a flat floor.

Each result row records the student settings it ran with; a cell counts as
done only under the settings asked for (:func:`row_matches`), so a changed
protocol reruns its cells and the older rows stay in the file for
comparison.
"""

import json
import time
import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np

from coreset3d import (
    CCSCP,
    NUCS,
    BalancedScore,
    DRoP,
    FacilityLocationRBF,
    Herding,
    KCenterGreedy,
    RandomSelector,
    ScalarScore,
    SeededGlobalSelector,
    StratifiedSelector,
)
from coreset3d.allocation import optimal_allocation
from coreset3d.base import EmptyClassWarning
from coreset3d.pipeline import TARGET_PRIORS

BUDGETS = (400, 800, 1600)
SEEDS = (0, 1, 2)
STEERING_BUDGET = 800
STEERING_KS = (0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Exponent of the per-class risk decay n_c^(-beta) for the optimal quota; 0.5
#: is the classical rate of a Lipschitz risk bound (Theorem 3.3's setting).
OPTIMAL_BETA = 0.5
OPTIMAL_KS = (0.4, 0.6)
#: Class priors the student's per-sample weights aim at (the selectors'
#: ``target_prior``): "empirical" is the training set's prior (OA, every table
#: but the prior one), "uniform" the mAcc prior.
PRIORS = TARGET_PRIORS
#: Selections trained with either prior in the "prior" experiment.
PRIOR_METHODS = ("fl-rbf", "sgs-k0.4")


@dataclass(frozen=True)
class StudentConfig:
    """Student network and training shared by every cell."""

    model: str = "pointnet"
    width: float = 0.5
    embed_dim: int = 256
    n_points: int = 256
    epochs: int = 50
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 3
    mixed_precision: bool = True
    alpha: float = 0.8
    temperature: float = 5.0
    distance_weight: float = 50.0
    angle_weight: float = 100.0
    rkd_scale: float = 0.1
    #: Points a shape the teacher sees when it gives soft labels: a fresh random
    #: subset of this size, of which the student sees the first ``n_points``.
    #: 512 is the teacher's training resolution; None gives the teacher the
    #: student's own points (the first sitting's protocol), where the calibrated
    #: teacher is 4 OA points weaker (benchmarks/eval_teacher.py).
    teacher_points: int | None = 512


STUDENT = StudentConfig()

#: Loss variants: arguments of :func:`coreset3d.torch.distill` over STUDENT's.
LOSSES = {
    "hard": {"alpha": 0.0, "rkd_scale": 0.0},
    "kd": {"rkd_scale": 0.0},
    "kd+rkd": {},
}


def _scalar(score):
    return {"build": lambda b, s: ScalarScore(budget=b, mode="top", random_state=s),
            "score": score}


#: method -> how to build it (``build(budget, seed)``) and what it is fitted on.
METHODS = {
    "random": {"build": lambda b, s: RandomSelector(budget=b, random_state=s)},
    "stratified": {"build": lambda b, s: StratifiedSelector(budget=b, strategy="balanced",
                                                            random_state=s)},
    "loss": _scalar("loss"),
    "gradnorm": _scalar("gradnorm"),
    "entropy": _scalar("entropy"),
    "el2n": _scalar("el2n"),
    "drop": {"build": lambda b, s: DRoP(budget=b, random_state=s), "recall": True},
    "balanced-el2n": {"build": lambda b, s: BalancedScore(budget=b, random_state=s),
                      "score": "el2n"},
    "nucs-el2n": {"build": lambda b, s: NUCS(budget=b, random_state=s), "score": "el2n"},
    "ccs-cp-el2n": {"build": lambda b, s: CCSCP(budget=b, random_state=s), "score": "el2n"},
    "herding": {"build": lambda b, s: Herding(budget=b, random_state=s)},
    "kcenter": {"build": lambda b, s: KCenterGreedy(budget=b, random_state=s)},
    "fl-rbf": {"build": lambda b, s: FacilityLocationRBF(budget=b, sigma=0.5,
                                                         random_state=s)},
}
for _k in sorted({0.4, 0.6, *STEERING_KS} - {0.0}):
    METHODS[f"sgs-k{_k:g}"] = {"build": (lambda k: lambda b, s: SeededGlobalSelector(
        FacilityLocationRBF(sigma=0.5), budget=b, k=k, random_state=s))(_k)}
for _k in OPTIMAL_KS:
    METHODS[f"sgs-opt-k{_k:g}"] = {"optimal_k": _k}

MAIN_METHODS = ("random", "stratified", "loss", "gradnorm", "entropy", "el2n", "drop",
                "balanced-el2n", "nucs-el2n", "ccs-cp-el2n", "herding", "kcenter", "fl-rbf",
                "sgs-k0.4", "sgs-k0.6")
EXPERIMENTS = ("main", "hard", "ablation", "steering", "optimal", "prior", "steering-uniform",
               "main-uniform", "optimal-uniform")


@dataclass(frozen=True, order=True)
class Cell:
    """One trained student: a method's subset at a budget, a seed, a loss and the
    class prior its per-sample weights aim at."""

    method: str
    budget: int
    seed: int
    loss: str
    prior: str = "empirical"

    @property
    def key(self):
        key = f"{self.method}|{self.budget}|{self.seed}|{self.loss}"
        # the empirical prior was the only one when the first rows were written
        return key if self.prior == "empirical" else f"{key}|{self.prior}"


def cells(experiments=EXPERIMENTS, budgets=BUDGETS, seeds=SEEDS, methods=None):
    """The cells of the chosen experiments, without duplicates, in run order.

    The order is seed-major (every cell of seed 0 first), then the smallest
    budget first, so a partial run already holds one full table.
    """
    out = set()
    for exp in experiments:
        if exp not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {exp!r}; choose from {', '.join(EXPERIMENTS)}.")
        # "<experiment>-uniform": the same cells, the weights toward the uniform prior
        base, _, prior = exp.partition("-")
        for seed in seeds:
            new = set()
            if base == "main":
                new.update(Cell(m, b, seed, "kd+rkd") for m in MAIN_METHODS for b in budgets)
            elif base == "hard":
                new.update(Cell(m, b, seed, "hard") for m in ("fl-rbf", "sgs-k0.4")
                           for b in budgets)
            elif base == "ablation":
                new.update(Cell("fl-rbf", b, seed, loss) for loss in LOSSES for b in budgets)
            elif base == "steering":
                new.update(Cell("fl-rbf" if k == 0 else f"sgs-k{k:g}", STEERING_BUDGET, seed,
                                "kd+rkd") for k in STEERING_KS)
            elif base == "optimal":
                new.update(Cell(f"sgs-opt-k{k:g}", b, seed, "kd+rkd") for k in OPTIMAL_KS
                           for b in budgets)
            elif base == "prior":  # the two selections of the SGS claim, uniform weights
                new.update(Cell(m, b, seed, "kd+rkd", "uniform") for m in PRIOR_METHODS
                           for b in budgets)
            out.update(replace(c, prior=prior) if prior else c for c in new)
    if methods is not None:
        unknown = sorted(set(methods) - set(METHODS))
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}.")
        out = {c for c in out if c.method in methods}
    # a total order (loss last breaks the ties of one method's losses): shards of
    # run_grid split this list by position, in processes with different hash seeds
    return sorted(out, key=lambda c: (c.seed, c.budget, c.loss != "kd+rkd", c.prior, c.method,
                                      c.loss))


def class_recall_proxy(history, labels, n_classes):
    """Per-class share of correct training-time predictions of the teacher.

    DRoP and the optimal quota want per-class validation recall; the
    teacher here is trained on the whole training split, so the held-out
    signal is the teacher's own learning curve: for each sample, the share of
    epochs in which its (augmented) mini-batch prediction was right, averaged
    over each class. Hard classes are learned late and score low.
    """
    seen = history.seen
    correct = history.correct & seen
    per_sample = correct.sum(axis=0) / np.maximum(seen.sum(axis=0), 1)
    return np.bincount(labels, weights=per_sample, minlength=n_classes) / np.bincount(
        labels, minlength=n_classes)


def select(method, budget, seed, teacher, prior="empirical"):
    """Run one method; return indices, weights, selection seconds and its class counts.

    ``teacher`` is a dict with ``embeddings``, ``labels``, ``scores`` (name ->
    array) and ``recall`` (per-class proxy, see :func:`class_recall_proxy`).
    The weights aim at ``prior`` (the selector's ``target_prior``); the
    selection itself does not depend on it.
    """
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; choose from {', '.join(PRIORS)}.")
    spec = METHODS[method]
    X, y = teacher["embeddings"], teacher["labels"]
    started = time.perf_counter()
    if "optimal_k" in spec:
        indices, weights = _optimal_sgs(spec["optimal_k"], budget, seed, teacher, prior)
    else:
        sel = spec["build"](budget, seed).set_params(target_prior=prior)
        fit_params = {}
        if "score" in spec:
            fit_params["scores"] = teacher["scores"][spec["score"]]
        if spec.get("recall"):
            fit_params["recall"] = teacher["recall"]
        with warnings.catch_warnings():  # scalar scores may skip classes: that is measured
            warnings.simplefilter("ignore", EmptyClassWarning)
            sel.fit(X, y, **fit_params)
        indices, weights = sel.sample_indices_, sel.weights_
    seconds = time.perf_counter() - started
    counts = np.bincount(y[indices], minlength=int(y.max()) + 1)
    return indices, weights, seconds, counts


def optimal_quota(k, budget, teacher):
    """SGS seed quota from Theorem 3.3: n_c ∝ (pi_c C_c)^(1/(1+beta)), summing to k*B.

    ``pi`` is uniform (the mAcc prior) and the complexity ``C_c`` is the
    teacher's per-class error proxy ``1 - recall_c`` (floored at 1 %, so an
    easy class still gets a seed).
    """
    y = teacher["labels"]
    sizes = np.bincount(y)
    complexity = np.maximum(1.0 - teacher["recall"], 0.01)
    prior = np.full(sizes.shape[0], 1.0 / sizes.shape[0])
    quota = optimal_allocation(prior, complexity, int(round(k * budget)), OPTIMAL_BETA,
                               class_sizes=sizes)
    return np.array([quota[c] for c in range(sizes.shape[0])])


def _optimal_sgs(k, budget, seed, teacher, prior="empirical"):
    """SGS with the optimal quota: FL-RBF within each class, then global FL-RBF from the seeds."""
    X, y = teacher["embeddings"], teacher["labels"]
    quota = optimal_quota(k, budget, teacher)
    seeds = []
    for c, q in enumerate(quota):
        if q == 0:
            continue
        rows = np.flatnonzero(y == c)
        fl = FacilityLocationRBF(budget=int(q), sigma=0.5, random_state=seed).fit(X[rows])
        seeds.append(rows[fl.sample_indices_])
    seeds = np.concatenate(seeds)
    fl = FacilityLocationRBF(budget=budget, sigma=0.5, target_prior=prior, random_state=seed)
    fl.fit(X, y, initial_indices=seeds)
    return fl.sample_indices_, fl.weights_


def train_student(cell, indices, weights, data, teacher_model, *, config=STUDENT,
                  device="auto", checkpoint_dir=None):
    """Train the cell's student on the subset and test it; return the result dict."""
    import torch

    from coreset3d.torch import (
        Compose,
        PointNet,
        RandomResample,
        default_augmentation,
        distill,
        evaluate,
    )

    kwargs = {**{f: getattr(config, f) for f in ("alpha", "temperature", "distance_weight",
                                                  "angle_weight", "rkd_scale")},
              **LOSSES[cell.loss]}
    teacher = teacher_model if uses_teacher(cell.loss, config) else None
    teacher_points = student_fields(config, cell.loss)["teacher_points"]
    train_pts, train_y = data["train_points"], data["train_labels"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell.seed)
        student = PointNet(data["n_classes"], width=config.width, embed_dim=config.embed_dim)
    # the teacher sees the resampled cloud, the student its first n_points
    augment = Compose([RandomResample(teacher_points or config.n_points),
                       *default_augmentation().transforms])
    if teacher_points:
        kwargs["student_points"] = config.n_points
    started = time.perf_counter()
    history = distill(
        student, teacher, train_pts[indices], train_y[indices], sample_weight=weights,
        epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
        weight_decay=config.weight_decay, warmup_epochs=config.warmup_epochs,
        augment=augment, mixed_precision=config.mixed_precision, device=device,
        seed=cell.seed, checkpoint_dir=checkpoint_dir, resume=True, progress=False, **kwargs)
    train_s = time.perf_counter() - started
    test_pts = np.ascontiguousarray(data["test_points"][:, :config.n_points])
    acc = evaluate(student, test_pts, data["test_labels"], device=device)
    return {"oa": float(acc["oa"]), "macc": float(acc["macc"]),
            "per_class": [float(v) for v in acc["per_class"]],
            "final_loss": float(history.loss[-1]), "train_s": train_s,
            "resumed_from": int(history.resumed_from)}


def uses_teacher(loss, config=STUDENT):
    """Whether a cell of ``loss`` needs the teacher (soft labels or embeddings)."""
    args = {"alpha": config.alpha, "rkd_scale": config.rkd_scale, **LOSSES[loss]}
    return args["alpha"] > 0 or args["rkd_scale"] > 0


def student_fields(config=STUDENT, loss="kd+rkd"):
    """The settings a cell of ``loss`` trains with (no teacher resolution without a teacher)."""
    fields = asdict(config)
    if not uses_teacher(loss, config):
        fields["teacher_points"] = None
    return fields


def load_rows(path, config=STUDENT):
    """The rows of the results file ``path`` that ran with ``config``, the first of each
    cell key (a cell run twice counts once); a torn last line is skipped."""
    rows = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row_matches(row, config):
                rows.setdefault(row["key"], row)
    return list(rows.values())


def row_matches(row, config=STUDENT):
    """Whether a result row ran with ``config`` (rows from before a field existed
    carry its old behaviour: no ``teacher_points`` meant the student's points)."""
    if row.get("loss") not in LOSSES:
        return False
    ran = {"teacher_points": None, **row.get("student", {})}
    return ran == student_fields(config, row["loss"])
