"""The generated-samples shards of vgan: which set each sample belongs to, and reading one set.

Figures, the judge and the tables read them; this module does not import torch, so the figure
jobs start without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.shards import open_shard

COMPARE, JUDGE = 0, 1  # the ``set`` of each sample: in the comparison, or judge training only


def read_samples(path: Path, which: int = COMPARE, name: str = "frames") -> np.ndarray:
    """One array of a samples shard, the items of one set (compare or judge)."""
    group = open_shard(path)
    keep = np.asarray(group["set"][:]) == which
    return np.asarray(group[name][:])[keep]
