"""Two training jobs at once: does a demo training step run slower beside another than alone?

Run from the repository root (2 cores; nothing else heavy running):

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_corun.py [--seconds 20] [--rounds 2] [--pairs svg+crossconv svg+svg]

The default graph runs its one-thread training jobs two at a time on 2 cores (README, "How long the default
graph takes"). Whether a job then runs slower than it would beside an idle core decides what scheduling can
win; earlier five-paper runs suggested a slowdown, while the machine's own speed drifts by more than that from
hour to hour. Per pair of models (bench_allocator's demo steps, set up as the jobs: ``configure_torch(1)``),
interleaved over ``rounds``: each model alone, then both at once, each in a fresh interpreter. Every process
builds its model and warms up, then waits for a common start time, so the timed windows of a pair overlap
exactly. Printed per model: ms per step alone and beside the other (medians over rounds, and every round),
and their ratio; the spread of the alone rounds is the machine's drift over the run.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks.bench_allocator import demo_step_function, measure_result, start_measure

MODELS = ("svg", "crossconv", "vgan")
WARM_UP_STEPS = 3
START_DELAY_S = 12.0
"""Seconds from launching a round's processes to the common start: time to import, build and warm up
(svg, the slowest, about 5 s beside another)."""


def measure(model: str, start_at: float, seconds: float) -> dict[str, float]:
    """Run in a fresh interpreter: ms per step of ``model`` over ``seconds`` from wall-clock ``start_at``."""
    from pipeline.torch_setup import configure_torch

    configure_torch(1)
    step = demo_step_function(model)
    for i in range(WARM_UP_STEPS):
        step(i)
    late = time.time() - start_at
    if late > 0:
        raise RuntimeError(f"{model}: ready {late:.1f} s after the common start; raise START_DELAY_S")
    time.sleep(-late)
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step(n)
        n += 1
    return {"ms": (time.perf_counter() - start) / n * 1e3, "steps": n}


def run_together(models: list[str], seconds: float) -> list[float]:
    """ms per step of each model, all started at once (one process each)."""
    start_at = time.time() + START_DELAY_S
    processes = [start_measure("bench_corun", model, start_at, seconds) for model in models]
    return [measure_result(p, model)["ms"] for model, p in zip(models, processes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed window per arm")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pairs", nargs="+", default=["svg+crossconv", "svg+svg"],
                        help=f"model pairs a+b, models among {', '.join(MODELS)}")
    args = parser.parse_args()
    pairs = [pair.split("+") for pair in args.pairs]
    for pair in pairs:
        if len(pair) != 2 or not set(pair) <= set(MODELS):
            raise SystemExit(f"--pairs: {'+'.join(pair)!r} is not two of {', '.join(MODELS)} joined by +")
    print(f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores; "
          f"{args.seconds:.0f} s per arm, {args.rounds} interleaved rounds, one thread per process")
    print(f"{'model':<11} {'beside':<11} {'alone ms':>9} {'together ms':>12} {'ratio':>7}   rounds alone / together")
    for a, b in pairs:
        alone: dict[str, list[float]] = {a: [], b: []}
        together: dict[str, list[float]] = {a: [], b: []}
        for _ in range(args.rounds):
            for model in dict.fromkeys((a, b)):  # a model paired with itself runs alone once per round
                alone[model] += run_together([model], args.seconds)
            ms_a, ms_b = run_together([a, b], args.seconds)
            together[a].append(ms_a)
            together[b].append(ms_b)
        for model, other in ((a, b), (b, a)) if a != b else ((a, b),):
            lone, paired = float(np.median(alone[model])), float(np.median(together[model]))
            rounds = (" ".join(f"{v:.0f}" for v in alone[model]) + " / "
                      + " ".join(f"{v:.0f}" for v in together[model]))
            print(f"{model:<11} {other:<11} {lone:>9.1f} {paired:>12.1f} {paired / lone:>6.2f}x   {rounds}")


if __name__ == "__main__":
    main()
