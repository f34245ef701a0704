"""Dask-array input: a ``.npy`` file read on the workers, and the checks fit applies."""

import math
import os
from numbers import Integral

import dask.array as da
import numpy as np
from dask import delayed

__all__ = ["check_dask_array", "from_npy", "is_dask_array"]

#: Default chunk size in bytes (dask's usual advice: 100 MB to 1 GB per chunk).
CHUNK_BYTES = 128 * 2**20


def from_npy(path, row_chunks=None):
    """Open a 2-D ``.npy`` file as a dask array of row chunks, each read where it is used.

    ``dask.array.from_array(np.load(path, mmap_mode="r"))`` would ship the
    whole memory map with the graph; here each chunk is a task that maps the
    file on its worker and copies its rows, so the file must be readable at
    the same path on every worker (a shared or replicated file system).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file holding a 2-D array.
    row_chunks : int, default=None
        Rows per chunk; None gives chunks of about 128 MiB.

    Returns
    -------
    X : dask.array.Array of shape (n_rows, n_features)
        In the file's dtype.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from coreset3d.distributed import from_npy
    >>> path = os.path.join(tempfile.mkdtemp(), "emb.npy")
    >>> np.save(path, np.arange(12, dtype=np.float32).reshape(6, 2))
    >>> X = from_npy(path, row_chunks=4)
    >>> X.chunks, X[3:5].compute().tolist()
    (((4, 2), (2,)), [[6.0, 7.0], [8.0, 9.0]])
    """
    path = os.fspath(path)
    header = np.load(path, mmap_mode="r")
    shape, dtype = header.shape, header.dtype
    del header
    if len(shape) != 2:
        raise ValueError(f"from_npy reads 2-D arrays; {path!r} holds shape {shape}.")
    if row_chunks is None:
        row_bytes = max(1, shape[1] * dtype.itemsize)
        row_chunks = max(1, CHUNK_BYTES // row_bytes)
    elif not isinstance(row_chunks, Integral) or isinstance(row_chunks, bool) or row_chunks < 1:
        raise ValueError(f"row_chunks must be an int >= 1 or None; got row_chunks={row_chunks!r}.")
    n_chunks = max(1, math.ceil(shape[0] / row_chunks))
    read = delayed(_read_rows, pure=True)
    pieces = []
    for i in range(n_chunks):
        start, stop = i * row_chunks, min(shape[0], (i + 1) * row_chunks)
        pieces.append(
            da.from_delayed(read(path, start, stop), shape=(stop - start, shape[1]), dtype=dtype)
        )
    return da.concatenate(pieces, axis=0)


def _read_rows(path, start, stop):
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def is_dask_array(X):
    """Whether ``X`` is a dask array (duck-typed: no import of dask needed by callers)."""
    return hasattr(X, "dask") and hasattr(X, "chunks")


def check_dask_array(X):
    """A 2-D float dask array with known chunk sizes, or a ValueError that says what to do."""
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D (samples x features); got a dask array of shape {X.shape}."
        )
    if any(math.isnan(c) for dim in X.chunks for c in dim):
        raise ValueError(
            "X is a dask array with unknown chunk sizes (nan in X.chunks), so its rows "
            "cannot be partitioned; call X = X.compute_chunk_sizes() before fit."
        )
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X is a dask array of shape {X.shape}; it holds no embeddings.")
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)
