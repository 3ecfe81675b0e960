"""What each job asks a cluster for: memory and time limit, per kind of job and scale, per attempt.

Rules declare ``resources: **cluster.resources(kind, scale)`` (see ``workflow/rules/common.smk``).
Locally these are only bookkeeping; on SLURM (``profiles/slurm``) they become ``--mem`` and
``--time`` of each sbatch job. Every value is a callable of Snakemake's ``attempt`` (1, 2, ...):
a job killed by its time limit or by the memory limit is submitted again (``retries`` in the
profile) with ``attempt`` times the first request, and a training job resumes from its last
checkpoint (``pipeline/training.py``), so a retry continues rather than repeats.

Where the first requests come from:

* memory at ``paper``: ``benchmarks/bench_paper_memory.py`` measures each per-shard stage's peak on a
  full paper shard (clip cut 0.79 GiB, stabilization 1.3 GiB, DeepFlow trajectories 1.9 GiB, checked
  under 4 GiB); the request is that bound plus PyTorch's import (~0.5 GiB). Training and evaluation
  at ``paper`` read batches from Zarr shards (bounded by the batch, not the dataset) with 4 loader
  workers per job: 32 / 16 GB of host memory, what a GPU node offers per GPU on most sites.
* memory at ``smoke``/``demo``: well above the jobs' ``max_rss`` in their Snakemake benchmarks
  (``python -m pipeline.time_summary <results_root>/benchmarks`` prints the largest per rule).
* time: smoke jobs take seconds and demo jobs minutes on 2 CPU cores (README, Paper outputs); the
  first requests leave a wide margin, and a retry doubles them. Training at ``paper`` asks for
  its measured hours when a ``log.csv`` of the model exists (a first attempt, or an earlier run of
  the same model: seconds per step times the steps left, plus 25%), else for
  ``PAPER_TRAIN_FIRST_HOURS`` (a common site limit); a time limit then stops it, and the retry
  resumes from its checkpoint and asks for the measured time left.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

__all__ = ["KINDS", "PAPER_TRAIN_FIRST_HOURS", "measured_speed", "measured_minutes_left", "resources"]

KINDS: dict[str, dict[str, tuple[int, int]]] = {
    # kind -> scale -> (mem_mb, runtime minutes) of a first attempt
    "light": {"smoke": (1000, 10), "demo": (2000, 20), "paper": (4000, 60)},       # tables, figures, summaries
    "data": {"smoke": (2000, 15), "demo": (3000, 60), "paper": (8000, 720)},       # fetch, list, generated sets
    "shard": {"smoke": (1500, 10), "demo": (3000, 60), "paper": (5000, 720)},      # one clip shard's stage
    "train": {"smoke": (2000, 15), "demo": (4000, 120), "paper": (32000, 1440)},   # one model
    "evaluate": {"smoke": (2000, 15), "demo": (4000, 60), "paper": (16000, 480)},  # one model's evaluation
}
"""First-attempt requests. Group jobs (profiles/slurm groups shard chains) get the sum of their
series' runtimes and the largest parallel layer's memory, as Snakemake computes them."""

PAPER_TRAIN_FIRST_HOURS = KINDS["train"]["paper"][1] // 60


def measured_speed(log_csv: Path) -> tuple[float, int] | None:
    """(seconds per step, last step) from a model's ``log.csv`` (step, wall_seconds, ...), or None
    when there is no log or fewer than two logged steps (no speed to measure yet)."""
    if not log_csv.is_file():
        return None
    log = pd.read_csv(log_csv, usecols=["step", "wall_seconds"])
    if len(log) < 2 or log["step"].iloc[-1] <= log["step"].iloc[0]:
        return None
    steps = log["step"].iloc[-1] - log["step"].iloc[0]
    return float((log["wall_seconds"].iloc[-1] - log["wall_seconds"].iloc[0]) / steps), int(log["step"].iloc[-1])


def measured_minutes_left(log_csv: Path, steps: int | None) -> int | None:
    """Minutes the rest of a training run takes at the speed its ``log.csv`` shows, plus 25%; None
    without a measured speed or a known step count."""
    speed = measured_speed(log_csv)
    if speed is None or not steps:
        return None
    seconds_per_step, done = speed
    return int(seconds_per_step * max(steps - done, 0) * 1.25 / 60) + 1


def resources(kind: str, scale: str,
              training: Callable[[object], tuple[Path, int | None]] | None = None) -> dict[str, Callable]:
    """``mem_mb`` and ``runtime`` callables of (wildcards, attempt) for a rule of ``kind``.

    ``training(wildcards) -> (log.csv path, steps)`` makes the runtime of a training job at the
    ``paper`` scale its measured time left when its log shows a speed.
    """
    if kind not in KINDS:
        raise KeyError(f"unknown job kind {kind!r}; known: {', '.join(KINDS)}")
    if scale not in KINDS[kind]:
        raise KeyError(f"unknown scale {scale!r} for job kind {kind!r}; known: {', '.join(KINDS[kind])}")
    mem_mb, minutes = KINDS[kind][scale]

    def mem(wildcards, attempt: int) -> int:
        return mem_mb * attempt

    def runtime(wildcards, attempt: int) -> int:
        if training is not None and scale == "paper":
            measured = measured_minutes_left(*training(wildcards))
            if measured is not None:
                return measured
        return minutes * attempt

    return {"mem_mb": mem, "runtime": runtime}
