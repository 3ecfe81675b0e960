"""How much the batched cross convolution saves over a per-sample loop, at the paper's sizes; and
what the motion decoder saves by convolving each scale before upsampling it.

The cross convolutional layer applies each sample's own 32 kernels (5x5) to its own 32 maps at
every scale of the pyramid (64, 32, 16 and 8 px for a 128x128 input). `cross_convolve` folds the
batch into the channels of one grouped conv2d; `cross_convolve_loop` makes one depthwise conv2d
per sample. Both are timed forward + backward (gradients to maps and kernels), median of
`--repeat` runs, and their outputs are checked to agree first.

The motion decoder with its 9x9 convolution over the four scales upsampled to the finest one and
concatenated (the paper's description) against ``MotionDecoder``, which sums ``conv2d_nearest_upsampled``
over the scales (the same function), forward + backward, at the paper's sizes and at the demo's (batch
16, 16 maps a scale, 32 hidden channels, 32x32), median of ``--decoder-repeat`` runs; then whole training
steps of the demo's Shapes network both ways, in interleaved rounds.

    .venv/bin/python benchmarks/bench_crossconv.py [--batch 16] [--repeat 20] [--decoder-repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
import types
from collections.abc import Callable

import torch
import torch.nn.functional as F

from pipeline.papers.crossconv.model import (
    CrossConvConfig,
    CrossConvNet,
    MotionDecoder,
    cross_convolve,
    cross_convolve_loop,
)
from pipeline.papers.crossconv.spec import SIZES
from pipeline.papers.crossconv.train import model_config
from pipeline.presets import PRESETS

DEMO = model_config("ours", PRESETS["demo"]["shapes"]["size"], SIZES["demo"]["model"])
"""The demo's Shapes VAE (64x64 pairs, 4 scales from 2x, 16 maps, width 1/4), from the presets."""

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


def upsample_concatenate_convolve(decoder: MotionDecoder, maps: list[torch.Tensor]) -> torch.Tensor:
    """The motion decoder as the paper describes it (Fig. 3e): every scale upsampled to the finest one,
    concatenated, then its convolutions; what ``MotionDecoder.forward`` computes in fewer operations."""
    size = maps[0].shape[-1]
    return decoder.net(torch.cat([F.interpolate(m, size=(size, size), mode="nearest") for m in maps], 1))


def demo_step_times(rounds: int, steps: int) -> dict[str, list[float]]:
    """Seconds per training step of the demo's Shapes network (16 random pairs of 64x64, Adam), with its
    motion decoder as the paper describes it and as ``MotionDecoder`` computes it, in interleaved rounds."""
    from pipeline.training import Minimize

    cfg = DEMO
    data = [torch.rand(16, 2, 3, cfg.image_size, cfg.image_size, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    runs = {}
    for name in ("upsample, concatenate, conv", "conv per scale"):
        torch.manual_seed(0)
        net = CrossConvNet(cfg)
        if name.startswith("upsample"):
            net.motion_decoder.forward = types.MethodType(upsample_concatenate_convolve, net.motion_decoder)
        trainable = Minimize(net, torch.optim.Adam(net.parameters(), 1e-3))
        for i in range(2):  # warm-up
            trainable.training_step(data[i], i)
        runs[name] = trainable
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, trainable in runs.items():
            t0 = time.perf_counter()
            for i in range(steps):
                trainable.training_step(data[i % 4], i)
            times[name].append((time.perf_counter() - t0) / steps)
    return times


def decoder_runs(cfg: CrossConvConfig, batch: int) -> tuple[Callable[[], torch.Tensor], Callable[[], torch.Tensor]]:
    """(as the paper describes it, as ``MotionDecoder`` computes it): closures running ``cfg``'s motion
    decoder on the same random scale maps."""
    g = torch.Generator().manual_seed(0)
    maps = [torch.randn(batch, cfg.maps, cfg.output_size >> s, cfg.output_size >> s, generator=g).requires_grad_()
            for s in range(cfg.num_scales)]
    decoder = MotionDecoder(cfg)
    return (lambda: upsample_concatenate_convolve(decoder, maps)), (lambda: decoder(maps))


def time_closure(run: Callable[[], torch.Tensor], repeat: int) -> float:
    """Median seconds of forward + backward of a scalar of ``run()``."""
    times = []
    for _ in range(repeat + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        run().square().mean().backward()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--decoder-repeat", type=int, default=3)
    parser.add_argument("--step-rounds", type=int, default=3, help="interleaved rounds of demo training steps")
    parser.add_argument("--steps", type=int, default=8, help="training steps per round")
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

    print(f"\nmotion decoder (9x9 conv, BN, 1x1 convs), forward+backward, {args.threads} threads, "
          f"median of {args.decoder_repeat}")
    print(f"{'':<44} {'upsample, concatenate, conv':>28} {'conv per scale':>15} {'ratio':>7}")
    for label, cfg, batch in (("paper", CrossConvConfig(), args.batch), ("demo", DEMO, 16)):
        upsampled, per_scale = decoder_runs(cfg, batch)
        torch.testing.assert_close(per_scale(), upsampled(), rtol=1e-4, atol=1e-3)
        before, after = time_closure(upsampled, args.decoder_repeat), time_closure(per_scale, args.decoder_repeat)
        shape = f"{cfg.z_channels} -> {cfg.hidden(cfg.decoder_channels)} ch, {cfg.output_size} px, batch {batch}"
        print(f"{label:<6}{shape:<38} {before * 1e3:>25.1f} ms {after * 1e3:>12.1f} ms {before / after:>6.2f}x")

    times = demo_step_times(args.step_rounds, args.steps)
    print(f"\ndemo Shapes training step (16 pairs of 64x64, Adam), {args.threads} threads, "
          f"{args.step_rounds} interleaved rounds of {args.steps} steps")
    for name, values in times.items():
        print(f"{name:>28}: " + ", ".join(f"{v * 1e3:.0f}" for v in values) + " ms per step")
    before, after = (statistics.median(v) for v in times.values())
    print(f"{'median ratio':>28}: {before / after:.2f}x")


if __name__ == "__main__":
    main()
