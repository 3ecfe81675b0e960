"""Freed memory stays in the process for the next step: page faults per allocation cycle."""

import json
import subprocess
import sys

import pytest

CYCLE = """
import ctypes, json, resource, sys
if sys.argv[1] == "keep":
    from pipeline.allocator import keep_freed_memory
    assert keep_freed_memory()
if sys.argv[1] == "configure_torch":  # what every network job calls first
    from pipeline.torch_setup import configure_torch
    configure_torch(1)
libc = ctypes.CDLL("libc.so.6")  # malloc itself: numpy and torch may ask the kernel for huge pages
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
sizes = [2**22 + 2**14 * k for k in range(50)]  # a demo step's pattern: 4-5 MB blocks, ~210 MB
if sys.argv[2] == "large":  # a paper-preset step's: blocks above glibc's largest mmap threshold (32 MiB)
    sizes = [40 * 2**20 + 2**14 * k for k in range(5)]  # 40 MB each, ~200 MB
def cycle():  # many blocks written, all freed at the step's end
    blocks = [libc.malloc(n) for n in sizes]
    for block, n in zip(blocks, sizes):
        ctypes.memset(block, 1, n)
    for block in blocks:
        libc.free(block)
for _ in range(2):
    cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    cycle()
print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5))
"""


def faults_per_cycle(arm: str, blocks: str) -> float:
    out = subprocess.run([sys.executable, "-c", CYCLE, arm, blocks], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("arm", ["keep", "configure_torch"])
@pytest.mark.parametrize("blocks", ["small", "large"])
def test_kept_memory_is_reused_instead_of_faulted_in_again(arm, blocks):
    pages = 200 * 2**20 / 4096  # about the pages one cycle touches
    default, kept = faults_per_cycle("default", blocks), faults_per_cycle(arm, blocks)
    assert default > 0.25 * pages  # glibc gave blocks back and faults them in again (56,068 and 51,245 here)
    assert kept < 0.01 * pages
