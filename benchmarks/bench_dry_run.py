"""How long `snakemake -n` of the paper-scale graph takes over a full-size UCF101 (13,320 videos).

The goal (issue 15): under 10 s. UCF101 is registered as if present (its folder holds 13,320 empty
.avi files, so the `path` source's folder fingerprint stats them all as on a real copy; the source
record and manifest are written as the list step writes them, tests/big_manifest.py), every other
dataset is still to fetch. Printed beside it, in the same run: the same dry run before any manifest
exists (parsing and the fixed part of the DAG) and with a tenth of the videos, so the per-video cost
shows. Wall time is the best of ``--repeats``; CPU is the child's user+sys of that run.

Every Snakemake start imports the SLURM executor plugin, which runs ``scontrol show config`` (10 s
timeout) to word its help. Where SLURM's client is installed but no controller answers (this project's
CI machine after ``cluster/slurm_selftest.sh`` stops its daemons) that alone takes ~9 s of wall time and
no CPU; on a laptop without SLURM or a cluster's login node it takes milliseconds. The benchmark times
the probe first; when it stalls, every case also runs with an ``scontrol`` on the PATH that fails at
once (as on a machine without SLURM), printed beside, and the goal is read from that column.

    .venv/bin/python benchmarks/bench_dry_run.py [--repeats 3] [--profile]

``--profile`` also prints the 25 most expensive calls of the full-size run (cProfile, cumulative),
to find what in the workflow's own code (input functions, manifest reads) is slow.
"""

from __future__ import annotations

import argparse
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from big_manifest import UCF101_VIDEOS, register_ucf101  # noqa: E402
from smoke_graph import SNAKEMAKE, planned_rules  # noqa: E402

GOAL_S = 10.0


def slurm_probe_seconds() -> float | None:
    """Wall seconds of the plugin's ``scontrol show config`` (None: no scontrol on the PATH)."""
    start = time.perf_counter()
    try:
        subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=12)
    except FileNotFoundError:
        return None
    except subprocess.TimeoutExpired:
        pass
    return time.perf_counter() - start


def answering_at_once(tmp: Path) -> dict[str, str]:
    """An environment whose ``scontrol`` fails at once, as where SLURM is not installed."""
    shim = tmp / "scontrol-fails-at-once"
    shim.mkdir()
    (shim / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (shim / "scontrol").chmod(0o755)
    return dict(os.environ, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}")


def dry_run(workdir: Path, folder: Path, profile: Path | None = None,
            env: dict[str, str] | None = None) -> tuple[float, float, dict[str, int]]:
    """One paper-scale ``snakemake -n`` in ``workdir``: (wall s, CPU s, jobs per rule)."""
    args = ["--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
            str(REPO / "config.yaml"), "--cores", "2", "-n", "--config", "scale=paper", "data_root=data",
            "results_root=results", f"datasets={{ucf101: {{source: path, path: {folder}}}}}"]
    command = ([sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "snakemake", *args] if profile
               else [str(SNAKEMAKE), *args])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-3000:])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, planned_rules(run.stdout + run.stderr)


def case(root: Path, videos: int | None) -> tuple[Path, Path]:
    """A workdir with UCF101 registered at ``videos`` videos (None: nothing listed yet)."""
    workdir = root / f"videos-{videos or 0}"
    folder = workdir / "UCF101"
    folder.mkdir(parents=True)
    for i in range(videos or 0):  # the files a real copy has, for the fingerprint's stat walk
        (folder / f"v_{i:05d}.avi").touch()
    if videos:
        register_ucf101(workdir / "data", folder, videos)
    return workdir, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    probe = slurm_probe_seconds()
    stalled = probe is not None and probe > 1.0
    print(f"snakemake -n, paper scale, all papers; goal for {UCF101_VIDEOS:,} videos: < {GOAL_S:.0f} s wall")
    print("SLURM plugin's probe (scontrol show config): "
          + ("no scontrol here" if probe is None else f"{probe:.1f} s")
          + (": no controller answers; the last column runs with an scontrol that fails at once" if stalled else ""))
    print(f"{'UCF101 videos':>14} {'wall s (best)':>14} {'CPU s':>7} {'jobs':>6} {'clips_cut':>10}"
          + (f" {'wall s, probe at once':>22}" if stalled else ""))
    with tempfile.TemporaryDirectory(prefix="bench_dry_run_") as tmp:
        env = answering_at_once(Path(tmp)) if stalled else None
        for videos in (None, UCF101_VIDEOS // 10, UCF101_VIDEOS):
            workdir, folder = case(Path(tmp), videos)
            runs = [dry_run(workdir, folder) for _ in range(args.repeats)]
            wall, cpu, jobs = min(runs, key=lambda r: r[0])
            line = f"{wall:14.2f} {cpu:7.2f} {sum(jobs.values()):6d} {jobs.get('clips_cut', 0):10d}"
            judged = wall
            if stalled:
                judged = min(dry_run(workdir, folder, env=env)[0] for _ in range(args.repeats))
                line += f" {judged:22.2f}"
            label = "not listed" if videos is None else f"{videos:,}"
            verdict = "" if videos != UCF101_VIDEOS else "  (goal met)" if judged < GOAL_S else "  (over the goal)"
            print(f"{label:>14} {line}{verdict}")
        if args.profile:
            stats = Path(tmp) / "dry_run.prof"
            dry_run(workdir, folder, profile=stats, env=env)
            pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
