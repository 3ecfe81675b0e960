"""What the Shapes KL evaluation's measurement and the crossconv training step cost, side by side.

1. Measurement (``crossconv/kl.py``): every predictor of the KL table draws S next frames per
   test pair (10 at the demo, 100 at paper) and each object's motion is measured in each of them.
   ``measure_motions`` makes an object's template (colour layer, blur, correlation kernels, spline
   coefficients) once for the pair's S frames and correlates them in one FFT call;
   ``measure_motion`` frame by frame remakes it every time (what the evaluation did before). The
   two must give the same numbers (checked, to the bit) before they are timed.
2. Training step (forward, backward, Adam) of the Shapes network at the demo's and the paper's
   sizes with contiguous (NCHW) weights, the model's, against channels-last ones. Channels-last
   is faster alone (its max-pooling above all) but not the default: in the crossconv graph (two
   training jobs side by side on 2 cores) the four networks took 1,348 s against 1,342 s, and its
   other rounding left the demo's Ours - Flow a tie on squares (stop 41).

    .venv/bin/python benchmarks/bench_crossconv_kl.py [--pairs 20] [--samples 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import ndimage

from pipeline.papers.crossconv.kl import measure_motion, measure_motions
from pipeline.papers.crossconv.model import CrossConvConfig, CrossConvNet
from pipeline.synthetic.shapes import (
    ShapesConfig,
    ShapesPairs,
    generate_pairs,
    render_moved,
    sample_motions,
    visible_masks,
)
from pipeline.torch_setup import configure_torch

SIZES = {  # name -> (config, batch): the demo's Shapes network (spec.SIZES["demo"]) and the paper's
    "demo 64px": (CrossConvConfig(image_size=64, num_scales=4, top_scale=2.0, maps=16, width=0.25), 16),
    "paper 128px": (CrossConvConfig(image_size=128), 8),
}


def sampled_frames(pairs: int, samples: int) -> tuple[ShapesPairs, np.ndarray, np.ndarray]:
    """Test pairs of the demo's Shapes and S next frames each, (N, S, 64, 64, 3): the objects moved
    by motions drawn from the generator's law and blurred by 1 px, as soft as a network's samples
    (sharp frames converge in fewer Gauss-Newton steps)."""
    cfg = ShapesConfig(size=64)
    p = generate_pairs(cfg, pairs, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    frames = np.stack([render_moved(cfg, p, sample_motions(cfg, pairs, rng)) for _ in range(samples)], 1)
    frames = ndimage.gaussian_filter(frames.astype(np.float64), (0, 0, 1.0, 1.0, 0))
    return p, visible_masks(cfg, p), frames


def time_measurement(pairs: int, samples: int) -> None:
    p, masks, frames = sampled_frames(pairs, samples)
    t0 = time.perf_counter()
    one_by_one = np.stack([[measure_motion(p.frame1[i], f, masks[i], p.color[i]) for f in frames[i]]
                           for i in range(pairs)])
    t1 = time.perf_counter()
    batched = np.stack([measure_motions(p.frame1[i], frames[i], masks[i], p.color[i]) for i in range(pairs)])
    t2 = time.perf_counter()
    np.testing.assert_array_equal(batched, one_by_one)
    n = pairs * samples
    print(f"measurement, {pairs} pairs x {samples} samples (64px), same numbers: "
          f"frame by frame {n / (t1 - t0):.0f} frames/s, template once per pair {n / (t2 - t1):.0f} frames/s, "
          f"{(t1 - t0) / (t2 - t1):.2f}x")


def step_time(cfg: CrossConvConfig, batch: int, channels_last: bool, steps: int) -> float:
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = CrossConvNet(cfg).to(memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch, 2, 3, cfg.image_size, cfg.image_size, generator=torch.Generator().manual_seed(0))

    def step() -> None:
        optimizer.zero_grad()
        model.losses(x)["loss"].backward()
        optimizer.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    configure_torch(args.threads)
    time_measurement(args.pairs, args.samples)
    print(f"training step, {args.threads} thread(s), mean of {args.steps} (alternated twice):")
    for name, (cfg, batch) in SIZES.items():
        times = {fmt: [] for fmt in ("NCHW", "channels-last")}
        for _ in range(2):
            for fmt in times:
                times[fmt].append(step_time(cfg, batch, fmt == "channels-last", args.steps))
        nchw, last = min(times["NCHW"]), min(times["channels-last"])
        print(f"  {name}, batch {batch}: NCHW {nchw:.3f} s, channels-last {last:.3f} s, {nchw / last:.2f}x")


if __name__ == "__main__":
    main()
