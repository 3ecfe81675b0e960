"""How every job that runs a network sets up torch on the CPU: its threads, denormals flushed, and
freed memory kept for the next step (``pipeline.allocator``).

As a network trains, some activations and gradients fall below float32's smallest normal number
(1.2e-38). x86 CPUs compute with such denormal numbers through a slow microcode path: svg's KTH
model at step 900 of 1,500 trained at 1.33 steps/s against 3.5 at step 0, and at 3.5 again, the
same weights and batches, once denormals were flushed to zero (one thread, this 2-core machine).
The training jobs' logs showed steps/s falling as the runs went on. Flushing (the CPU's FTZ and DAZ
modes) changes only numbers below 1.2e-38, which no loss or score of the project can tell from 0;
a GPU's kernels have their own settings and are not touched.

The modes are a per-thread CPU flag that worker threads copy from the thread that starts them, and
torch starts its OpenMP workers when the thread count is set: so the flag is set first, before
any thread count and before any operation, or the workers compute with denormals (checked in
``tests/test_torch_setup.py``).
"""

from __future__ import annotations

import torch

from pipeline.allocator import keep_freed_memory


def configure_torch(threads: int | None = None) -> None:
    """Flush denormals to zero on this thread (and on the workers started after it), then use
    ``threads`` CPU threads (``None``: torch's default), and keep freed memory in the process (glibc).
    Call first in a job, before any torch op."""
    torch.set_flush_denormal(True)
    keep_freed_memory()
    if threads:
        torch.set_num_threads(int(threads))
