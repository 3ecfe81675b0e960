"""How much the batched cross convolution saves over a per-sample loop, at the paper's sizes.

The cross convolutional layer applies each sample's own 32 kernels (5x5) to its own 32 maps at
every scale of the pyramid (64, 32, 16 and 8 px for a 128x128 input). `cross_convolve` folds the
batch into the channels of one grouped conv2d; `cross_convolve_loop` makes one depthwise conv2d
per sample. Both are timed forward + backward (gradients to maps and kernels), median of
`--repeat` runs, and their outputs are checked to agree first.

    .venv/bin/python benchmarks/bench_crossconv.py [--batch 16] [--repeat 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from pipeline.papers.crossconv.model import (
    CrossConvConfig,
    cross_convolve,
    cross_convolve_loop,
)

Op = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def paper_inputs(batch: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(maps, kernels) per scale at the paper preset, requiring grad."""
    cfg = CrossConvConfig()
    g = torch.Generator().manual_seed(seed)
    sizes = [cfg.output_size >> s for s in range(cfg.num_scales)]  # 64, 32, 16, 8
    k = cfg.kernel_size
    return [(torch.randn(batch, cfg.maps, s, s, generator=g).requires_grad_(),
             torch.randn(batch, cfg.maps, k, k, generator=g).requires_grad_()) for s in sizes]


def step(op: Op, inputs: list[tuple[torch.Tensor, torch.Tensor]], backward: bool) -> None:
    """Forward every scale and, if asked, backward a scalar through all of them."""
    if not backward:
        with torch.no_grad():
            for m, w in inputs:
                op(m, w)
        return
    loss = sum(op(m, w).square().mean() for m, w in inputs)
    loss.backward()
    for m, w in inputs:
        m.grad = w.grad = None


def time_op(op: Op, inputs: list[tuple[torch.Tensor, torch.Tensor]], repeat: int, backward: bool) -> float:
    step(op, inputs, backward)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step(op, inputs, backward)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    inputs = paper_inputs(args.batch)
    for m, w in inputs:
        torch.testing.assert_close(cross_convolve(m, w), cross_convolve_loop(m, w))
    shapes = ", ".join(f"{m.shape[-1]}" for m, _ in inputs)
    print(f"cross convolution, batch {args.batch}, {len(inputs)} scales x {inputs[0][0].shape[1]} maps "
          f"({shapes} px), 5x5 kernels, {args.threads} threads, median of {args.repeat}")
    print(f"{'':>17} {'batched (groups=B*C)':>21} {'per-sample loop':>16} {'loop / batched':>15}")
    for label, backward in (("forward+backward", True), ("forward only", False)):
        batched = time_op(cross_convolve, inputs, args.repeat, backward)
        loop = time_op(cross_convolve_loop, inputs, args.repeat, backward)
        print(f"{label:>17} {batched * 1e3:>18.2f} ms {loop * 1e3:>13.2f} ms {loop / batched:>14.2f}x")


if __name__ == "__main__":
    main()
