"""Running one paper's part of the graph at smoke scale, as the pipeline tests do."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

STATICFLOW_CHAIN = ("results/tables/hmdb51_flow_validation.csv", "results/tables/hmdb51_flow_test.csv",
                    "results/figures/hmdb51_flow_confusion.png")
"""What the session's staticflow smoke chain builds (conftest.staticflow_chain): both tables and a figure."""


def run_paper(workdir: Path, paper: str, *args: str, config: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``snakemake <args>`` in ``workdir`` on the embedded config at smoke scale, ``paper`` only.

    ``config``: further ``key=value`` overrides (``--config`` takes them all at once).
    """
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(REPO / "config.yaml"), "--cores", "2", *args,
               "--config", "scale=smoke", f"papers=[{paper}]", "data_root=data", "results_root=results", *config]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def planned_rules(output: str) -> dict[str, int]:
    """The job stats table of a (dry) run: rule -> job count."""
    block = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}


def executed_jobs(output: str) -> dict[str, int]:
    """Jobs a run started, from its log (``rule X:`` / ``localrule X:`` / ``checkpoint X:`` blocks): rule -> count."""
    counts: dict[str, int] = {}
    for m in re.finditer(r"^(?:local)?(?:rule|checkpoint) (\w+):$", output, re.M):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def run_log(workdir: Path) -> str:
    """The Snakemake log of the first run in ``workdir`` (``.snakemake/log/`` names sort by start time)."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    return logs[0].read_text()
