"""A selector by name on the user's embeddings, its per-class table and its files."""

import warnings
from pathlib import Path

import numpy as np

from ..base import EmptyClassWarning
from ._config import is_int
from ._console import _elapsed_bar
from ._select import make_selector


def select_embeddings(X, y=None, *, selector="sgs", budget=0.1, k=0.4, seed=0, scores=None,
                      recall=None, max_memory=None, target_prior="empirical", progress=False):
    """Run a selector by name on embeddings and summarise it per class.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), default=None
        Class labels (ints or strings); required by class-aware selectors
        (SGS, stratified, DRoP, ...).
    selector : str, default="sgs"
        A key of :data:`SELECTORS`.
    budget : int or float, default=0.1
    k : float, default=0.4
        SGS floor share.
    seed : int, default=0
    scores : array-like of shape (n_samples,), default=None
        Per-sample scores, for the score-based selectors.
    recall : dict or array-like of shape (n_classes,), default=None
        Per-class validation recall, for DRoP.
    max_memory : int or str, default=None
        Cap on the kernel memory of facility location (``"4GiB"``, bytes);
        None keeps :class:`FacilityLocationRBF`'s default (30 % of RAM).
        Ignored by selectors without a kernel.
    target_prior : {"empirical", "uniform"}, default="empirical"
        The class prior of the returned ``weights``: the data's own (OA) or
        uniform (mAcc).
    progress : bool, default=False
        Show the elapsed time on stderr while the selector runs (needs tqdm).

    Returns
    -------
    result : dict
        ``indices`` (selection order), ``weights``, ``selector`` (fitted),
        and with labels ``classes``, ``sizes``, ``kept``, ``share``
        (kept / size) and ``class_weight`` (the weight of each kept sample
        of the class; NaN where none is kept).

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(60, 4)
    >>> y = np.array(["a"] * 50 + ["b"] * 10)
    >>> res = select_embeddings(X, y, budget=10, k=0.4)
    >>> res["classes"].tolist(), res["kept"].tolist(), len(res["indices"])
    (['a', 'b'], [7, 3], 10)
    """
    sel, spec = make_selector(selector, budget, k, seed, target_prior)
    if max_memory is not None:
        sel.set_params(**{name: max_memory for name in sel.get_params(deep=True)
                          if name.split("__")[-1] == "max_memory"})
    fit_params = {}
    if spec.score is not None:
        if scores is None:
            raise ValueError(f"--selector {selector} ranks samples by a score ({spec.score}); "
                             "pass --scores FILE with one score per row.")
        fit_params["scores"] = scores
    if spec.recall:
        if recall is None:
            raise ValueError("--selector drop needs the per-class validation recall; pass "
                             "--recall FILE (.npy/.csv aligned with the sorted classes, or a "
                             "JSON object class -> recall).")
        fit_params["recall"] = recall
    if sel._requires_labels and y is None:
        raise ValueError(f"--selector {selector} needs class labels; pass --labels FILE, or "
                         "embeddings with a labels column/key.")
    if is_int(budget) and budget > X.shape[0]:
        raise ValueError(f"--budget {budget} is more than the {X.shape[0]} rows of the "
                         f"embeddings; pass --budget <= {X.shape[0]} or a fraction in (0, 1].")
    with warnings.catch_warnings(), _elapsed_bar(f"select {selector}", progress):
        warnings.simplefilter("ignore", EmptyClassWarning)
        sel.fit(X, y, **fit_params)
    result = {"indices": sel.sample_indices_, "weights": sel.weights_, "selector": sel,
              "name": selector}
    if y is not None:
        classes, y_enc = np.unique(np.asarray(y), return_inverse=True)
        sizes = np.bincount(y_enc, minlength=classes.shape[0])
        chosen = y_enc[sel.sample_indices_]
        kept = np.bincount(chosen, minlength=classes.shape[0])
        class_weight = np.full(classes.shape[0], np.nan)
        class_weight[chosen] = sel.weights_
        result.update({"classes": classes, "sizes": sizes, "kept": kept,
                       "share": kept / sizes, "class_weight": class_weight,
                       "labels": np.asarray(y)[sel.sample_indices_]})
    return result


def selection_table(result):
    """The per-class table of a :func:`select_embeddings` result, as text."""
    if "classes" not in result:
        return f"{len(result['indices'])} rows selected (no labels: no per-class table)"
    names = [str(c) for c in result["classes"]]
    width = max(5, *(len(n) for n in names))
    lines = [f"{'class':{width}}  {'size':>7}  {'kept':>6}  {'share':>6}  {'weight':>7}"]
    for i, name in enumerate(names):
        w = result["class_weight"][i]
        lines.append(f"{name:{width}}  {result['sizes'][i]:>7}  {result['kept'][i]:>6}  "
                     f"{100 * result['share'][i]:>5.1f}%  "
                     f"{'-' if not np.isfinite(w) else f'{w:.3f}':>7}")
    total = int(result["sizes"].sum())
    lines.append(f"{'total':{width}}  {total:>7}  {len(result['indices']):>6}  "
                 f"{100 * len(result['indices']) / total:>5.1f}%")
    return "\n".join(lines)


def write_selection(result, out):
    """Write a selection: ``selection.npz``, ``selection.csv`` and ``class_counts.csv``.

    ``selection.npz`` holds ``indices`` (selection order), ``weights`` and,
    with labels, ``classes``, ``sizes``, ``kept``; ``selection.csv`` one row
    per selected sample (rank, index, label, weight); ``class_counts.csv``
    the per-class table (class, size, kept, share, weight).

    Returns
    -------
    paths : list of pathlib.Path
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"indices": result["indices"], "weights": result["weights"]}
    if "classes" in result:
        classes = result["classes"]
        arrays.update({"classes": classes.astype(str) if classes.dtype.kind == "O" else classes,
                       "sizes": result["sizes"], "kept": result["kept"]})
    np.savez(out / "selection.npz", **arrays)
    paths = [out / "selection.npz", out / "selection.csv"]
    with open(out / "selection.csv", "w", encoding="utf-8") as fh:
        fh.write("rank,index,label,weight\n")
        labels = result.get("labels")
        for r, (i, w) in enumerate(zip(result["indices"], result["weights"], strict=True)):
            lab = "" if labels is None else _csv_cell(labels[r])
            fh.write(f"{r},{int(i)},{lab},{float(w):.6g}\n")
    if "classes" in result:
        with open(out / "class_counts.csv", "w", encoding="utf-8") as fh:
            fh.write("class,size,kept,share,weight\n")
            for i, c in enumerate(result["classes"]):
                w = result["class_weight"][i]
                fh.write(f"{_csv_cell(c)},{int(result['sizes'][i])},{int(result['kept'][i])},"
                         f"{result['share'][i]:.6g},{'' if not np.isfinite(w) else f'{w:.6g}'}\n")
        paths.append(out / "class_counts.csv")
    return paths


def _csv_cell(value):
    text = str(value)
    return f'"{text}"' if any(ch in text for ch in ',"\n') else text
