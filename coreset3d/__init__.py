"""coreset3d: class-aware coreset selection for long-tailed 3D shape datasets.

The selectors are scikit-learn estimators over samples: ``fit(X, y)`` picks
rows of an embedding matrix, ``transform(X)`` returns them. The torch side
(teacher, embeddings, calibrated KD + RKD student) lives in the optional
:mod:`coreset3d.torch` and is never imported from here.
"""

__version__ = "0.1.0.dev0"

from .base import BaseSelector
from .selectors import *  # noqa: F403  (re-exported with selectors.__all__)
from .selectors import __all__ as _selectors_all

__all__ = ["BaseSelector", *_selectors_all, "__version__"]
