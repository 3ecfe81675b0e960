"""Freed memory stays in the process for the next step: page faults per allocation cycle."""

import json
import subprocess
import sys

import pytest

CYCLE = """
import json, resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from pipeline.allocator import keep_freed_memory
    assert keep_freed_memory()
if sys.argv[1] == "configure_torch":  # what every network job calls first
    from pipeline.torch_setup import configure_torch
    configure_torch(1)
def cycle():  # a training step's pattern: many blocks of megabytes, all freed at its end
    blocks = [np.ones(2**20 + 4096 * k, np.float32) for k in range(50)]  # 4-5 MB each, ~210 MB
    del blocks
for _ in range(2):
    cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    cycle()
print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5))
"""


def faults_per_cycle(arm: str) -> float:
    out = subprocess.run([sys.executable, "-c", CYCLE, arm], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("arm", ["keep", "configure_torch"])
def test_kept_memory_is_reused_instead_of_faulted_in_again(arm):
    pages = 50 * 4 * 2**20 / 4096  # the pages one cycle touches
    default, kept = faults_per_cycle("default"), faults_per_cycle(arm)
    assert default > 0.25 * pages  # glibc gave blocks back and faults them in again (25,406 of 51,200 here)
    assert kept < 0.01 * pages
