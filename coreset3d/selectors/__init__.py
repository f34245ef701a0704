"""Coreset selectors: one family per private module."""

__all__ = []
