"""Where a run reports (stage lines, final tables, progress bars) and its torch threads."""

import json
import os
import sys
import threading
from contextlib import contextmanager

import numpy as np


class Console:
    """Where a run reports: stage lines, final tables, progress bars.

    Stage lines go to stdout, or to stderr with ``json_mode`` (stdout then
    holds only the JSON); ``quiet`` drops stage lines and progress bars.
    """

    def __init__(self, quiet=False, json_mode=False, stdout=None, stderr=None):
        self.quiet = bool(quiet)
        self.json_mode = bool(json_mode)
        self._stdout = stdout
        self._stderr = stderr

    @property
    def progress(self):
        """Whether to show tqdm bars."""
        return not self.quiet

    def _stream(self, final):
        out = self._stdout or sys.stdout
        err = self._stderr or sys.stderr
        if self.json_mode:
            return err
        return out if final or not self.quiet else None

    def stage(self, name, text, seconds=None):
        """One line per finished stage: ``[name] text (12.3 s)``."""
        if self.quiet:
            return
        stream = self._stream(False)
        tail = "" if seconds is None else f"  ({_fmt_s(seconds)})"
        print(f"[{name}] {text}{tail}", file=stream, flush=True)

    def result(self, text):
        """Final results: stdout (stderr in JSON mode)."""
        if self.json_mode and self.quiet:
            return
        print(text, file=self._stream(True), flush=True)

    def emit_json(self, obj):
        """The JSON document on stdout (JSON mode only)."""
        if self.json_mode:
            print(json.dumps(obj, indent=2), file=self._stdout or sys.stdout, flush=True)


def _fmt_s(seconds):
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def pct(value):
    return "  n/a" if value is None or not np.isfinite(value) else f"{100 * value:5.1f}"


@contextmanager
def _elapsed_bar(desc, enabled):
    """A tqdm line that shows the elapsed time of a step that reports no progress itself.

    The selectors' greedy loops run in numba with the GIL released, so a
    thread can refresh the line once a second. Without tqdm, nothing is shown.
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:
        enabled = False
    if not enabled:
        yield
        return
    stop = threading.Event()
    bar = tqdm(desc=desc, bar_format="{desc}: {elapsed} elapsed", leave=False)

    def tick():
        while not stop.wait(1.0):
            bar.refresh()

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
        bar.close()


@contextmanager
def _torch_threads(threads):
    """Set torch's CPU threads for a run (None: half the cores) and restore them after."""
    import torch

    before = torch.get_num_threads()
    if threads is None:
        half = max(1, (os.cpu_count() or 2) // 2)
        threads = before if os.environ.get("OMP_NUM_THREADS") else half
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)


def json_list(values):
    return [None if v is None or not np.isfinite(v) else float(v) for v in np.asarray(values)]
