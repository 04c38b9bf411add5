"""glibc's malloc, told to keep freed memory in processes that run jobs.

Why: a job makes many temporaries of one to a few megabytes (image-sized float arrays in colour
conversion, metrics, codecs). By default glibc serves each with a fresh mmap or hands the freed top of
its heap back to the system, so the pages fault in again on every use. On kodim01, one thread: MS-SSIM
34 -> 22 ms, the RGB<->YCbCr round trip 24 -> 7 ms once freed memory is kept. Dask's nanny makes it worse
still (it starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also turns glibc's adaptive
threshold off): pytorch-msssim took 421 ms and 140 000 page faults per call there against ~115 ms.

The settings below keep blocks under 32 MiB in the heap and free memory at its top up to 64 MiB: a
worker holds at most that much more memory. ``LIC_BENCH_MALLOC=default`` leaves glibc as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's own ceiling for its adaptive mmap threshold on 64-bit systems (4 MiB · sizeof(long))
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
OPT_OUT_ENV = "LIC_BENCH_MALLOC"

_done = False


def keep_freed_memory() -> bool:
    """Set the thresholds for this process (once; later calls are free). True when they are set; False
    where glibc is absent (musl, macOS, Windows) or ``LIC_BENCH_MALLOC=default`` asks to leave it."""
    global _done
    if _done:
        return True
    if os.environ.get(OPT_OUT_ENV, "").lower() == "default":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # a C library without mallopt
        return False
    return _done
