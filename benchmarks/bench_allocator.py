"""Training steps with glibc's default malloc against ``pipeline.allocator.keep_freed_memory``.

Run from the repository root (2 cores; nothing else heavy running):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_allocator.py [--steps 40] [--rounds 3]

Each line is one demo-size model (one thread, as the graph's training jobs), each arm in a fresh
interpreter (malloc's settings are per process), the arms interleaved over ``rounds`` and the
median kept: milliseconds per step, minor page faults per step and system time per step. The
faults are the kernel handing memory back after malloc returned it: what keeping freed memory saves.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

MODELS = ("svg", "crossconv", "vgan")


def _step_function(model: str):
    """One demo-size training step of ``model`` through its objective for the project's loop (random or
    generated batches; weights seeded)."""
    import torch

    from pipeline.training import Minimize

    torch.manual_seed(0)
    if model == "svg":  # SM-MNIST demo: DCGAN width 8, batch 16, 5 + 10 frames
        from pipeline.papers.svg.model import (
            SVG,
            SVGConfig,
            frames_to_batch,
            make_optimizer,
        )
        from pipeline.synthetic import smmnist
        from pipeline.synthetic.digits import load_digits_sklearn, resize_digits

        digits = resize_digits(load_digits_sklearn(size=28, split="train"), 32)
        batches = smmnist.training_batches(smmnist.SMMNISTConfig(seq_len=15), digits, 16, 0)
        data = [frames_to_batch(next(batches)) for _ in range(4)]
        net = SVG(SVGConfig(variant="lp", width=8, channels=1))
        trainable = Minimize(net, make_optimizer(net))
    elif model == "crossconv":  # Shapes demo: 64x64 pairs, 4 scales from 2x, 16 maps, width 1/4, batch 16
        from pipeline.papers.crossconv.model import CrossConvConfig, CrossConvNet

        net = CrossConvNet(CrossConvConfig(image_size=64, num_scales=4, top_scale=2.0, maps=16, width=1 / 4))
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


def measure(model: str, steps: int, keep: bool) -> dict[str, float]:
    """Run in a fresh interpreter: per-step time, faults and system time of ``steps`` steps after 5 warm-up."""
    import torch

    torch.set_num_threads(1)
    if keep:
        from pipeline.allocator import keep_freed_memory

        assert keep_freed_memory(), "no glibc mallopt here"
    step = _step_function(model)
    for i in range(5):
        step(i)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i in range(steps):
        step(i)
    seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {"ms": seconds / steps * 1e3, "faults": (after.ru_minflt - before.ru_minflt) / steps,
            "sys_ms": (after.ru_stime - before.ru_stime) / steps * 1e3}


def _run_arm(model: str, steps: int, keep: bool) -> dict[str, float]:
    code = (f"import json; from benchmarks.bench_allocator import measure; "
            f"print(json.dumps(measure({model!r}, {steps}, {keep})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores; "
          f"{args.steps} steps per arm, median of {args.rounds} interleaved rounds")
    print(f"{'model (demo size, 1 thread)':<28} {'default ms':>10} {'kept ms':>9} {'speed-up':>9} "
          f"{'faults/step':>18} {'sys ms/step':>14}")
    for model in args.models:
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(args.rounds):
            for keep in (False, True):
                runs[keep].append(_run_arm(model, args.steps, keep))
        med = {keep: {k: float(np.median([r[k] for r in rs])) for k in rs[0]} for keep, rs in runs.items()}
        d, k = med[False], med[True]
        print(f"{model:<28} {d['ms']:>10.1f} {k['ms']:>9.1f} {d['ms'] / k['ms']:>8.2f}x "
              f"{d['faults']:>9.0f} -> {k['faults']:<6.0f} {d['sys_ms']:>6.1f} -> {k['sys_ms']:<5.1f}")


if __name__ == "__main__":
    main()
