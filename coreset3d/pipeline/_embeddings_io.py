"""Reading the user's own embeddings, labels, scores and recall (``.npy``, ``.npz``,
``.csv``, ``.h5``) for ``coreset3d select``."""

import json
from pathlib import Path

import numpy as np

_X_KEYS = ("X", "embeddings", "x", "features", "data")
_Y_KEYS = ("y", "labels", "label", "targets")


class _InputError(ValueError):
    """A problem with the user's file found by our own checks (passed through as is)."""


def _pick_key(available, wanted, defaults, what, path):
    if wanted is not None:
        if wanted not in available:
            raise _InputError(
                f"{path} has no {what} named {wanted!r}; it holds {sorted(available)}."
            )
        return wanted
    for key in defaults:
        if key in available:
            return key
    return None


def _existing_file(path, what):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist.")
    return path


def _read_labels_file(path):
    path = _existing_file(path, "labels")
    try:
        if path.suffix == ".npy":
            y = np.load(path, allow_pickle=False)
        else:
            y = np.loadtxt(path, dtype=str, delimiter=",", ndmin=1)
            y = _maybe_numeric(y)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"could not read labels from {path} ({exc}); pass a .npy array or a "
                         "text file with one label per line.") from exc
    return np.asarray(y).reshape(-1) if np.asarray(y).ndim == 2 and 1 in np.shape(y) else y


def _maybe_numeric(values):
    values = np.asarray(values)
    try:
        as_int = values.astype(np.int64)
        if np.all(as_int.astype(str) == np.char.strip(values)):
            return as_int
    except ValueError:
        pass
    return np.char.strip(values)


def _read_csv(path, label_column):
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        frame = pd.read_csv(path)
        header = not all(_looks_numeric(c) for c in frame.columns)
        if not header:
            frame = pd.read_csv(path, header=None)
        columns = [str(c) for c in frame.columns]
        frame.columns = columns
        col = _label_col(columns, label_column, path)
        y = frame[col].to_numpy()
        X = frame.drop(columns=[col])
        bad = [c for c in X.columns if not np.issubdtype(X[c].dtype, np.number)]
        if bad:
            raise _InputError(f"{path}: columns {bad[:5]} are not numeric; every column but the "
                             "label must hold numbers.")
        return X.to_numpy(), y
    rows = np.loadtxt(path, dtype=str, delimiter=",", ndmin=2)
    header = not all(_looks_numeric(c) for c in rows[0])
    columns = [str(c) for c in rows[0]] if header else [str(i) for i in range(rows.shape[1])]
    body = rows[1:] if header else rows
    col = columns.index(_label_col(columns, label_column, path))
    X = np.delete(body, col, axis=1).astype(np.float64)
    return X, _maybe_numeric(body[:, col])


def _looks_numeric(text):
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _label_col(columns, label_column, path):
    if label_column is None:
        return columns[-1]
    name = str(label_column)
    if name in columns:
        return name
    if name.lstrip("-").isdigit() and -len(columns) <= int(name) < len(columns):
        return columns[int(name)]
    raise _InputError(f"--label-column {label_column!r} is not a column of {path}; its columns "
                     f"are {columns[:10]}{'...' if len(columns) > 10 else ''}.")


