"""Keep freed memory in the process for the next training step (glibc's malloc on Linux).

A training step allocates its activations and gradients, megabytes each, and frees them all at
its end. glibc's malloc hands blocks above its mmap threshold straight back to the kernel, and
trims the top of its heap once more than a few megabytes there are free: so every step asks the
kernel for the same memory again, and the kernel zeroes it page by page. On the demo's training
steps that was 1,800-9,100 page faults per step (svg, crossconv, vgan), and 1.02-1.19x of their
time (one thread, this 2-core machine; ``benchmarks/bench_allocator.py``). Raising the mmap
threshold to its largest value (32 MiB on 64 bit) and the trim threshold to 1 GiB keeps such
blocks in the heap for reuse; a process's resident memory then stays at its peak instead of
falling between steps. Numbers are untouched: this only changes where memory comes from.

Other platforms and C libraries (macOS, musl) keep their own allocator's behaviour.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameters (glibc's malloc.h)."""
MMAP_THRESHOLD = 32 * 2**20
"""glibc's largest mmap threshold on 64-bit (HEAP_MAX_SIZE / 2): blocks above it are always mapped afresh."""
TRIM_THRESHOLD = 2**30
"""Free memory the heap's top may hold before glibc gives it back to the kernel."""


def keep_freed_memory() -> bool:
    """Set glibc's thresholds so freed blocks up to 32 MiB are reused; False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # another C library
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(option, value) == 1
               for option, value in ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
