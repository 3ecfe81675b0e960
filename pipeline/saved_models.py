"""Trained networks read back from the ``model.pt`` that :func:`pipeline.training.fit` writes.

Apart from the loop so that an evaluation, a figure or ``python -m pipeline.provenance`` reads a
model without the training machinery (TensorBoard, checkpoints) behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch


def load_model(path: Path, build: Callable[[dict], torch.nn.Module],
               module: str | Sequence[str] = "model") -> torch.nn.Module:
    """Rebuild a trained network from ``model.pt`` (state_dicts + model_config), on CPU, in eval mode.

    ``module``: its name, or names in order of preference (the first the file holds is loaded), so a
    caller that prefers an optional network reads the file once."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no trained model at {path}")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    missing = {"state_dicts", "model_config"} - set(saved)
    if missing:
        raise KeyError(f"{path} lacks {sorted(missing)}; was it written by pipeline.training.fit?")
    names = [module] if isinstance(module, str) else list(module)
    found = [name for name in names if name in saved["state_dicts"]]
    if not found:
        raise KeyError(f"{path} holds modules {sorted(saved['state_dicts'])}, not {' or '.join(map(repr, names))}")
    model = build(saved["model_config"])
    model.load_state_dict(saved["state_dicts"][found[0]])
    return model.eval()


def model_provenance(path: Path) -> dict[str, Any]:
    """What made a ``model.pt`` (its ``provenance`` record).

    Every evaluation asks for it beside :func:`load_model` on the same file: memory-mapped, only the small
    record is read, not the weights again (a paper-size model is hundreds of MB)."""
    saved = torch.load(Path(path), map_location="cpu", weights_only=True, mmap=True)
    return dict(saved.get("provenance", {}))
