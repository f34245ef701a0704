"""Which Dask scheduler runs the graph: a given Client, an address, or the local default."""

from contextlib import contextmanager

import dask

__all__ = ["compute", "connect"]


@contextmanager
def connect(client):
    """The Client to use: the one given, one connected to an address, or the default one.

    A Client connected here (from an address) is closed on exit; None stays
    None when no default Client is active (then :func:`compute` runs locally).
    """
    if not isinstance(client, str):
        yield client if client is not None else default_client()
        return
    from distributed import Client

    with Client(client, set_as_default=False) as connected:
        yield connected


def default_client():
    """The active default Client, or None."""
    try:
        from distributed import default_client as current

        return current()
    except (ImportError, ValueError):
        return None


def compute(obj, client):
    """Compute a delayed object on ``client``, or locally.

    Locally means the scheduler set with ``dask.config.set(scheduler=...)``
    where there is one, else the synchronous scheduler: the fits run one after
    another in this process, each on all cores through numba and BLAS (two
    fits in threads would only fight over the same cores).
    """
    if client is not None:
        return client.compute(obj).result()
    if dask.config.get("scheduler", None) is not None:  # the user's choice
        return dask.compute(obj)[0]
    return dask.compute(obj, scheduler="sync")[0]
