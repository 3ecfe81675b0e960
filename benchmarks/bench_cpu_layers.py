"""The project's CPU layers against torch's: ``pipeline.max_pool.MaxPool2d`` against
``nn.MaxPool2d`` and ``pipeline.local_response_norm.LocalResponseNorm`` against
``nn.LocalResponseNorm``, each layer alone, then whole demo-size training steps of every model
that uses them.

Run from the repository root (2 cores; nothing else heavy running):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_cpu_layers.py [--steps 20] [--rounds 3]

One thread, as the graph's training jobs. Layers: forward + backward at the shapes the demo's
models run. Steps: each model twice with the same weights, once with its layers turned back into
torch's; the two arms interleaved over ``rounds`` (median kept), each step through the loop's own
objective (``training.Minimize``). After the timed steps both arms must hold the same weights to
the bit (the layers' values and gradients are the same), which the last column checks.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from torch import nn

from pipeline.local_response_norm import LocalResponseNorm
from pipeline.max_pool import MaxPool2d
from pipeline.torch_setup import configure_torch
from pipeline.training import Minimize

LAYERS = (  # (where, input shape, torch's layer, ours)
    ("crossconv image encoder at 2x, pool", (16, 16, 128, 128), nn.MaxPool2d(2), MaxPool2d(2)),
    ("crossconv motion encoder, 1st pool", (16, 24, 64, 64), nn.MaxPool2d(2), MaxPool2d(2)),
    ("walker image tower pool1", (16, 12, 32, 40), nn.MaxPool2d(3, 2, 1), MaxPool2d(3, 2, 1)),
    ("walker encoder tower pool (stride 1)", (16, 12, 8, 10), nn.MaxPool2d(3, 1, 1), MaxPool2d(3, 1, 1)),
    ("staticflow AlexNet pool1", (32, 24, 29, 29), nn.MaxPool2d(3, 2), MaxPool2d(3, 2)),
    ("svg VGG stage 1 pool (width 4, 80 frames)", (80, 4, 64, 64), nn.MaxPool2d(2), MaxPool2d(2)),
    ("walker image tower LRN 1", (16, 12, 32, 40), nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0),
     LocalResponseNorm(5, 1e-4, 0.75, 1.0)),
    ("walker image tower LRN 2", (16, 32, 16, 20), nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0),
     LocalResponseNorm(5, 1e-4, 0.75, 1.0)),
)


def _timed(run, repeats: int) -> float:
    run()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats * 1e3


def bench_layers(repeats: int) -> None:
    print(f"{'layer (forward + backward)':38s} {'shape':>20s} {'nn':>9s} {'ours':>9s} {'ratio':>6s}")
    for where, shape, *layers in LAYERS:
        x = torch.randn(shape, requires_grad=True)
        times = []
        for layer in layers:
            grad = torch.randn_like(layer(x))

            def run(layer=layer, grad=grad) -> None:
                x.grad = None
                layer(x).backward(grad)

            times.append(_timed(run, repeats))
        print(f"{where:38s} {str(shape):>20s} {times[0]:7.2f}ms {times[1]:7.2f}ms {times[0] / times[1]:5.2f}x")


def _models() -> dict[str, tuple[nn.Module, tuple]]:
    """The demo preset's networks that use the layers (built as their training jobs build them, seeded
    weights) and one batch each at the demo's batch size."""
    from pipeline.papers.crossconv import spec as crossconv_spec
    from pipeline.papers.crossconv.model import CrossConvNet
    from pipeline.papers.crossconv.train import model_config as crossconv_config
    from pipeline.papers.staticflow import spec as staticflow_spec
    from pipeline.papers.staticflow.geometry import allconv_output_size
    from pipeline.papers.staticflow.model import StaticFlowNet
    from pipeline.papers.staticflow.train import model_config as staticflow_config
    from pipeline.papers.svg import spec as svg_spec
    from pipeline.papers.svg.model import SVG
    from pipeline.papers.svg.train import model_config as svg_config
    from pipeline.papers.walker import spec as walker_spec
    from pipeline.papers.walker.model import N_COEFFS, WalkerNet
    from pipeline.papers.walker.train import model_config as walker_config
    from pipeline.presets import PRESETS

    clips = PRESETS["demo"]["clips"]
    crossconv, staticflow = crossconv_spec.SIZES["demo"], staticflow_spec.SIZES["demo"]
    walker, svg = walker_spec.SIZES["demo"], svg_spec.SIZES["demo"]
    torch.manual_seed(0)
    shapes = crossconv_config("ours", 64, crossconv["model"])  # the Shapes pairs are 64x64 at every preset
    frame = (int(clips["walker"]["height"]), int(clips["walker"]["width"]))
    side = int(clips["staticflow"]["size"])
    grid = allconv_output_size(side)  # the label grid of both staticflow nets
    vgg = svg_config("bair", "lp", svg)  # the demo's one VGG backbone (its KTH takes the DCGAN)
    n, b = crossconv["train"]["batch_size"], walker["train"]["batch_size"]  # the demo's batch sizes
    f, k = staticflow["train"]["batch_size"], svg["bair"]["train"]["batch_size"]
    return {
        f"crossconv Shapes (64x64, width {shapes.width:g}, batch {n})": (
            CrossConvNet(shapes), torch.rand(n, 2, 3, 64, 64)),
        f"walker CVAE ({frame[0]}x{frame[1]}, batch {b})": (
            WalkerNet(walker_config("cvae", frame, walker["model"])),
            (torch.rand(b, 3, *frame) * 2 - 1, torch.randn(b, N_COEFFS, *walker["model"]["coarse_size"]))),
        f"staticflow AlexNet ({side}x{side}, batch {f})": (
            StaticFlowNet(staticflow_config("alexnet", side, grid, staticflow["model"])),
            (torch.rand(f, 3, side, side) * 2 - 1, torch.randint(0, int(staticflow["model"]["n_clusters"]), (f, grid, grid)))),
        f"svg BAIR SVG-LP (VGG width {vgg.width}, batch {k})": (
            SVG(vgg), torch.rand(k, vgg.n_past + vgg.n_future, vgg.channels, vgg.image_size, vgg.image_size)),
    }


