"""Denormals flushed on every thread a job computes on (tested in a fresh process: the CPU flag is per thread)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DENORMAL_PRODUCT = """
import torch
from pipeline.torch_setup import configure_torch
{setup}
x = torch.full((1_000_000,), 1e-39)  # below float32's smallest normal, 1.2e-38
print(torch.get_num_threads(), float(((x * 0.5) != 0).float().mean()))
"""


def _run(setup: str) -> tuple[int, float]:
    out = subprocess.run([sys.executable, "-c", DENORMAL_PRODUCT.format(setup=setup)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    threads, nonzero = out.stdout.split()
    return int(threads), float(nonzero)


def test_configure_torch_flushes_denormals_on_every_worker_thread() -> None:
    # 1e-39 * 0.5 is a denormal; flushed, it is 0 on the main thread and on the OpenMP worker alike
    assert _run("configure_torch(2)") == (2, 0.0)


def test_without_it_denormals_survive() -> None:
    # the control: the product above is not 0 by itself
    threads, nonzero = _run("torch.set_num_threads(2)")
    assert (threads, nonzero) == (2, 1.0)
