"""Coreset selection spread over a Dask cluster (optional extra).

:class:`DistributedSelector` runs any coreset3d selector as partitioned
two-round greedy (GreeDi) on Dask workers; :func:`from_npy` opens a ``.npy``
file as a dask array whose chunks are read where they are processed.

Install with ``pip install "coreset3d[distributed]"``. ``import coreset3d``
never imports Dask; only this subpackage does.
"""

try:
    import dask as _dask  # noqa: F401
    import dask.array as _dask_array  # noqa: F401
    import distributed as _distributed  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"coreset3d.distributed needs Dask with its array and distributed parts ({exc}); "
        'install them with pip install "coreset3d[distributed]".'
    ) from exc

from ._io import from_npy
from ._selector import DistributedSelector

__all__ = ["DistributedSelector", "from_npy"]
