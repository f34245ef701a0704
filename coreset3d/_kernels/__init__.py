"""Numba kernels. Only numpy and numba are imported here: no validation, no sklearn.

Every kernel takes contiguous arrays and fills its output in place; every kernel
has a pure-numpy twin in ``tests/test_kernels.py``.
"""