def _reference(model: nn.Module) -> nn.Module:
    """The same network with torch's layers."""
    reference = copy.deepcopy(model)
    for module in reference.modules():
        if isinstance(module, MaxPool2d):
            module.__class__ = nn.MaxPool2d
        elif isinstance(module, LocalResponseNorm):
            module.__class__ = nn.LocalResponseNorm
    return reference


def bench_steps(steps: int, rounds: int) -> None:
    print(f"\n{'training step (demo size)':50s} {'nn':>9s} {'ours':>9s} {'ratio':>6s}  same weights")
    for name, (model, batch) in _models().items():
        arms = [_reference(model), model]
        trainers = [Minimize(arm, torch.optim.Adam(arm.parameters(), 1e-3)) for arm in arms]
        times: list[list[float]] = [[], []]
        step = 0
        for _ in range(rounds):
            for arm, trainer in enumerate(trainers):
                torch.manual_seed(step)  # the same noise (reparameterisation, dropout) in both arms
                start = time.perf_counter()
                for i in range(steps):
                    trainer.training_step(batch, step + i)
                times[arm].append((time.perf_counter() - start) / steps * 1e3)
            step += steps
        same = all(torch.equal(a, b) for a, b in zip(arms[0].state_dict().values(), arms[1].state_dict().values()))
        nn_ms, ours_ms = (float(np.median(t)) for t in times)
        print(f"{name:50s} {nn_ms:7.1f}ms {ours_ms:7.1f}ms {nn_ms / ours_ms:5.2f}x  {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per arm and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    parser.add_argument("--repeats", type=int, default=20, help="timed repeats per layer")
    args = parser.parse_args()
    configure_torch(1)
    bench_layers(args.repeats)
    bench_steps(args.steps, args.rounds)


if __name__ == "__main__":
    main()
