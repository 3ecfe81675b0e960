"""Keep freed memory in the process for the next training step (glibc's malloc on Linux).

A training step allocates its activations and gradients, megabytes each, and frees them all at
its end. glibc's malloc hands blocks above its mmap threshold straight back to the kernel, and
trims the top of its heap once more than a few megabytes there are free: so every step asks the
kernel for the same memory again, and the kernel zeroes it page by page. On the demo's training
steps that was 1,800-9,100 page faults per step (svg, crossconv, vgan), and 1.02-1.19x of their
time (one thread, this 2-core machine; ``benchmarks/bench_allocator.py``). Raising the mmap
threshold to its largest value (32 MiB on 64 bit) and the trim threshold to 1 GiB keeps such
blocks in the heap for reuse.

Blocks above 32 MiB are still mapped afresh at every allocation whatever the threshold: at the
paper preset they are most of a step's memory (svg's SM-MNIST model at batch 100 encodes 1,500
frames at once, 393 MB per activation of its first layer). There the step took 3.0 million page
faults and 5.3-5.7 s of system time in a 14-s step (two threads). Allowing no mapped blocks at all
(``M_MMAP_MAX`` 0) takes every block from the heap, so those are reused too: 93,213 faults, 0.14 s
of system time, 11.6 s per step.
The heap grows with ``brk`` (glibc maps memory only if that fails) and gives back its top above
the trim threshold. A process's resident memory then stays near its peak instead of falling
between steps. Numbers are untouched: this only changes where memory comes from.

Other platforms and C libraries (macOS, musl) keep their own allocator's behaviour.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
"""``mallopt`` parameters (glibc's malloc.h)."""
MMAP_THRESHOLD = 32 * 2**20
"""glibc's largest mmap threshold on 64-bit (HEAP_MAX_SIZE / 2): blocks above it are mapped afresh while
``M_MMAP_MAX`` allows any mapped block."""
TRIM_THRESHOLD = 2**30
"""Free memory the heap's top may hold before glibc gives it back to the kernel."""
MMAP_MAX = 0
"""Blocks malloc may map at once: none, so blocks above the threshold come from the heap too."""
THRESHOLDS: tuple[tuple[int, int], ...] = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD))
"""The thresholds alone (blocks above 32 MiB still mapped afresh): what jobs set before stop 46."""
SETTINGS: tuple[tuple[int, int], ...] = (*THRESHOLDS, (M_MMAP_MAX, MMAP_MAX))
"""What ``keep_freed_memory`` sets: the thresholds and no mapped blocks."""


def keep_freed_memory() -> bool:
    """Set glibc's malloc so freed blocks of any size are reused; False where there is no glibc."""
    return set_malloc_options(SETTINGS)


def set_malloc_options(settings: tuple[tuple[int, int], ...]) -> bool:
    """``mallopt`` each (parameter, value); False where there is no glibc or one is refused."""
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
    return all(mallopt(option, value) == 1 for option, value in settings)
