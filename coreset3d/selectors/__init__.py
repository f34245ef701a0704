"""Coreset selectors: one family per private module."""

from ._facility_location import FacilityLocationRBF
from ._herding import Herding
from ._kcenter import KCenterGreedy
from ._random import RandomSelector, StratifiedSelector
from ._scalar import ScalarScore
from ._seeded import SeededGlobalSelector

__all__ = [
    "FacilityLocationRBF",
    "Herding",
    "KCenterGreedy",
    "RandomSelector",
    "ScalarScore",
    "SeededGlobalSelector",
    "StratifiedSelector",
]
