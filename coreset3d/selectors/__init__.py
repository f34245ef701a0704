"""Coreset selectors: one family per private module."""

from ._facility_location import FacilityLocationRBF

__all__ = ["FacilityLocationRBF"]
