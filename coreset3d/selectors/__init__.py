"""Coreset selectors: one family per private module."""

from ._facility_location import FacilityLocationRBF
from ._herding import Herding
from ._kcenter import KCenterGreedy

__all__ = ["FacilityLocationRBF", "Herding", "KCenterGreedy"]
