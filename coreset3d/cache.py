"""A content-addressed cache for expensive artifacts (trained models, embeddings, scores).

An artifact is named by a *kind* (a folder, e.g. ``"teacher"``) and a *key*,
the :func:`content_hash` of everything it was computed from: the input arrays
and a configuration dict. The same data and settings give the same key, so a
later run (the benchmarks, the pipeline, a rerun after a crash) finds the
result instead of recomputing it; any change to the data or the settings
gives a new key and a fresh computation. Every write goes to a temporary file
first and is moved into place with :func:`os.replace`, so an interrupted run
never leaves a half-written artifact under its final name.

This module imports numpy only; torch is imported when a torch artifact is
read or written.
"""

import hashlib
import json
import os
import re
import tempfile
import warnings
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np

__all__ = ["content_hash", "ArtifactCache", "default_cache_dir"]

_CHUNK = 1 << 24  # 16 MiB per hashlib update
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_FORMATS = {"npz": ".npz", "torch": ".pt", "json": ".json"}


def _canonical(value, where):
    """A JSON-serialisable, order-independent form of a config value."""
    if is_dataclass(value) and not isinstance(value, type):
        return _canonical(asdict(value), where)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"config keys must be str, got {k!r} in {where}.")
            out[k] = _canonical(v, f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not np.isfinite(value):
            return repr(value)  # JSON has no NaN/inf; repr keeps them distinct
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(
        f"config value {where} has type {type(value).__name__}; content_hash takes str, "
        "numbers, bool, None, paths, lists, dicts and dataclasses of those (pass arrays "
        "positionally)."
    )


def _hash_array(h, index, array):
    arr = np.asarray(array)
    if arr.dtype.hasobject:
        raise TypeError(
            f"array {index} passed to content_hash has dtype object; pass numeric arrays "
            "(object arrays have no stable byte content)."
        )
    arr = np.ascontiguousarray(arr)
    header = json.dumps({"i": index, "dtype": arr.dtype.str, "shape": list(arr.shape)})
    h.update(header.encode())
    view = memoryview(arr.reshape(-1)).cast("B") if arr.size else memoryview(b"")
    for start in range(0, len(view), _CHUNK):
        h.update(view[start:start + _CHUNK])


def content_hash(*arrays, **config):
    """SHA-256 key of some arrays and a configuration.

    Parameters
    ----------
    *arrays : array-like
        Numeric arrays (numpy, or anything ``np.asarray`` reads); their bytes,
        dtype and shape all enter the hash, in order.
    **config
        Settings: str, numbers, bool, None, paths, and lists, dicts or
        dataclasses of those. Key order does not matter.

    Returns
    -------
    key : str
        64 hexadecimal characters.

    Notes
    -----
    O(total bytes); arrays are hashed in 16 MiB chunks of a zero-copy view
    (one contiguous copy for a non-contiguous array). ``1`` and ``1.0`` give
    different keys, as do float32 and float64 arrays of the same values.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6, dtype=np.float32)
    >>> content_hash(a, epochs=10) == content_hash(a.copy(), epochs=10)
    True
    >>> content_hash(a, epochs=10) == content_hash(a, epochs=11)
    False
    >>> len(content_hash(a))
    64
    """
    h = hashlib.sha256(b"coreset3d.content_hash.v1\0")
    h.update(str(len(arrays)).encode() + b"\0")
    for i, array in enumerate(arrays):
        _hash_array(h, i, array)
    canonical = _canonical(config, "config")
    h.update(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


def default_cache_dir():
    """``$CORESET3D_CACHE`` when set, else ``~/.cache/coreset3d``."""
    env = os.environ.get("CORESET3D_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "coreset3d"


def _check_name(value, what):
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"{what} must be a non-empty name of letters, digits, '_', '-' or '.' (no path "
            f"separator), got {value!r}; use content_hash(...) for keys."
        )
    return value


class ArtifactCache:
    """A folder of artifacts addressed by ``(kind, key)``.

    Files live at ``root/<kind>/<key><ext>``: ``.npz`` for dicts of arrays,
    ``.pt`` for torch objects, ``.json`` for reports; ``path(kind, key)``
    without an extension names a folder for multi-file artifacts (e.g. a
    training checkpoint directory).

    Parameters
    ----------
    root : str or path-like, default=None
        The cache folder, created on first write. None uses
        :func:`default_cache_dir` (``$CORESET3D_CACHE`` or
        ``~/.cache/coreset3d``).

    Attributes
    ----------
    root : pathlib.Path
        The resolved cache folder.

    See Also
    --------
    content_hash : the key of an artifact's inputs.

    Notes
    -----
    Writes are atomic (a temporary file in the same folder, then
    :func:`os.replace`): a reader sees the old artifact or the new one, never
    part of one, and a run killed mid-write leaves only a ``.tmp`` file that
    the next write of the same artifact replaces. Concurrent processes
    computing the same artifact both succeed; the last one to finish wins.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> cache = ArtifactCache(tempfile.mkdtemp())
    >>> key = content_hash(np.arange(3), step="square")
    >>> out = cache.get_or_compute("demo", key, lambda: {"sq": np.arange(3) ** 2})
    >>> out["sq"].tolist(), cache.exists("demo", key, "npz")
    ([0, 1, 4], True)
    >>> cache.get_or_compute("demo", key, lambda: 1 / 0)["sq"].tolist()  # a hit: fn not called
    [0, 1, 4]
    """

    def __init__(self, root=None):
        self.root = default_cache_dir() if root is None else Path(os.fspath(root)).expanduser()

    def __repr__(self):
        return f"ArtifactCache({str(self.root)!r})"

    def path(self, kind, key, fmt=None):
        """Where the artifact ``(kind, key)`` lives.

        Parameters
        ----------
        kind, key : str
            Names of letters, digits, ``_``, ``-`` and ``.``.
        fmt : {"npz", "torch", "json"} or None, default=None
            The file format, which sets the extension; None names a folder.

        Returns
        -------
        path : pathlib.Path
            ``root/kind/key`` plus the format's extension. Nothing is created.
        """
        _check_name(kind, "kind")
        _check_name(key, "key")
        if fmt is None:
            return self.root / kind / key
        if fmt not in _FORMATS:
            raise ValueError(f"fmt must be one of {sorted(_FORMATS)} or None, got {fmt!r}.")
        return self.root / kind / (key + _FORMATS[fmt])

    def exists(self, kind, key, fmt=None):
        """Whether the artifact (file, or folder when ``fmt`` is None) is present."""
        return self.path(kind, key, fmt).exists()

    def _write(self, target, writer):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                writer(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; artifacts are readable like any file
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return target

    def save_npz(self, kind, key, arrays):
        """Write a dict of arrays as ``root/kind/key.npz`` (uncompressed), atomically.

        Returns the path. Values must be numeric or string arrays (no pickled
        objects).
        """
        if not isinstance(arrays, dict) or not all(isinstance(k, str) for k in arrays):
            raise TypeError(
                f"arrays must be a dict of str -> array, got {type(arrays).__name__}."
            )
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        bad = [k for k, v in arrays.items() if v.dtype.hasobject]
        if bad:
            raise TypeError(f"arrays {bad} have dtype object; save_npz stores numeric arrays.")
        return self._write(self.path(kind, key, "npz"), lambda fh: np.savez(fh, **arrays))

    def load_npz(self, kind, key):
        """Read ``root/kind/key.npz`` into a dict of arrays (FileNotFoundError when absent)."""
        with np.load(self.path(kind, key, "npz"), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def save_torch(self, kind, key, obj):
        """Write ``obj`` with ``torch.save`` as ``root/kind/key.pt``, atomically; return path."""
        import torch

        return self._write(self.path(kind, key, "torch"), lambda fh: torch.save(obj, fh))

    def load_torch(self, kind, key, *, map_location="cpu", weights_only=True):
        """Read ``root/kind/key.pt`` with ``torch.load`` (tensors, containers, numbers, str).

        ``weights_only=True`` refuses pickled code; store ``state_dict()`` and
        rebuild the module rather than saving the module itself.
        """
        import torch

        return torch.load(self.path(kind, key, "torch"), map_location=map_location,
                          weights_only=weights_only)

    def save_json(self, kind, key, obj):
        """Write a JSON-serialisable object as ``root/kind/key.json``, atomically."""
        text = json.dumps(obj, indent=2, sort_keys=True)
        return self._write(self.path(kind, key, "json"), lambda fh: fh.write(text.encode()))

    def load_json(self, kind, key):
        """Read ``root/kind/key.json``."""
        return json.loads(self.path(kind, key, "json").read_text(encoding="utf-8"))

    def get_or_compute(self, kind, key, fn, fmt="npz"):
        """Load the artifact, or compute it with ``fn()``, save it and return it.

        Parameters
        ----------
        kind, key : str
            The artifact's address (``key`` usually from :func:`content_hash`).
        fn : callable
            Called with no argument on a miss; returns a dict of arrays for
            ``"npz"``, anything ``torch.save`` takes for ``"torch"`` or a
            JSON-serialisable object for ``"json"``.
        fmt : {"npz", "torch", "json"}, default="npz"

        Returns
        -------
        value
            What was stored: on a miss the value is read back from the file
            just written, so hits and misses return the same types (numpy
            arrays for npz, lists for JSON tuples).

        Notes
        -----
        An unreadable file (written by something else, or damaged on disk)
        is recomputed with a warning rather than raising.
        """
        if fmt not in _FORMATS:
            raise ValueError(f"fmt must be one of {sorted(_FORMATS)}, got {fmt!r}.")
        if not callable(fn):
            raise TypeError(f"fn must be a callable taking no argument, got {fn!r}.")
        load = {"npz": self.load_npz, "torch": self.load_torch, "json": self.load_json}[fmt]
        save = {"npz": self.save_npz, "torch": self.save_torch, "json": self.save_json}[fmt]
        target = self.path(kind, key, fmt)
        if target.exists():
            try:
                return load(kind, key)
            except Exception as exc:  # noqa: BLE001 - any unreadable file is recomputed
                warnings.warn(f"cached artifact {target} is unreadable ({exc}); recomputing it.",
                              RuntimeWarning, stacklevel=2)
        save(kind, key, fn())
        return load(kind, key)
