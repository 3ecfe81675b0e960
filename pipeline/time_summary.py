"""Where the graph's time goes: Snakemake's per-job benchmark files summed per rule.

Every rule writes a Snakemake ``benchmark:`` file, ``<results_root>/benchmarks/<rule>/<wildcards>.tsv``
(wall seconds ``s``, ``cpu_time``, ``max_rss`` in MB, ...; one line per repeat). This reads
them all and says, per rule, how many jobs ran, their total and mean wall time, the longest job,
CPU time, the largest resident memory and the rule's share of the summed wall time, sorted with
the most expensive rule first: the table that tells which stage to speed up or give more
resources. Each file holds the last run of its job, so the summary describes the graph as it
stands on disk, whichever runs built it.

    python -m pipeline.time_summary results/benchmarks   # prints it, writes summary.csv and summary.png there

Then the same jobs per paper (``group``: the paper a rule is named after, or whose model it trains;
``stages`` for the shared data stages, ``report`` for the report's pages), with their job time in minutes
on ``--cores`` cores (default 2): the figure the issues' budgets name ("adds at most 8 minutes to the
whole default graph on 2 cores"), written to ``summary_papers.csv``.

Short jobs (under Snakemake's first sampling interval) have no memory or CPU figures ("-" in the
file): they count with their wall time and an empty memory/CPU cell.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.atomic import save_figure, write_csv

__all__ = ["SUMMARY_COLUMNS", "GROUP_COLUMNS", "rule_group", "read_benchmarks", "summarize", "summarize_groups",
           "time_figure", "write_summary", "main"]

SUMMARY_COLUMNS: tuple[str, ...] = (
    "rule", "jobs", "total_s", "mean_s", "max_s", "cpu_s", "max_rss_mb", "share",
)
GROUP_COLUMNS: tuple[str, ...] = ("group", "jobs", "total_s", "minutes_on_cores", "share")
STAGES: tuple[str, ...] = ("data", "clips", "stabilize", "flow", "trajectories")
"""Rule-name prefixes of the shared stages (every other rule is named after its paper)."""
TRAINING_RULE = "train_model"
"""The one rule named after no paper: its jobs' paper is their first wildcard (and benchmark folder)."""


def rule_group(rule: str, paper: str | None = None) -> str:
    """The paper a job of ``rule`` belongs to (``paper``: its paper wildcard, for training jobs), 'stages' or
    'report'."""
    if paper:
        return paper
    prefix = rule.split("_")[0]
    return "stages" if prefix in STAGES else "report" if prefix in ("page", "all", "report") else prefix


def read_benchmarks(root: str | Path) -> pd.DataFrame:
    """One row per job: ``rule`` (the first folder under ``root``), ``job`` (the rest of the path), ``group``
    (``rule_group``), ``wall_s``, ``cpu_s``, ``max_rss_mb`` (repeats averaged; memory is the largest repeat)."""
    root = Path(root)
    rows = []
    for path in sorted(root.glob("*/**/*.tsv")):
        bench = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
        if bench.empty or "s" not in bench:
            raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column or no rows)")
        relative = path.relative_to(root)
        rule = relative.parts[0]
        paper = relative.parts[1] if rule == TRAINING_RULE and len(relative.parts) > 2 else None
        rows.append({"rule": rule, "job": relative.with_suffix("").relative_to(rule).as_posix(),
                     "group": rule_group(rule, paper),
                     "wall_s": float(bench["s"].mean()),
                     "cpu_s": float(bench["cpu_time"].mean()) if bench["cpu_time"].notna().any() else np.nan,
                     "max_rss_mb": float(bench["max_rss"].max()) if bench["max_rss"].notna().any() else np.nan})
    return pd.DataFrame(rows, columns=["rule", "job", "group", "wall_s", "cpu_s", "max_rss_mb"])


