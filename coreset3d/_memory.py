"""Process-wide allocator setting that speeds up CPU training (private; public as
coreset3d.torch.keep_freed_memory, and used by the coreset3d command without torch)."""

import ctypes
import ctypes.util

# <malloc.h>: mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Buffers up to this size come from the heap and are reused; glibc's cap.
_MMAP_THRESHOLD = 32 * 2**20


def keep_freed_memory():
    """Ask glibc's malloc to keep memory it frees for reuse, for this whole process.

    Every CPU training step frees and allocates the same activation buffers.
    With glibc's default settings the large ones are unmapped and mapped
    again, so each step page-faults on them anew: about 20,000 faults a step
    for the grid's PointNet student, which on our 2-core VM cost a quarter of
    its training time (2 epochs on 800 clouds: 3.74 s an epoch with the
    defaults, 2.80 s with this; ``benchmarks/accuracy/run_grid.py``). It does
    what ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` in the
    environment do, from inside a running process; numbers do not change, the
    process keeps its peak memory instead of returning it.

    It changes the allocator of the whole process and cannot be undone, so
    the library never calls it on its own: the ``coreset3d`` command does, and
    a training script may.

    Returns
    -------
    applied : bool
        False where the C library has no ``mallopt`` (not glibc: macOS,
        Windows, musl), where nothing changes.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
