"""PNG plots of selections and runs: retention, per-class accuracy, OA/mAcc trade-off.

matplotlib is imported when a function is called (``pip install matplotlib``),
and only its object-oriented API with the Agg canvas is used: no display is
needed and the pyplot state (backend, open figures) of the caller is left
alone.
"""

from pathlib import Path

import numpy as np

__all__ = ["plot_retention", "plot_per_class_accuracy", "plot_tradeoff"]


def _figure(width, height):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "coreset3d.plots needs matplotlib (pip install matplotlib); the results files "
            "are written without it."
        ) from exc
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path


def _as_float(values):
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def plot_retention(class_sizes, kept, path, *, class_names=None, title=None):
    """Per-class retention (kept / size) against class size, log-scaled sizes.

    Parameters
    ----------
    class_sizes : array-like of shape (n_classes,)
        Training shapes of each class (classes of size 0 are skipped).
    kept : dict of str -> array-like of shape (n_classes,)
        Selected shapes of each class, one series per selection.
    path : str or path
        Where the PNG goes.
    class_names : list of str, default=None
        Labels the smallest and the largest class.
    title : str, default=None

    Returns
    -------
    path : pathlib.Path

    Notes
    -----
    A selection that keeps the class prior is a flat line at B / n; a
    per-class floor (SGS with k > 0) raises the left end, where the tail
    classes are.

    Examples
    --------
    >>> import tempfile, os
    >>> p = plot_retention([100, 30, 10], {"sgs": [8, 6, 4]}, os.path.join(tempfile.mkdtemp(),
    ...                    "r.png"))
    >>> p.suffix
    '.png'
    """
    sizes = np.asarray(class_sizes, dtype=np.float64)
    present = sizes > 0
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    markers = "osD^v<>p*h"
    for i, (name, counts) in enumerate(kept.items()):
        counts = np.asarray(counts, dtype=np.float64)
        share = counts[present] / sizes[present]
        order = np.argsort(sizes[present])
        ax.plot(sizes[present][order], 100 * share[order], marker=markers[i % len(markers)],
                linewidth=1, markersize=4, label=f"{name} ({int(counts.sum())} kept)")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("class size (training shapes, log scale)")
    ax.set_ylabel("kept (% of the class)")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    if class_names is not None and present.any():
        idx = np.flatnonzero(present)
        for c in (idx[np.argmin(sizes[idx])], idx[np.argmax(sizes[idx])]):
            ax.annotate(str(class_names[c]), (sizes[c], 0), textcoords="offset points",
                        xytext=(0, 4), ha="center", fontsize=7, color="0.35")
    ax.legend(fontsize=8)
    ax.set_title(title or "Per-class retention against class size")
    return _save(fig, path)


def plot_per_class_accuracy(class_sizes, accuracies, path, *, class_names=None, title=None):
    """Per-class test accuracy of several models, classes ordered from largest to smallest.

    Parameters
    ----------
    class_sizes : array-like of shape (n_classes,)
        Training shapes of each class (sets the order, largest first).
    accuracies : dict of str -> array-like of shape (n_classes,)
        Per-class accuracy in [0, 1] of each model (None or NaN: no test
        shape), e.g. the teacher and the students.
    path : str or path
    class_names : list of str, default=None
    title : str, default=None

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> import tempfile, os
    >>> p = plot_per_class_accuracy([50, 5], {"teacher": [0.9, 0.8], "student": [0.85, 0.4]},
    ...                             os.path.join(tempfile.mkdtemp(), "a.png"))
    >>> p.name
    'a.png'
    """
    sizes = np.asarray(class_sizes)
    order = np.argsort(-sizes, kind="stable")
    names = [str(c) for c in (class_names if class_names is not None else range(len(sizes)))]
    n_models = max(1, len(accuracies))
    fig = _figure(max(6.4, 0.32 * len(sizes) * n_models / 2 + 2), 4.2)
    ax = fig.add_subplot()
    width = 0.8 / n_models
    x = np.arange(len(sizes))
    for i, (name, acc) in enumerate(accuracies.items()):
        acc = _as_float(acc)[order]
        mean = np.nanmean(acc) if np.isfinite(acc).any() else np.nan
        ax.bar(x + (i - (n_models - 1) / 2) * width, 100 * np.nan_to_num(acc), width,
               label=f"{name} (mAcc {100 * mean:.1f})")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{names[c]} ({sizes[c]})" for c in order], rotation=60, ha="right",
                       fontsize=7)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 119)  # room for the legend above the bars
    ax.set_yticks(range(0, 101, 20))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", ncol=min(3, n_models), frameon=False)
    ax.set_title(title or "Per-class accuracy (classes by training size, largest first)")
    return _save(fig, path)


def plot_tradeoff(points, path, *, references=None, connect=True, title=None):
    """Overall accuracy against mean class accuracy, one point per run (or per k).

    Parameters
    ----------
    points : list of (label, oa, macc)
        Accuracies in [0, 1], e.g. one per SGS ``k`` in order.
    path : str or path
    references : dict of str -> (oa, macc), default=None
        Drawn as stars (the full-data teacher, a random subset).
    connect : bool, default=True
        Join the points with a line (a steering curve).
    title : str, default=None

    Returns
    -------
    path : pathlib.Path

    References
    ----------
    .. [1] Exploring 3D Dataset Pruning, Figure 7 (the OA/mAcc trade-off of
       SGS as k varies).

    Examples
    --------
    >>> import tempfile, os
    >>> pts = [("k=0", 0.80, 0.70), ("k=0.4", 0.79, 0.74), ("k=1", 0.76, 0.75)]
    >>> plot_tradeoff(pts, os.path.join(tempfile.mkdtemp(), "t.png"),
    ...               references={"teacher": (0.9, 0.88)}).name
    't.png'
    """
    fig = _figure(6.4, 4.8)
    ax = fig.add_subplot()
    if points:
        macc = 100 * _as_float([p[2] for p in points])
        oa = 100 * _as_float([p[1] for p in points])
        ax.plot(macc, oa, "o-" if connect else "o", color="C0", markersize=5, linewidth=1)
        for (label, _, _), mx, oy in zip(points, macc, oa, strict=True):
            ax.annotate(label, (mx, oy), textcoords="offset points", xytext=(4, 4), fontsize=7)
    for i, (name, (r_oa, r_macc)) in enumerate((references or {}).items()):
        ax.plot(100 * r_macc, 100 * r_oa, "*", markersize=12, color=f"C{i + 1}",
                label=f"{name} ({100 * r_oa:.1f} / {100 * r_macc:.1f})")
    ax.set_xlabel("mAcc, mean class accuracy (%)")
    ax.set_ylabel("OA, overall accuracy (%)")
    ax.grid(True, alpha=0.3)
    if references:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "OA against mAcc")
    return _save(fig, path)
