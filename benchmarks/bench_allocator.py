"""Training steps with glibc's default malloc against ``pipeline.allocator.keep_freed_memory``.

Run from the repository root (2 cores; nothing else heavy running):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_allocator.py [--steps 40] [--rounds 3] [--models svg-paper]

Each model runs three arms, each in a fresh interpreter (malloc's settings are per process),
interleaved over ``rounds``, the median kept: glibc's default; ``threshold``, the mmap and trim
thresholds raised but blocks above 32 MiB still mapped afresh (stop 44's setting); ``kept``,
``keep_freed_memory`` as every network job calls it (no mapped blocks at all). Per arm:
milliseconds per step, minor page faults per step and system time per step. The faults are the
kernel handing memory back after malloc returned it: what keeping freed memory saves.

Models: the demo's svg, crossconv and vgan steps (one thread, as the graph's training jobs), and
``svg-paper``: svg's SM-MNIST model at the paper preset (DCGAN width 64, batch 100, two threads as
its training job; 2 steps after 1 warm-up, about 15 s each), whose activations are hundreds of MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

MODELS = ("svg", "crossconv", "vgan", "svg-paper")
ARMS = ("default", "threshold", "kept")
PAPER_STEPS = 2
"""svg-paper's timed steps (after one warm-up): about 15 s each on this machine."""


def demo_step_function(model: str) -> Callable[[int], dict[str, float]]:
    """``step(i)``: one training step of ``model`` through its objective for the project's loop, at the demo's
    sizes (``svg-paper``: the paper preset's), on random or generated batches, weights seeded. Also timed by
    ``bench_corun.py``."""
    import torch

    from pipeline.training import Minimize

    torch.manual_seed(0)
    if model in ("svg", "svg-paper"):  # SM-MNIST, 5 + 10 frames; demo: DCGAN width 8, batch 16; paper: 64, 100
        from pipeline.papers.svg.model import (
            SVG,
            SVGConfig,
            frames_to_batch,
            make_optimizer,
        )
        from pipeline.synthetic import smmnist
        from pipeline.synthetic.digits import load_digits_sklearn, resize_digits

        paper = model == "svg-paper"
        digits = resize_digits(load_digits_sklearn(size=28, split="train"), 32)
        batches = smmnist.training_batches(smmnist.SMMNISTConfig(seq_len=15), digits, 100 if paper else 16, 0)
        data = [frames_to_batch(next(batches)) for _ in range(4)]
        net = SVG(SVGConfig(variant="lp", width=64 if paper else 8, channels=1))
        trainable = Minimize(net, make_optimizer(net))
    elif model == "crossconv":  # Shapes demo: 64x64 pairs, 4 scales from 2x, 16 maps, width 1/4, batch 16
        from pipeline.papers.crossconv.model import CrossConvNet
        from pipeline.papers.crossconv.spec import SIZES
        from pipeline.papers.crossconv.train import model_config
        from pipeline.presets import PRESETS

        net = CrossConvNet(model_config("ours", PRESETS["demo"]["shapes"]["size"], SIZES["demo"]["model"]))
        trainable = Minimize(net, torch.optim.Adam(net.parameters(), 1e-3))
        data = [torch.rand(16, 2, 3, 64, 64) for _ in range(4)]
    elif model == "vgan":  # two-stream GAN demo: 16 frames of 32x32, width 1/8, z 32, batch 8
        from pipeline.papers.vgan.gan import VideoGAN
        from pipeline.papers.vgan.model import Discriminator, Generator, VGANConfig

        cfg = VGANConfig(z_dim=32, frames=16, size=32, width=1 / 8)
        trainable = VideoGAN(Generator(cfg), Discriminator(cfg))
        data = [torch.rand(8, 16, 3, 32, 32) * 2 - 1 for _ in range(4)]
    else:
        raise KeyError(model)
    return lambda i: trainable.training_step(data[i % 4], i)


def measure(model: str, steps: int, arm: str) -> dict[str, float]:
    """Run in a fresh interpreter: per-step time, faults and system time of ``steps`` steps after the warm-up."""
    import torch

    from pipeline import allocator

    paper = model == "svg-paper"
    torch.set_num_threads(2 if paper else 1)
    if arm != "default":
        settings = allocator.THRESHOLDS if arm == "threshold" else allocator.SETTINGS
        assert allocator.set_malloc_options(settings), "no glibc mallopt here"
    step = demo_step_function(model)
    steps, warm_up = (PAPER_STEPS, 1) if paper else (steps, 5)
    for i in range(warm_up):
        step(i)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i in range(steps):
        step(i)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {"ms": seconds / steps * 1e3, "faults": (after.ru_minflt - before.ru_minflt) / steps,
            "sys_ms": (after.ru_stime - before.ru_stime) / steps * 1e3}


def start_measure(module: str, *args: object) -> subprocess.Popen:
    """``benchmarks.<module>.measure(*args)`` in a fresh interpreter (malloc's settings and torch's threads are
    per process); ``measure_result`` reads what it returned. ``bench_corun.py`` starts several at once."""
    code = (f"import json; from benchmarks.{module} import measure; "
            f"print(json.dumps(measure({', '.join(map(repr, args))})))")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})


def measure_result(process: subprocess.Popen, name: str) -> dict[str, float]:
    """The dict a ``start_measure`` process printed last; an error naming ``name`` if it failed."""
    out = process.communicate()[0]
    if process.returncode:
        raise RuntimeError(f"{name}: the measuring process exited with {process.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def _run_arm(model: str, steps: int, arm: str) -> dict[str, float]:
    return measure_result(start_measure("bench_allocator", model, steps, arm), f"{model} ({arm})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores; "
          f"{args.steps} steps per arm ({PAPER_STEPS} for svg-paper), median of {args.rounds} interleaved rounds")
    print(f"{'model':<12} {'ms/step: ' + ' / '.join(ARMS):>34} {'kept speed-up':>14} "
          f"{'faults/step':>26} {'sys ms/step':>22}")
    for model in args.models:
        runs: dict[str, list[dict[str, float]]] = {arm: [] for arm in ARMS}
        for _ in range(args.rounds):
            for arm in ARMS:
                runs[arm].append(_run_arm(model, args.steps, arm))
        med = {arm: {k: float(np.median([r[k] for r in rs])) for k in rs[0]} for arm, rs in runs.items()}

        def column(key: str, digits: int) -> str:
            return " / ".join(f"{med[arm][key]:.{digits}f}" for arm in ARMS)

        print(f"{model:<12} {column('ms', 1):>34} {med['default']['ms'] / med['kept']['ms']:>13.2f}x "
              f"{column('faults', 0):>26} {column('sys_ms', 1):>22}")


if __name__ == "__main__":
    main()
