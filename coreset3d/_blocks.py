"""Embeddings read in row blocks: ``numpy.memmap``, h5py and zarr arrays.

``BaseSelector.fit`` wraps such an array in :class:`RowBlocks` and validates
it one block at a time (shape, dtype, NaN and infinity), never reading it
whole. Selectors that can work block by block (``FacilityLocationRBF`` with
``similarity="knn"``, ``KCenterGreedy``, and ``SeededGlobalSelector`` over
them) receive the wrapper; the others receive the rows as one ndarray.
"""

import numpy as np

__all__ = ["RowBlocks", "is_out_of_core", "take_rows"]

#: Bytes of one row block (a module attribute: tests set it small).
BLOCK_BYTES = 64 * 2**20

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def is_out_of_core(X):
    """True for a ``numpy.memmap``, an h5py dataset or a zarr array (read in blocks)."""
    if isinstance(X, RowBlocks | np.memmap):
        return True
    if isinstance(X, np.ndarray):
        return False
    root = type(X).__module__.partition(".")[0]
    return root in ("h5py", "zarr") and hasattr(X, "shape") and hasattr(X, "dtype")


def take_rows(X, rows):
    """``X[rows]`` as an ndarray, for an ndarray or a :class:`RowBlocks`."""
    return X.take(rows) if isinstance(X, RowBlocks) else X[rows]


class RowBlocks:
    """A 2-D array-like read in blocks of rows, as float32 or float64.

    Parameters
    ----------
    source : numpy.memmap, ndarray, h5py.Dataset or zarr.Array
        The embeddings, one row per sample. Float32 and float64 are read as
        they are; other numeric dtypes are converted to float64 block by
        block.

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy.dtype
        The float dtype the blocks come in.
    abs_max : float or None
        Largest absolute value, known after :meth:`validate`.
    """

    ndim = 2

    def __init__(self, source):
        if isinstance(source, RowBlocks):
            source = source.source
        shape = tuple(int(s) for s in source.shape)
        if len(shape) != 2:
            raise ValueError(
                f"Expected 2D array, got {len(shape)}D array of shape {shape} instead; "
                "X must hold one row of embeddings per sample."
            )
        dtype = np.dtype(source.dtype)
        if dtype.kind not in "biuf":
            raise ValueError(
                f"X has dtype {dtype}; pass numeric embeddings (float32 or float64)."
            )
        self.source = source
        self.shape = shape
        self.dtype = dtype if dtype in _FLOATS else np.dtype(np.float64)
        self.abs_max = None

    def __len__(self):
        return self.shape[0]

    @property
    def block_rows(self):
        """Rows per block: ``BLOCK_BYTES`` worth, at least one."""
        return max(1, BLOCK_BYTES // max(1, self.shape[1] * self.dtype.itemsize))

    def read(self, start, stop):
        """Rows ``start:stop`` as a C-contiguous ndarray (a view of a float memmap)."""
        return np.ascontiguousarray(np.asarray(self.source[start:stop]), dtype=self.dtype)

    def blocks(self, block_rows=None):
        """Yield ``(start, block)`` over consecutive row blocks."""
        step = int(block_rows or self.block_rows)
        for start in range(0, self.shape[0], step):
            yield start, self.read(start, min(start + step, self.shape[0]))

    def take(self, rows):
        """The rows ``rows`` (any order, repeats allowed) as an ndarray."""
        rows = np.asarray(rows, dtype=np.intp).ravel()
        if rows.shape[0] == 0:
            return np.empty((0, self.shape[1]), dtype=self.dtype)
        unique, inverse = np.unique(rows, return_inverse=True)
        src = self.source
        if isinstance(src, np.ndarray):
            part = src[unique]
        elif hasattr(src, "oindex"):  # zarr: orthogonal selection
            part = src.oindex[unique, :]
        else:  # h5py: a list of increasing indices
            part = src[unique]
        return np.ascontiguousarray(np.asarray(part), dtype=self.dtype)[inverse]

    def validate(self):
        """Check every block for NaN and infinity; record ``abs_max``. Returns self."""
        if self.abs_max is not None:
            return self
        top = 0.0
        for start, block in self.blocks():
            bad = ~np.isfinite(block)
            if bad.any():
                row = start + int(np.flatnonzero(bad.any(axis=1))[0])
                kind = "NaN" if np.isnan(block).any() else "infinity"
                raise ValueError(
                    f"Input X contains {kind} (first in row {row}); remove or impute the "
                    "non-finite values before selecting."
                )
            if block.size:
                top = max(top, float(np.abs(block).max()))
        self.abs_max = top
        return self

    def to_array(self):
        """All rows as one ndarray (for selectors that need X in memory)."""
        out = np.empty(self.shape, dtype=self.dtype)
        for start, block in self.blocks():
            out[start : start + block.shape[0]] = block
        return out
