"""The selectors the pipeline and the command line know by name."""

from dataclasses import dataclass

import numpy as np

from ..selectors import (
    CCS,
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


@dataclass(frozen=True)
class SelectorSpec:
    """A selector the pipeline and the command line know by name.

    Attributes
    ----------
    name : str
        The ``--selector`` value.
    summary : str
        One line for ``--help`` and the docs.
    build : callable
        ``build(budget, k, seed) -> BaseSelector`` (unfitted).
    score : str or None
        Teacher score passed as ``fit(..., scores=...)`` (``"el2n"``,
        ``"loss"``, ...), or None.
    recall : bool
        Whether ``fit`` takes the per-class validation ``recall`` (DRoP).
    uses_k : bool
        Whether ``k`` (the SGS floor share) means anything to it.
    """

    name: str
    summary: str
    build: object
    score: str | None = None
    recall: bool = False
    uses_k: bool = False


def _sgs(base):
    def build(budget, k, seed):
        return SeededGlobalSelector(base(), budget=budget, k=k, random_state=seed)

    return build


def _scalar(budget, k, seed):
    return ScalarScore(budget=budget, mode="top", random_state=seed)


_SPECS = [
    SelectorSpec("sgs", "3D-Pruner: Seeded Global Selection on FL-RBF, a per-class floor of "
                 "k*B/C, then global facility location", _sgs(FacilityLocationRBF), uses_k=True),
    SelectorSpec("sgs-kcenter", "SGS with k-center greedy as the base",
                 _sgs(KCenterGreedy), uses_k=True),
    SelectorSpec("sgs-herding", "SGS with herding as the base", _sgs(Herding), uses_k=True),
    SelectorSpec("fl-rbf", "facility location on an RBF kernel, global (SGS with k=0)",
                 lambda b, k, s: FacilityLocationRBF(budget=b, random_state=s)),
    SelectorSpec("kcenter", "k-center greedy (farthest-first coverage)",
                 lambda b, k, s: KCenterGreedy(budget=b, random_state=s)),
    SelectorSpec("herding", "herding (running mean closest to the full mean)",
                 lambda b, k, s: Herding(budget=b, random_state=s)),
    SelectorSpec("random", "uniform random subset",
                 lambda b, k, s: RandomSelector(budget=b, random_state=s)),
    SelectorSpec("stratified", "random within each class, class-proportional budgets",
                 lambda b, k, s: StratifiedSelector(budget=b, random_state=s)),
    SelectorSpec("balanced", "random within each class, equal (capped) class budgets",
                 lambda b, k, s: StratifiedSelector(budget=b, strategy="balanced",
                                                    random_state=s)),
    SelectorSpec("loss", "highest teacher loss first", _scalar, score="loss"),
    SelectorSpec("entropy", "highest teacher entropy first", _scalar, score="entropy"),
    SelectorSpec("el2n", "highest EL2N (error L2 norm) first", _scalar, score="el2n"),
    SelectorSpec("gradnorm", "highest head gradient norm first", _scalar, score="gradnorm"),
    SelectorSpec("forgetting", "most forgetting events during teacher training first",
                 _scalar, score="forgetting"),
    SelectorSpec("ccs", "coverage-centric selection over EL2N strata (Zheng et al. 2023)",
                 lambda b, k, s: CCS(budget=b, random_state=s), score="el2n"),
    SelectorSpec("ccs-cp", "CCS inside each class, class-proportional budgets with a floor "
                 "(Tsai et al. 2025)", lambda b, k, s: CCSCP(budget=b, random_state=s),
                 score="el2n"),
    SelectorSpec("drop", "DRoP: class budgets from validation error, random within class "
                 "(Vysogorets et al. 2025)", lambda b, k, s: DRoP(budget=b, random_state=s),
                 recall=True),
    SelectorSpec("nucs", "NUCS: class budgets from mean EL2N, a middle window within class "
                 "(Zhang et al. 2025)", lambda b, k, s: NUCS(budget=b, random_state=s),
                 score="el2n"),
    SelectorSpec("balanced-el2n", "Balance-EL2N: equal class budgets, highest EL2N within class",
                 lambda b, k, s: BalancedScore(budget=b, random_state=s), score="el2n"),
]
#: Every selector by its ``--selector`` name.
SELECTORS = {spec.name: spec for spec in _SPECS}


def check_selector_name(name):
    if name not in SELECTORS:
        raise ValueError(
            f"unknown selector {name!r}; choose one of {', '.join(SELECTORS)} "
            "(`coreset3d run --help` describes each)."
        )
    return SELECTORS[name]


#: Values of ``target_prior`` the pipeline offers (a selector also takes a dict).
TARGET_PRIORS = ("empirical", "uniform")


def make_selector(name, budget, k=0.4, seed=0, target_prior="empirical"):
    """An unfitted selector from its ``--selector`` name.

    Parameters
    ----------
    name : str
        A key of :data:`SELECTORS` (``"sgs"``, ``"fl-rbf"``, ``"el2n"``, ...).
    budget : int or float
        Subset size: an int count or a fraction in (0, 1].
    k : float, default=0.4
        SGS floor share in [0, 1]; ignored by the other selectors.
    seed : int, default=0
        The selector's ``random_state``.
    target_prior : {"empirical", "uniform"}, default="empirical"
        The class prior of the selector's ``weights_``: the data's own (OA)
        or uniform (mAcc). The subset does not depend on it.

    Returns
    -------
    selector : BaseSelector
    spec : SelectorSpec
        What ``fit`` needs besides ``X`` and ``y`` (``spec.score``,
        ``spec.recall``).

    Examples
    --------
    >>> sel, spec = make_selector("sgs", 80, k=0.6)
    >>> type(sel).__name__, sel.k, type(sel.base).__name__, spec.score
    ('SeededGlobalSelector', 0.6, 'FacilityLocationRBF', None)
    >>> make_selector("el2n", 0.1)[1].score
    'el2n'
    """
    spec = check_selector_name(name)
    if target_prior not in TARGET_PRIORS:
        raise ValueError(f"--target-prior must be one of {', '.join(TARGET_PRIORS)}; got "
                         f"{target_prior!r}.")
    return spec.build(budget, k, seed).set_params(target_prior=target_prior), spec


def _params(selector):
    """The JSON-able parameters of a selector (for its cache key)."""
    out = {}
    for name, value in selector.get_params(deep=True).items():
        if hasattr(value, "get_params"):
            out[name] = type(value).__name__
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[name] = value
        else:
            out[name] = repr(value)
    return out


def _fill_recall(recall, sizes):
    """Per-class recall aligned with the classes present; NaN (no validation shape) -> mean."""
    recall = np.asarray(recall, dtype=np.float64)[sizes > 0]
    finite = np.isfinite(recall)
    fill = recall[finite].mean() if finite.any() else 0.5
    return np.where(finite, recall, fill)
