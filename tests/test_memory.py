"""keep_freed_memory: glibc's malloc keeps freed buffers; elsewhere nothing changes."""

import ctypes.util
import platform
import subprocess
import sys

import pytest

from coreset3d._memory import keep_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_applies_on_glibc():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # a second call is harmless


def test_no_mallopt_is_false_not_an_error(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libno-such-libc.so.404")
    assert keep_freed_memory() is False


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_freed_buffers_are_reused_instead_of_faulted_in_again():
    # Three 1 MiB buffers allocated, touched and freed, 20 times over (a training
    # step's pattern in small). With glibc's defaults the freed heap top is handed
    # back and every round faults its pages in again; with the setting it stays.
    code = """
import resource, sys
import numpy as np
if sys.argv[1] == "on":
    from coreset3d._memory import keep_freed_memory
    assert keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    bufs = [np.ones(2**20 // 8) for _ in range(3)]
    del bufs
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    faults = {}
    for mode in ("off", "on"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True,
                             check=True)
        faults[mode] = int(out.stdout.strip())
    pages = 3 * 2**20 // 4096  # one round's pages
    assert faults["off"] > 5 * pages  # measured: about 13 rounds' worth
    assert faults["on"] < 2 * pages  # measured: the first round only
