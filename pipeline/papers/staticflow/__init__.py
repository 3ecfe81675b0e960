"""staticflow: optical flow from a static frame (AlexNet vs all-convolutional net on HMDB-51).

Its public names, for the one paper allowed to use another: walker's optical-flow baseline is
this paper's AlexNet, trained and scored by this paper's code; the bootstrap interval both papers' tables put on their numbers. They are loaded on first use, so
importing ``pipeline.papers.staticflow.spec`` (Snakemake, at DAG time) stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC: dict[str, str] = {
    "StaticFlowConfig": "model",
    "StaticFlowNet": "model",
    "build_staticflow": "model",
    "FlowNetData": "data",
    "FlowSchedule": "train",
    "train_flow_net": "train",
    "predict_probs": "train",
    "sample_flow": "metrics",
    "mean_interval": "metrics",
    "INTERVAL": "metrics",
    "fit_codebook": "codebook",
    "load_codebook": "codebook",
    "save_codebook": "codebook",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no public name {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
