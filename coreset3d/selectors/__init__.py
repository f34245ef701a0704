"""Coreset selectors: one family per private module."""

from ._baselines import CCS, CCSCP, NUCS, BalancedScore, DRoP, select_nucs_window
from ._facility_location import FacilityLocationRBF
from ._herding import Herding
from ._kcenter import KCenterGreedy
from ._random import RandomSelector, StratifiedSelector
from ._scalar import ScalarScore
from ._seeded import SeededGlobalSelector

__all__ = [
    "BalancedScore",
    "CCS",
    "CCSCP",
    "DRoP",
    "FacilityLocationRBF",
    "Herding",
    "KCenterGreedy",
    "NUCS",
    "RandomSelector",
    "ScalarScore",
    "SeededGlobalSelector",
    "StratifiedSelector",
    "select_nucs_window",
]
