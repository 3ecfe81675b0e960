"""Check a Snakemake run through SLURM against SLURM's own record of every job; compare its tables.

    python -m pipeline.slurm_check --jobcomp JOBCOMP_LOG --snakemake-log RUN_LOG \\
        --slurm-results RESULTS --local-results LOCAL_RESULTS

Run by ``cluster/slurm_selftest.sh``. What each job asked for comes from Snakemake's log of the run
(every job's rule, threads and resources as Snakemake evaluated them, and the SLURM job id it was
submitted as); what SLURM gave it comes from slurmctld's job completion log (``JobCompType=
jobcomp/filetxt``: one line per finished job with its partition, time limit and TRES: cpus, memory,
GPUs), which needs no accounting database and outlives ``MinJobAge``, unlike ``scontrol show job``;
the GPUs granted come from snapshots of ``scontrol -d show job`` taken during the run (the completion
log records gres/gpu only when accounting tracks it, which needs slurmdbd).
A job checks when SLURM ran it to completion with the cpus (threads), memory (``mem_mb``), time
limit (``runtime``) and GPUs (``gpu``) its rule asked for. A group job (several shard jobs in one
sbatch, sized by Snakemake: parallel members side by side up to the profile's ``cores``, the rest
in series) checks when every member's request fits in it and its time limit is at most the
members' runtimes in series. Every CSV
under ``tables/`` of the two results folders must be byte-identical.

With ``--resume-log`` instead: the attempts of one training job run under a short time limit, each
stopped by SLURM (``TIMEOUT``) and resubmitted, each resuming from the checkpoint the last one left.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["Member", "Request", "parse_jobcomp", "parse_scontrol", "parse_requests", "compare", "tables_equal", "resume_check", "main"]


@dataclass
class Member:
    """One Snakemake job as its rule asked for it (threads, resources as Snakemake evaluated them)."""

    rule: str
    threads: int = 1
    resources: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()

    def asked(self, name: str, default: int = 0) -> int:
        value = self.resources.get(name, "")
        return int(value) if value.isdigit() else default


@dataclass
class Request:
    """One sbatch job: its Snakemake jobs (several for a group job)."""

    slurm_id: int
    members: list[Member] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return len(self.members) > 1


_FIELD = re.compile(r"(\w+)=(\S*)")


def parse_jobcomp(path: Path) -> dict[int, dict[str, str]]:
    """SLURM job id -> the fields of its jobcomp/filetxt line (JobState, Partition, TimeLimit, Tres...)."""
    jobs = {}
    for line in Path(path).read_text().splitlines():
        fields = dict(_FIELD.findall(line))
        if "JobId" in fields:
            jobs[int(fields["JobId"])] = fields
    return jobs


_GRES_GPU = re.compile(r"(?:^|\s)GRES=gpu(?::[A-Za-z]\w*)?(?::(\d+)|\(CNT:(\d+)\))")


def parse_scontrol(path: Path) -> dict[int, int]:
    """SLURM job id -> GPUs granted, from snapshots of ``scontrol -d -o show job`` (the self-test takes
    one every few seconds while the run goes on: its detail shows each node's GRES allocation, which
    the completion log leaves out unless accounting tracks the gres/gpu TRES, which needs slurmdbd)."""
    granted: dict[int, int] = {}
    if not Path(path).is_file():
        return granted
    for line in Path(path).read_text().splitlines():
        job = re.search(r"JobId=(\d+)", line)
        gres = _GRES_GPU.search(line)
        if job and gres:
            granted[int(job.group(1))] = int(gres.group(1) or gres.group(2))
    return granted


def _resources(text: str) -> dict[str, str]:
    """``tmpdir=<TBD>, mem_mb=2000, mem=2 GB, ...`` -> {name: value}."""
    return dict(part.split("=", 1) for part in text.split(", ") if "=" in part)


def parse_requests(log_text: str) -> dict[int, Request]:
    """SLURM job id -> what Snakemake asked for, from the log of a ``--executor slurm`` run.

    Snakemake announces a batch of jobs, then submits them: a job block (``rule NAME:`` with indented
    ``output:``, ``jobid: N``, ``threads:``, ``resources:``) is submitted as ``Job N has been submitted
    with SLURM jobid S (log: PATH)``; a group block (``Group job NAME (jobs in lexicogr. order):`` then
    its members' job blocks) as ``Job <group uuid> has been submitted ...``. The uuid names no member,
    and the plugin submits from several threads, so groups are not submitted in the order they were
    announced: a group submission is matched to the announced group whose members' outputs its SLURM
    log names (the job's own Snakemake prints every member's ``output:``), in announced order only
    when that log cannot be read.
    """
    members: dict[str, Member] = {}
    groups: list[list[str]] = []
    current: Member | None = None
    in_group = False
    requests: dict[int, Request] = {}
    for line in log_text.splitlines():
        stripped = re.sub(r"^\[[^]]*\]\s*", "", line.strip())
        indented = line.startswith("    ")
        if stripped.startswith("Group job "):
            groups.append([])
            in_group = True
        elif match := re.match(r"(?:localrule|rule|checkpoint|localcheckpoint) (\w+):$", stripped):
            current = Member(match.group(1))
            in_group = in_group and indented
        elif current is not None and stripped.startswith("output: "):
            current.outputs = tuple(stripped[len("output: "):].split(", "))
        elif current is not None and stripped.startswith("jobid: "):
            members[stripped.split()[1]] = current
            if in_group:
                groups[-1].append(stripped.split()[1])
        elif current is not None and stripped.startswith("threads: "):
            current.threads = int(stripped.split()[1])
        elif current is not None and stripped.startswith("resources: "):
            current.resources = _resources(stripped[len("resources: "):])
        elif match := re.match(r"Job (\S+) has been submitted with SLURM jobid (\d+)(?: \(log: (.+)\))?", stripped):
            job, slurm_id = match.group(1), int(match.group(2))
            if job in members:
                ids = [job]
            else:
                ids = groups.pop(_submitted_group(groups, members, match.group(3))) if groups else []
            requests[slurm_id] = Request(slurm_id, [members[i] for i in ids])
    return requests


def _submitted_group(groups: list[list[str]], members: dict[str, Member], slurm_log: str | None) -> int:
    """Which announced group a group submission is: the first whose members' outputs its SLURM log
    names; the first announced when the log cannot be read or matches none."""
    path = Path(slurm_log) if slurm_log else None
    if path is None or not path.is_file():
        return 0
    named = {out for line in path.read_text(errors="replace").splitlines()
             if (text := line.strip()).startswith("output: ") for out in text[len("output: "):].split(", ")}
    for index, group in enumerate(groups):
        outputs = {out for i in group for out in members[i].outputs}
        if outputs and outputs <= named:
            return index
    return 0


def _minutes(limit: str) -> int:
    """SLURM's time limit (``15``, ``2:00:00``, ``1-00:00:00``) in minutes."""
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if len(parts) == 1:
        minutes = parts[0]
    else:
        hours, mins = (parts + [0, 0])[:2] if len(parts) == 3 else (0, parts[0])
        minutes = hours * 60 + mins
    return minutes + int(days or 0) * 1440


def _tres(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def _mem_mb(value: str) -> int:
    units = {"M": 1, "G": 1024, "T": 1024 * 1024}
    return int(float(value[:-1]) * units[value[-1]]) if value[-1] in units else int(value)


def _fits(req: Request, got: dict[str, int]) -> bool:
    """A job: SLURM gave exactly what its rule asked for. A group job: every member's request fits
    in it, and its time limit is no more than its members' runtimes in series (Snakemake's layering)."""
    threads = [m.threads for m in req.members]
    mem = [m.asked("mem_mb") for m in req.members]
    runtime = [m.asked("runtime") for m in req.members]
    gpus = [m.asked("gpu") for m in req.members]
    if not req.is_group:
        return (threads[0], mem[0], runtime[0], gpus[0]) == (got["cpus"], got["mem_mb"], got["minutes"], got["gpus"])
    return (max(threads) <= got["cpus"] and max(mem) <= got["mem_mb"] and max(gpus) <= got["gpus"]
            and max(runtime) <= got["minutes"] <= sum(runtime))


def compare(requests: dict[int, Request], jobcomp: dict[int, dict[str, str]],
            gpus: dict[int, int] | None = None) -> pd.DataFrame:
    """One row per sbatch job: asked (rule's threads, mem_mb, runtime, gpu; a group's largest member)
    vs got (SLURM's record; GPUs from ``gpus``, ``parse_scontrol``, when given), and whether it checks
    (``_fits``)."""
    rows = []
    for slurm_id, req in sorted(requests.items()):
        record = jobcomp.get(slurm_id, {})
        tres = _tres(record.get("Tres", ""))
        got = {"cpus": int(tres.get("cpu", 0)), "mem_mb": _mem_mb(tres["mem"]) if "mem" in tres else 0,
               "minutes": _minutes(record["TimeLimit"]) if "TimeLimit" in record else 0,
               "gpus": (gpus or {}).get(slurm_id, int(tres.get("gres/gpu", 0)))}
        asked = {"cpus": max(m.threads for m in req.members), "mem_mb": max(m.asked("mem_mb") for m in req.members),
                 "minutes": max(m.asked("runtime") for m in req.members), "gpus": max(m.asked("gpu") for m in req.members)}
        rules = sorted({m.rule for m in req.members})
        rows.append({"slurm_id": slurm_id, "rule": ("group: " if req.is_group else "") + "+".join(rules),
                     "jobs": len(req.members), "state": record.get("JobState", "no record"),
                     "partition": record.get("Partition", ""),
                     **{k: f"{asked[k]}/{got[k]}" for k in asked},
                     "ok": record.get("JobState") == "COMPLETED" and _fits(req, got)})
    return pd.DataFrame(rows)


def tables_equal(slurm_results: Path, local_results: Path) -> tuple[int, list[str]]:
    """(CSV tables compared, those that differ or exist on one side only) under both ``tables/``."""
    names = {p.relative_to(root / "tables").as_posix() for root in (slurm_results, local_results)
             for p in (root / "tables").rglob("*.csv")}
    differ = [name for name in sorted(names)
              if not ((slurm_results / "tables" / name).is_file() and (local_results / "tables" / name).is_file()
                      and filecmp.cmp(slurm_results / "tables" / name, local_results / "tables" / name, shallow=False))]
    return len(names), differ


def resume_check(log_text: str, jobcomp: dict[int, dict[str, str]], rule: str = "train_model") -> pd.DataFrame:
    """The sbatch jobs of ``rule`` in a run under a short time limit, in order: SLURM's state for each
    (TIMEOUT when the limit stopped it) and the step its training resumed at, read from the job's
    SLURM log (kept: ``slurm-keep-successful-logs``; the training loop logs ``resumed at step N of M``)."""
    rows = []
    for match in re.finditer(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.", log_text):
        slurm_id, log = int(match.group(2)), Path(match.group(3))
        if f"rule_{rule}" not in log.parts:
            continue
        text = log.read_text() if log.is_file() else ""
        resumed = re.findall(r"resumed at step (\d+) of (\d+)", text)
        rows.append({"slurm_id": slurm_id, "state": jobcomp.get(slurm_id, {}).get("JobState", "no record"),
                     "time_limit": jobcomp.get(slurm_id, {}).get("TimeLimit", ""),
                     "resumed_at_step": int(resumed[-1][0]) if resumed else 0,
                     "of_steps": int(resumed[-1][1]) if resumed else None})
    return pd.DataFrame(rows, columns=["slurm_id", "state", "time_limit", "resumed_at_step", "of_steps"])



def _report_resume(attempts: pd.DataFrame) -> int:
    """Print the attempts; pass when a time limit stopped one, a later one resumed past step 0, the last finished."""
    print("one training job under a short time limit, attempt by attempt (SLURM's state, the step it resumed at):")
    print(attempts.to_string(index=False))
    timed_out = attempts["state"].eq("TIMEOUT")
    ok = (len(attempts) > 1 and timed_out.any() and attempts["state"].iloc[-1] == "COMPLETED"
          and (attempts["resumed_at_step"].iloc[1:] > 0).all())
    print(f"attempts: {len(attempts)}, stopped by the time limit: {int(timed_out.sum())}, every retry resumed from "
          f"its checkpoint: {bool((attempts['resumed_at_step'].iloc[1:] > 0).all())}, finished: "
          f"{len(attempts) > 0 and attempts['state'].iloc[-1] == 'COMPLETED'}")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.slurm_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobcomp", type=Path, required=True, help="slurmctld's JobCompLoc (jobcomp/filetxt)")
    parser.add_argument("--snakemake-log", type=Path, help="stdout+stderr of the SLURM run")
    parser.add_argument("--slurm-results", type=Path)
    parser.add_argument("--local-results", type=Path)
    parser.add_argument("--scontrol-log", type=Path, help="snapshots of `scontrol -d -o show job` (GPUs granted)")
    parser.add_argument("--resume-log", type=Path, help="instead: stdout+stderr of a training run under a short time limit")
    args = parser.parse_args(argv)
    if args.resume_log:
        return _report_resume(resume_check(args.resume_log.read_text(), parse_jobcomp(args.jobcomp)))
    if not (args.snakemake_log and args.slurm_results and args.local_results):
        parser.error("--snakemake-log, --slurm-results and --local-results are required (or --resume-log)")
    requests = parse_requests(args.snakemake_log.read_text())
    if not requests:
        print(f"no job submitted through sbatch in {args.snakemake_log}", file=sys.stderr)
        return 1
    jobs = compare(requests, parse_jobcomp(args.jobcomp), parse_scontrol(args.scontrol_log) if args.scontrol_log else None)
    per_rule = jobs.groupby(["rule", "partition", "cpus", "mem_mb", "minutes", "gpus"], as_index=False).agg(
        sbatch_jobs=("slurm_id", "size"), snakemake_jobs=("jobs", "sum"), completed=("state", lambda s: (s == "COMPLETED").sum()),
        ok=("ok", "all"))
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print("asked/got (cpus: rule threads / SLURM cpus; mem_mb; minutes: runtime / time limit; gpus; a group: its largest member / the group's):")
        print(per_rule.to_string(index=False))
    n_tables, differ = tables_equal(args.slurm_results, args.local_results)
    bad = jobs[~jobs["ok"]]
    print(f"sbatch jobs: {len(jobs)} ({jobs['jobs'].sum()} Snakemake jobs), with the resources their rules asked "
          f"for and COMPLETED: {len(jobs) - len(bad)}/{len(jobs)}; GPU jobs: "
          f"{(jobs['gpus'].str.split('/').str[1] != '0').sum()}")
    print(f"tables: {n_tables - len(differ)}/{n_tables} CSVs under tables/ identical to the local run"
          + (f"; differ: {', '.join(differ)}" if differ else ""))
    if len(bad):
        print(bad.to_string(index=False))
    return 0 if not len(bad) and not differ and n_tables else 1


if __name__ == "__main__":
    sys.exit(main())