def summarize(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: jobs, total/mean/max wall seconds, CPU seconds, max RSS (MB), share of all wall time;
    the most expensive rule first (ties by name, so the order is stable)."""
    if jobs.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    grouped = jobs.groupby("rule")
    summary = pd.DataFrame({
        "jobs": grouped.size(),
        "total_s": grouped["wall_s"].sum(),
        "mean_s": grouped["wall_s"].mean(),
        "max_s": grouped["wall_s"].max(),
        "cpu_s": grouped["cpu_s"].sum(min_count=1),
        "max_rss_mb": grouped["max_rss_mb"].max(),
    }).reset_index()
    total = summary["total_s"].sum()
    summary["share"] = summary["total_s"] / total if total > 0 else 0.0
    summary = summary.sort_values(["total_s", "rule"], ascending=[False, True], kind="stable")
    return summary[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def summarize_groups(jobs: pd.DataFrame, cores: int = 2) -> pd.DataFrame:
    """Per group (paper, 'stages', 'report'): jobs, summed wall seconds, those as minutes of ``cores``
    cores kept busy, share of all wall time; the most expensive first."""
    if cores < 1:
        raise ValueError(f"cores must be at least 1, got {cores}")
    if jobs.empty:
        return pd.DataFrame(columns=list(GROUP_COLUMNS))
    grouped = jobs.groupby("group")
    summary = pd.DataFrame({"jobs": grouped.size(), "total_s": grouped["wall_s"].sum()}).reset_index()
    summary["minutes_on_cores"] = summary["total_s"] / cores / 60
    total = summary["total_s"].sum()
    summary["share"] = summary["total_s"] / total if total > 0 else 0.0
    summary = summary.sort_values(["total_s", "group"], ascending=[False, True], kind="stable")
    return summary[list(GROUP_COLUMNS)].reset_index(drop=True)


def time_figure(summary: pd.DataFrame, path: str | Path) -> Path:
    """Horizontal bars of total wall time per rule (largest on top), labelled with jobs and share."""
    n = max(len(summary), 1)
    fig = Figure(figsize=(8, 1.0 + 0.28 * n))
    ax = fig.add_subplot()
    y = np.arange(len(summary))[::-1]
    ax.barh(y, summary["total_s"], color="tab:blue")
    ax.set_yticks(y, summary["rule"], fontsize=7)
    for yi, (_, row) in zip(y, summary.iterrows()):
        ax.text(row["total_s"], yi, f" {row['jobs']} jobs, {100 * row['share']:.1f}%", va="center", fontsize=6)
    ax.set_xlabel("wall seconds, summed over the rule's jobs")
    total = summary["total_s"].sum()
    ax.set_title(f"Where the graph's time goes: {int(summary['jobs'].sum())} jobs, {total:.0f} s summed", fontsize=9)
    ax.margins(x=0.25)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def write_summary(root: str | Path, csv_path: str | Path | None = None,
                  figure_path: str | Path | None = None, cores: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read ``root``'s benchmark files, publish the per-rule CSV and bar chart and the per-group CSV
    (default: beside them, the groups' as ``summary_papers.csv``); returns (per rule, per group)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no benchmark folder (run the graph first; every rule writes one)")
    jobs = read_benchmarks(root)
    summary, groups = summarize(jobs), summarize_groups(jobs, cores)
    csv_path = Path(csv_path or root / "summary.csv")
    write_csv(summary, csv_path)
    write_csv(groups, csv_path.with_name(csv_path.stem + "_papers.csv"))
    time_figure(summary, figure_path or root / "summary.png")
    return summary, groups


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.time_summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default="results/benchmarks", help="the benchmarks folder")
    parser.add_argument("--csv", help="where the table goes (default: <root>/summary.csv)")
    parser.add_argument("--figure", help="where the bar chart goes (default: <root>/summary.png)")
    parser.add_argument("--cores", type=int, default=2, help="cores the per-paper minutes assume (default: 2)")
    args = parser.parse_args(argv)
    summary, groups = write_summary(args.root, args.csv, args.figure, args.cores)
    with pd.option_context("display.width", 160, "display.max_rows", None):
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print(f"\nper paper (minutes_on_cores: the job time spread over {args.cores} busy cores)")
        print(groups.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
