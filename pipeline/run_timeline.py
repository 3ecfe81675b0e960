"""When each job of a Snakemake run ran, and how long cores sat idle: read from the run's log.

Benchmark files (``pipeline.time_summary``) say how long each job took, not when it ran, so they
cannot tell a graph whose cores were busy from first job to last from one that left a core idle
while a long job ran alone. Snakemake's own log (``.snakemake/log/<date>.snakemake.log``, or what
the run printed, where a job's progress bar may run into a stamp) stamps every job's start and
finish to the second, with its rule, wildcards and threads (after scaling to ``--cores``). From
those: the run's wall time, the core-seconds its jobs used, the core-seconds no job used (idle),
the longest stretches with a core idle and what ran then, and a chart of the jobs over time
coloured by paper.

    python -m pipeline.run_timeline .snakemake/log/<date>.snakemake.log results/benchmarks

writes ``timeline.csv`` (one row per job) and ``timeline.png`` into the folder and prints the rest.
Seconds are the log's: jobs under a second count as zero, so idle time is exact to a second per job.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.atomic import save_figure, write_csv
from pipeline.time_summary import rule_group

__all__ = ["JOB_COLUMNS", "read_log", "parse_log", "busy_cores", "idle_stretches", "summary",
           "timeline_figure", "main"]

JOB_COLUMNS: tuple[str, ...] = ("jobid", "rule", "wildcards", "threads", "start_s", "end_s", "finished", "group")
_STAMP = re.compile(r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")  # after a job's progress bar too
_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
_FIELD = re.compile(r"^\s+(jobid|wildcards|threads): (.*)$")
_FINISHED = re.compile(r"^Finished jobid: (\d+)")
_CORES = re.compile(r"^Provided cores: (\d+)$", flags=re.M)


def parse_log(text: str) -> tuple[pd.DataFrame, int | None]:
    """The jobs of one Snakemake log (``JOB_COLUMNS``; seconds from the first job's start; a job still
    running or killed, ``finished`` False, ends at the log's last stamp) and the cores the run was
    given (None if not stated)."""
    stamp, job, jobs = None, None, {}
    for line in text.splitlines():
        if m := _STAMP.search(line):
            stamp = datetime.strptime(m[1], "%a %b %d %H:%M:%S %Y").timestamp()
        elif m := _JOB.match(line):
            job = {"rule": m[1], "wildcards": "", "threads": 1, "start_s": stamp, "end_s": np.nan, "finished": False}
        elif (m := _FIELD.match(line)) and job is not None:
            if m[1] == "jobid":
                jobs[int(m[2])] = job
                job["jobid"] = int(m[2])
            else:
                job[m[1]] = int(m[2]) if m[1] == "threads" else m[2]
        elif (m := _FINISHED.match(line)) and int(m[1]) in jobs:
            jobs[int(m[1])].update(end_s=stamp, finished=True)
    cores = _CORES.search(text)
    table = pd.DataFrame(list(jobs.values()), columns=list(JOB_COLUMNS[:-1]))
    if not table.empty:
        table["end_s"] = table["end_s"].fillna(stamp)
        first = table["start_s"].min()
        table[["start_s", "end_s"]] -= first
    table["group"] = [_group(rule, wildcards) for rule, wildcards in zip(table["rule"], table["wildcards"])]
    return table.sort_values(["start_s", "jobid"], ignore_index=True), int(cores[1]) if cores else None


def _group(rule: str, wildcards: str) -> str:
    """The paper a job belongs to (training jobs carry it as a wildcard), 'stages' or 'report'."""
    paper = re.search(r"\bpaper=(\w+)", wildcards)
    return rule_group(rule, paper[1] if paper else None)


def read_log(path: str | Path) -> tuple[pd.DataFrame, int | None]:
    """``parse_log`` of a file; a log without any job is refused, naming the file."""
    path = Path(path)
    jobs, cores = parse_log(path.read_text(errors="replace"))
    if jobs.empty:
        raise ValueError(f"{path}: no job in this file (is it a Snakemake log of a run, not a dry run?)")
    return jobs, cores


def busy_cores(jobs: pd.DataFrame, cores: int) -> np.ndarray:
    """Cores in use in each second of the run (the running jobs' threads, at most ``cores``)."""
    seconds = int(jobs["end_s"].max()) if len(jobs) else 0
    delta = np.zeros(seconds + 1)
    for start, end, threads in zip(jobs["start_s"].astype(int), jobs["end_s"].astype(int), jobs["threads"]):
        delta[start] += threads
        delta[end] -= threads
    return np.minimum(np.cumsum(delta)[:seconds], cores)


def idle_stretches(jobs: pd.DataFrame, cores: int, top: int = 10) -> pd.DataFrame:
    """The ``top`` stretches with a core idle, the most idle core-seconds first: start, seconds,
    idle core-seconds and the jobs running then (``rule[wildcards]``)."""
    busy = busy_cores(jobs, cores)
    short = np.flatnonzero(busy < cores)
    rows = []
    for run in np.split(short, np.flatnonzero(np.diff(short) > 1) + 1) if len(short) else []:
        start, stop = int(run[0]), int(run[-1]) + 1
        running = jobs[(jobs["start_s"] <= start) & (jobs["end_s"] > start)]
        rows.append({"start_s": start, "seconds": stop - start, "idle_core_s": float((cores - busy[start:stop]).sum()),
                     "running": ", ".join(f"{r}[{w}]" if w else r for r, w in zip(running["rule"], running["wildcards"]))})
    table = pd.DataFrame(rows, columns=["start_s", "seconds", "idle_core_s", "running"])
    return table.sort_values(["idle_core_s", "start_s"], ascending=[False, True], ignore_index=True).head(top)


def summary(jobs: pd.DataFrame, cores: int) -> dict[str, float]:
    """Wall seconds, jobs, core-seconds used and idle, and the busy share of the run's capacity."""
    busy = busy_cores(jobs, cores)
    capacity = cores * len(busy)
    return {"wall_s": float(len(busy)), "jobs": int(jobs["finished"].sum()),
            "unfinished": int((~jobs["finished"]).sum()), "cores": cores,
            "busy_core_s": float(busy.sum()), "idle_core_s": float(capacity - busy.sum()),
            "busy_share": float(busy.sum() / capacity) if capacity else float("nan")}


def timeline_figure(jobs: pd.DataFrame, cores: int) -> Figure:
    """Top: every job as a bar on its own lane (lanes reused once free), coloured by paper; bottom:
    cores in use over time, the idle ones shaded."""
    groups = sorted(jobs["group"].unique())
    colours = {g: f"C{i % 10}" for i, g in enumerate(groups)}
    fig = Figure(figsize=(12, 6), constrained_layout=True)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    free_at: list[float] = []
    for start, end, group in zip(jobs["start_s"], jobs["end_s"], jobs["group"]):
        lane = next((i for i, t in enumerate(free_at) if t <= start), len(free_at))
        if lane == len(free_at):
            free_at.append(end)
        free_at[lane] = end
        top.barh(lane, max(end - start, 1) / 60, left=start / 60, color=colours[group], height=0.8,
                 edgecolor="white", linewidth=0.3)
    top.legend(handles=[top.barh(0, 0, color=c, label=g) for g, c in colours.items()], loc="upper right",
               ncols=min(len(colours), 4), fontsize="small")
    top.set_ylabel("job lane")
    top.set_title(f"{len(jobs)} jobs over {jobs['end_s'].max() / 60:.1f} min on {cores} cores")
    busy = busy_cores(jobs, cores)
    minutes = np.arange(len(busy) + 1) / 60
    bottom.stairs(busy, minutes, fill=True, color="C0", label="in use")
    bottom.stairs(np.full(len(busy), cores), minutes, baseline=busy, fill=True, color="0.85", label="idle")
    bottom.set_ylim(0, cores)
    bottom.set_xlabel("minutes from the first job")
    bottom.set_ylabel("cores")
    bottom.legend(loc="upper right", fontsize="small")
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path, help="a Snakemake log: .snakemake/log/<date>.snakemake.log")
    parser.add_argument("out", type=Path, help="folder for timeline.csv and timeline.png (e.g. results/benchmarks)")
    parser.add_argument("--cores", type=int, help="the run's cores (default: 'Provided cores' in the log)")
    parser.add_argument("--top", type=int, default=10, help="idle stretches to list")
    args = parser.parse_args(argv)
    jobs, logged = read_log(args.log)
    cores = args.cores or logged
    if not cores:
        parser.error(f"{args.log}: no 'Provided cores' line; pass --cores")
    totals = summary(jobs, cores)
    print(f"{args.log}: {totals['jobs']} jobs ({totals['unfinished']} unfinished) in {totals['wall_s'] / 60:.1f} min "
          f"on {cores} cores: {totals['busy_core_s']:.0f} core-s in jobs, {totals['idle_core_s']:.0f} idle "
          f"({totals['busy_share']:.0%} busy)")
    stretches = idle_stretches(jobs, cores, args.top)
    with pd.option_context("display.max_colwidth", 160, "display.width", 220):
        print(stretches.to_string(index=False) if len(stretches) else "no second with a core idle")
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(jobs, args.out / "timeline.csv")
    save_figure(timeline_figure(jobs, cores), args.out / "timeline.png")
    print(f"wrote {args.out / 'timeline.csv'} and {args.out / 'timeline.png'}")


if __name__ == "__main__":
    main()
