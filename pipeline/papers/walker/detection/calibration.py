"""Data-dependent initialisation and between-layer scale calibration (Krähenbühl, Doersch,
Donahue, Darrell, ICLR 2016), the "+cal" of walker's Table 2.

Two steps, on a fixed calibration batch (training images with their RoIs), layers taken input
to output (conv1 ... fc7):

* within-layer (:func:`init_within_layers`), for layers that start from scratch: Gaussian
  weights, then each output channel scaled and shifted so that its pre-activations over the
  batch have mean 0 and variance 1;
* between-layer (:func:`calibrate_between_layers`), for every layer, pre-trained or not: a
  random Gaussian gradient is back-propagated from the top (fc7's output) and each layer k's
  change rate ``C_k = sqrt(mean (dL/dW_k)^2 / mean W_k^2)`` measured; each layer is rescaled
  by ``sqrt(C_k / C)`` towards the geometric mean ``C`` (times ``std(top)^(1/N)`` so the
  output keeps unit scale), its bias also following the change of its input's scale. In a
  piecewise-linear network this makes every layer learn at the same relative rate under SGD
  without changing what it computes up to a scale; LRN is not homogeneous, so the step is
  iterated (at most ``iterations`` times) until every rate is within ``tolerance`` of the target.

Writing the algorithm here follows the authors' description and reference code (magic_init),
in torch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import nn

log = logging.getLogger(__name__)

Run = Callable[[], torch.Tensor]
"""Forward pass of the calibration batch up to the top (fc7 output), in eval mode."""


def _channel_dims(output: torch.Tensor) -> tuple[int, ...]:
    return (0, 2, 3) if output.dim() == 4 else (0,)


@torch.no_grad()
def init_within_layers(layers: Sequence[nn.Module], run: Run, generator: torch.Generator) -> None:
    """Gaussian weights, then unit-variance, zero-mean pre-activations per channel, layer by layer."""
    for layer in layers:
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))
        layer.bias.zero_()
        stats: dict[str, torch.Tensor] = {}

        def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            dims = _channel_dims(output)
            stats["mean"], stats["std"] = output.mean(dim=dims), output.std(dim=dims)

        handle = layer.register_forward_hook(hook)
        try:
            run()
        finally:
            handle.remove()
        std = stats["std"].clamp_min(1e-8)
        shape = (-1,) + (1,) * (layer.weight.dim() - 1)
        layer.weight.div_(std.reshape(shape))
        layer.bias.copy_(-stats["mean"] / std)


@torch.no_grad()
def _input_scales(layers: Sequence[nn.Module], run: Run) -> tuple[list[float], torch.Tensor]:
    """Mean |input| of every layer on the batch, and the top's output."""
    scales: list[float] = [0.0] * len(layers)
    handles = [layer.register_forward_pre_hook(lambda _m, inputs, k=k: scales.__setitem__(k, float(inputs[0].abs().mean())))
               for k, layer in enumerate(layers)]
    try:
        top = run()
    finally:
        for handle in handles:
            handle.remove()
    return scales, top


def change_rates(layers: Sequence[nn.Module], run: Run, generator: torch.Generator) -> tuple[torch.Tensor, float]:
    """Each layer's sqrt(mean grad^2 / mean weight^2) under a random N(0, 1) top gradient; std of the top."""
    for layer in layers:
        layer.weight.grad = None
    with torch.enable_grad():
        top = run()
        top.backward(torch.randn(top.shape, generator=generator))
    rates = torch.stack([(layer.weight.grad.pow(2).mean() / layer.weight.detach().pow(2).mean()).sqrt()
                         for layer in layers])
    for layer in layers:
        layer.weight.grad = None
    return rates, float(top.detach().std(dim=0).mean())


def calibrate_between_layers(layers: Sequence[nn.Module], run: Run, generator: torch.Generator,
                             iterations: int = 10, tolerance: float = 0.01) -> list[dict[str, float]]:
    """Rescale ``layers`` until their change rates agree; returns the rates before each round (a log)."""
    history = []
    for it in range(iterations):
        rates, top_std = change_rates(layers, run, generator)
        target = float(torch.exp(torch.log(rates).mean())) * top_std ** (1.0 / len(layers))
        history.append({"iteration": it, "top_std": top_std, "target": target,
                        **{f"rate_{k}": float(r) for k, r in enumerate(rates)}})
        log_rates = torch.log(rates)
        spread = float((log_rates / torch.log(torch.tensor(target)) - 1).abs().max())
        log.info("calibration round %d: rates %s, target %.3g, top std %.3g", it,
                 " ".join(f"{float(r):.3g}" for r in rates), target, top_std)
        if spread < tolerance:
            break
        before, _ = _input_scales(layers, run)
        with torch.no_grad():
            for k, layer in enumerate(layers):
                now, _ = _input_scales(layers[: k + 1], run) if k else (before, None)
                layer.bias.mul_(now[k] / max(before[k], 1e-12))  # the input's scale changed upstream
                scale = float(torch.sqrt(rates[k] / target))
                layer.weight.mul_(scale)
                layer.bias.mul_(scale)
    return history
