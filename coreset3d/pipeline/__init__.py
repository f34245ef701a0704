"""The end-to-end 3D-Pruner run, built only from the public pieces of coreset3d.

One :func:`run` goes::

    data -> teacher (train, calibrate, embed, score; cached)
         -> selection (any selector by name; SGS on FL-RBF with k = 0.4 by default)
         -> student (KD + RKD from the calibrated teacher, the selector's weights)
         -> OA, mAcc and per-class accuracy on the test split
         -> results.json, report.md and plots

and trains a student on a random subset of the same size next to it, as the
reference every selector has to beat. :func:`sweep` steers SGS's ``k`` over a
list (the paper's Figure 7), :func:`select_embeddings` runs a selector alone on
the user's own embeddings, and :func:`compare_runs` puts several runs side by
side. The command line (:mod:`coreset3d.cli`) is a thin shell over these.

Everything expensive is stored in an :class:`~coreset3d.cache.ArtifactCache`
under the content hash of its inputs: the teacher, its calibrated head, the
embeddings, logits and scores (by :func:`coreset3d.torch.prepare_teacher`), each
selection, and each trained student. A second run with another selector or
``k`` reuses the teacher; a killed run resumes from the last epoch checkpoint
of whichever network it was training.

Only the torch stages import torch, so :func:`select_embeddings` and
:func:`compare_runs` work without the optional extra.
"""

from ._config import DATASETS, DEFAULT_KS, RunConfig
from ._config import MODELS as MODELS
from ._config import normalize_keys as normalize_keys
from ._console import Console as Console
from ._data import load_data, validation_split
from ._embeddings_io import load_embeddings
from ._report import compare_runs
from ._run import run
from ._select import SELECTORS, TARGET_PRIORS, SelectorSpec, make_selector
from ._selection import select_embeddings, write_selection
from ._selection import selection_table as selection_table
from ._sweep import sweep

__all__ = [
    "RunConfig",
    "SelectorSpec",
    "SELECTORS",
    "DATASETS",
    "DEFAULT_KS",
    "TARGET_PRIORS",
    "make_selector",
    "load_data",
    "validation_split",
    "run",
    "sweep",
    "load_embeddings",
    "select_embeddings",
    "write_selection",
    "compare_runs",
]
# Also public, outside __all__ as before the split: MODELS, normalize_keys, Console and
# selection_table (coreset3d.cli and the tests use them).
