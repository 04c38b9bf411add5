"""Dask worker set-up, imported only when a Dask executor runs (importing distributed costs ~0.5 s).

Why it exists: Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``). Setting any malloc tunable turns off glibc's dynamic mmap
threshold, so every allocation over 128 KiB (each torch/numpy temporary of an image) becomes a fresh
mmap whose pages fault in and are returned at free: measured on kodim01, pytorch-msssim took 421 ms CPU
and 140 000 minor page faults per call in a Dask worker against 110-123 ms and ~4 000 faults in a
process-pool worker. Restoring a large mmap/trim threshold brings the worker back to the pool's cost.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from distributed.diagnostics.plugin import WorkerPlugin

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's own ceiling for the dynamic mmap threshold on 64-bit systems (4 MiB · sizeof(long)).
MMAP_THRESHOLD = 32 * 2**20


def restore_malloc_reuse() -> bool:
    """Let glibc keep freed memory for reuse (what it does by default) when malloc env tunables disabled it.

    Returns True when the thresholds were set; False where there is nothing to undo or no glibc."""
    if not any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): no such tunables
        return False


class WorkerSetup(WorkerPlugin):
    """Runs on every worker, including ones the nanny restarts later (client.run reaches only current ones)."""

    name = "lic-bench-worker-setup"

    def __init__(self, initializer=None, threads: int = 1):
        self.initializer = initializer
        self.threads = threads

    def setup(self, worker) -> None:
        restore_malloc_reuse()
        if self.initializer:
            self.initializer(self.threads)