def _h5_to_array(dataset, dtype):
    """Copy an h5py dataset into memory in row chunks, converting as it goes."""
    out = np.empty(dataset.shape, dtype=dtype)
    step = max(1, (64 << 20) // max(1, int(np.prod(dataset.shape[1:])) * 8))
    for start in range(0, dataset.shape[0], step):
        out[start:start + step] = dataset[start:start + step]
    return out


def load_embeddings(path, *, labels=None, label_column=None, x_key=None, y_key=None):
    """Read embeddings (and labels) from ``.npy``, ``.npz``, ``.csv`` or ``.h5``.

    Parameters
    ----------
    path : str or path
        ``.npy``: an (n, d) array (memory-mapped while read). ``.npz``: keys
        ``X`` or ``embeddings``, and ``y`` or ``labels``. ``.csv``: one row
        per sample; the last column (or ``label_column``) holds the labels;
        a header row is detected. ``.h5``/``.hdf5``: datasets ``x_key`` and
        ``y_key`` (default: ``X``/``embeddings``, ``y``/``labels``), read
        in chunks without loading anything else in the file.
    labels : str or path, default=None
        A separate labels file (``.npy``, or text with one label per line);
        overrides labels found in ``path``.
    label_column : str or int, default=None
        CSV only: the label column, by name or position.
    x_key, y_key : str, default=None
        NPZ and HDF5: the names of the embeddings and labels.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float32 stays float32, float64 stays float64, other numbers become
        float64.
    y : ndarray of shape (n_samples,) or None

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        An unknown format, an unreadable or corrupt file, a missing key, a
        non-2-D or non-finite array, or labels of another length.
    """
    path = _existing_file(path, "embeddings")
    suffix = path.suffix.lower()
    y = None
    try:
        if suffix == ".npy":
            X = np.load(path, mmap_mode="r", allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                xk = _pick_key(data.files, x_key, _X_KEYS, "embeddings array", path)
                if xk is None:
                    raise _InputError(f"{path} has no embeddings array; it holds {data.files}. "
                                     "Name it X or embeddings, or pass --x-key.")
                X = data[xk]
                yk = _pick_key(data.files, y_key, _Y_KEYS, "labels array", path)
                y = None if yk is None else data[yk]
        elif suffix == ".csv":
            X, y = _read_csv(path, label_column)
        elif suffix in (".h5", ".hdf5"):
            try:
                import h5py
            except ImportError as exc:
                raise ImportError("reading .h5 embeddings needs h5py: pip install h5py") from exc
            with h5py.File(path, "r") as fh:
                names = [k for k in fh if isinstance(fh[k], h5py.Dataset)]
                xk = _pick_key(names, x_key, _X_KEYS, "dataset", path)
                if xk is None:
                    raise _InputError(f"{path} has no embeddings dataset; it holds {names}. "
                                     "Pass --x-key NAME.")
                ds = fh[xk]
                dtype = ds.dtype if ds.dtype in (np.float32, np.float64) else np.float64
                X = _h5_to_array(ds, dtype)
                yk = _pick_key(names, y_key, _Y_KEYS, "dataset", path)
                if yk is not None:
                    y = fh[yk][()]
                    if y.dtype.kind in "SO":
                        y = np.char.decode(y.astype(bytes), "utf-8")
        else:
            raise _InputError(
                f"{path} has an unknown extension {suffix!r}; pass a .npy, .npz, .csv or .h5 file."
            )
    except (_InputError, ImportError):
        raise
    except Exception as exc:  # noqa: BLE001 - zip, pickle, h5 and OS errors of corrupt files
        raise _InputError(
            f"could not read embeddings from {path} ({type(exc).__name__}: {exc}); the file is "
            f"corrupt or not a {suffix} file."
        ) from exc
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        if not np.issubdtype(X.dtype, np.number):
            raise _InputError(f"embeddings in {path} have dtype {X.dtype}; expected numbers.")
        X = X.astype(np.float64)
    else:
        X = np.ascontiguousarray(X)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise _InputError(f"embeddings in {path} must be a 2-D array (n_samples, n_features); "
                         f"got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise _InputError(f"embeddings in {path} contain NaN or infinite values; drop or fix "
                         "those rows.")
    if labels is not None:
        y = _read_labels_file(labels)
    if y is not None:
        y = np.asarray(y).reshape(-1) if np.asarray(y).ndim > 1 else np.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise _InputError(f"there are {y.shape[0]} labels for {X.shape[0]} rows of "
                             "embeddings; pass one label per row.")
    return X, y


def read_vector(path, what, n=None):
    path = _existing_file(path, what)
    try:
        if path.suffix == ".npy":
            v = np.load(path, allow_pickle=False)
        elif path.suffix == ".json":
            v = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(v, dict):
                return v
        else:
            v = np.loadtxt(path, delimiter=",", ndmin=1)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"could not read {what} from {path} ({exc}).") from exc
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if n is not None and v.shape[0] != n:
        raise ValueError(f"{what} in {path} has {v.shape[0]} values; expected {n}.")
    return v
