"""Reliability audit of the graph: kill -9 at each phase, rerun, same tables; two clean runs agree;
``snakemake --lint``; bad configs refused at once.

For each kill point (fetch, shard writes, stabilization, training, evaluation, table writing) the smoke
graph starts in a fresh folder, Snakemake's output is watched until a job of that phase starts, and
after a seeded random delay (for table writing: the moment its temporary file appears, if it is seen)
the whole process group gets SIGKILL. Then, as a user would: ``--unlock``, the same command again.
The outcome says whether the rerun finished, whether the killed job ran again (a half-written output
never taken as done) and whether every table equals the uninterrupted run's byte for byte.

    nice -n 10 .venv/bin/python benchmarks/audit_reliability.py                 # walker only (~15-25 min on 2 cores)
    nice -n 10 .venv/bin/python benchmarks/audit_reliability.py --papers all    # all five papers (hours)
    ... --points fetch,training --keep /tmp/audit                               # some kill points; keep the folders
    ... --points "table writing" --keep /tmp/audit --reuse-reference             # again, against the kept clean run
"""

from __future__ import annotations

import argparse
import filecmp
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

KILL_POINTS: dict[str, tuple[str, ...]] = {
    # phase -> rules whose running job marks it
    "fetch": ("data_fetch",),
    "shard writes": ("clips_cut",),
    "stabilization": ("stabilize_shard",),
    "training": ("train_model", "walker_detection_train"),
    "evaluation": ("walker_evaluate", "walker_detection_evaluate", "staticflow_evaluate", "svg_evaluate",
                   "crossconv_kl", "vgan_judge"),
    "table writing": ("walker_table", "walker_detection_table", "staticflow_tables", "svg_table",
                      "crossconv_kl_table", "vgan_tables"),
}


@dataclass
class Killed:
    phase: str
    reached: bool
    rule: str = ""
    output: str = ""
    after_s: float = 0.0
    temp_seen: bool = False
    finished_before_kill: bool = False


def command(workdir: Path, papers: str, *extra: str) -> list[str]:
    return [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(REPO / "config.yaml"), "--profile", str(REPO / "profiles" / "local"),
            "--cores", "2", *extra, "--config", "scale=smoke", f"papers=[{papers}]",
            "data_root=data", "results_root=results"]


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def run(workdir: Path, papers: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(workdir, papers, *extra), capture_output=True, text=True, env=environment())


def tables(workdir: Path) -> dict[str, Path]:
    root = workdir / "results" / "tables"
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*.csv"))}


def compare(reference: Path, other: Path) -> str:
    """'identical (N tables)' or what differs."""
    a, b = tables(reference), tables(other)
    if not a:
        return "no tables in the reference"
    missing, extra = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    different = [k for k in sorted(set(a) & set(b)) if not filecmp.cmp(a[k], b[k], shallow=False)]
    if missing or extra or different:
        return f"DIFFERENT: missing {missing}, extra {extra}, changed {different}"
    return f"identical ({len(a)} tables)"


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.tmp-*")] if folder.is_dir() else []


def kill_during(workdir: Path, papers: str, phase: str, rng: random.Random, log: Path) -> Killed:
    """Start the graph; SIGKILL its process group once a job of ``phase`` is running."""
    rules = KILL_POINTS[phase]
    said: list[str] = []
    proc = subprocess.Popen(command(workdir, papers), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=environment(), start_new_session=True)
    killed = Killed(phase, reached=False)
    started, jobid, lines = 0.0, None, iter(proc.stdout.readline, "")
    for line in lines:
        said.append(line)
        m = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line.strip())
        if m and m.group(1) in rules:
            killed.reached, killed.rule, started = True, m.group(1), time.monotonic()
            for detail in lines:  # the job block: its output and id
                said.append(detail)
                if detail.strip().startswith("output:"):
                    killed.output = detail.split(":", 1)[1].strip()
                if detail.strip().startswith("jobid:"):
                    jobid = detail.split(":", 1)[1].strip()
                    break
            break
    if killed.reached:
        delay = rng.uniform(0.5, 4.0)
        watch = workdir / "results" / "tables" if phase == "table writing" else None
        while time.monotonic() - started < (30.0 if watch else delay) and proc.poll() is None:
            if watch is not None and temporaries(watch):
                killed.temp_seen = True
                break
            time.sleep(0.002 if watch else 0.05)
        killed.after_s = time.monotonic() - started
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    said.append(proc.stdout.read())
    proc.wait()
    log.write_text("".join(said))
    killed.finished_before_kill = jobid is not None and f"Finished jobid: {jobid} " in "".join(said)
    return killed


def rerun_after(workdir: Path, papers: str, killed: Killed, reference: Path, log: Path) -> str:
    """--unlock, rerun, and say what happened."""
    unlock = run(workdir, papers, "--unlock")
    again = run(workdir, papers)
    log.write_text(unlock.stdout + unlock.stderr + again.stdout + again.stderr)
    if again.returncode != 0:
        return f"rerun FAILED (exit {again.returncode}; see {log})"
    ran_again = killed.output and re.search(rf"^\s+output: {re.escape(killed.output)}\s*$", again.stdout + again.stderr, re.M)
    if killed.finished_before_kill:
        job = "killed job had finished"
    else:
        job = "killed job rerun" if ran_again else "KILLED JOB NOT RERUN"
    leftovers = len(temporaries(workdir / "data")) + len(temporaries(workdir / "results"))
    done = run(workdir, papers, "-n")
    settled = "Nothing to be done" in done.stdout + done.stderr
    return (f"{compare(reference, workdir)}; {job}; {'up to date after' if settled else 'NOT up to date after'}"
            + (f"; {leftovers} stale temporaries left" if leftovers else ""))


def config_refusals(tmp: Path) -> list[tuple[str, str]]:
    """Bad configs: refused before any job (no data folder made), naming the key or path?"""
    missing = tmp / "no_such_folder"
    cases = [("misspelt key", "sead=1", "sead"), ("wrong type", "seed=abc", "'seed'"),
             ("missing dataset path", f"datasets={{ucf101: {{source: path, path: {missing}}}}}", str(missing))]
    rows = []
    for name, override, named in cases:
        workdir = tmp / f"config-{name.replace(' ', '-')}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        start = time.monotonic()
        result = subprocess.run([str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
                                 "--configfile", str(REPO / "config.yaml"), "--cores", "1", "--config", override],
                                capture_output=True, text=True, env=environment())
        took = time.monotonic() - start
        said = result.stdout + result.stderr
        ok = result.returncode != 0 and named in said and not (workdir / "data").exists()
        rows.append((f"config: {name} ({override.split('=')[0]})",
                     f"{'refused' if ok else 'NOT REFUSED PROPERLY'} in {took:.1f} s, naming {named}" if ok
                     else f"NOT REFUSED PROPERLY (exit {result.returncode})"))
    return rows


def lint(workdir: Path) -> str:
    workdir.mkdir(exist_ok=True)
    result = subprocess.run([str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--configfile",
                             str(REPO / "config.yaml"), "--lint", "--directory", str(workdir)],
                            capture_output=True, text=True, env=environment())
    said = result.stdout + result.stderr
    kinds: dict[str, int] = {}
    for m in re.finditer(r"^\s+\* (.+?):?$", said, re.M):
        kinds[m.group(1)] = kinds.get(m.group(1), 0) + 1
    if result.returncode == 0 and not kinds:
        return "clean"
    return "NOT CLEAN: " + "; ".join(f"{n} x {k}" for k, n in kinds.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", default="walker", help="comma-separated papers, or 'all' (default walker)")
    parser.add_argument("--points", default=",".join(KILL_POINTS), help="kill points to test")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill delays")
    parser.add_argument("--keep", help="run in this folder and keep it (default: a temporary folder, removed)")
    parser.add_argument("--reuse-reference", action="store_true",
                        help="with --keep: reuse the folder's finished uninterrupted run (skips the two clean runs)")
    args = parser.parse_args()
    from pipeline.papers import PAPERS

    papers = ",".join(PAPERS) if args.papers == "all" else args.papers
    root = Path(args.keep or tempfile.mkdtemp(prefix="audit_"))
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    rows: list[tuple[str, str]] = []
    try:
        t0 = time.monotonic()
        reference = root / "reference"
        if args.reuse_reference and tables(reference):
            rows.append(("uninterrupted run", f"{len(tables(reference))} tables, reused from {reference}"))
        else:
            first = run(reference, papers)
            (root / "reference.log").write_text(first.stdout + first.stderr)
            if first.returncode != 0:
                raise SystemExit(f"the uninterrupted run failed; see {root / 'reference.log'}")
            rows.append(("uninterrupted run", f"{len(tables(reference))} tables in {time.monotonic() - t0:.0f} s"))
            t1 = time.monotonic()
            second = root / "clean2"
            again = run(second, papers)
            same = compare(reference, second) if again.returncode == 0 else f"FAILED (exit {again.returncode})"
            rows.append(("second clean run, same seed", f"{same} ({time.monotonic() - t1:.0f} s)"))
            shutil.rmtree(second, ignore_errors=True)
        for phase in [p.strip() for p in args.points.split(",") if p.strip()]:
            workdir = root / f"kill-{phase.replace(' ', '-')}"
            shutil.rmtree(workdir, ignore_errors=True)  # every kill point starts from nothing
            killed = kill_during(workdir, papers, phase, rng, root / f"kill-{phase.replace(' ', '-')}.log")
            if not killed.reached:
                rows.append((f"kill -9 during {phase}", "phase not reached (no such job in this graph)"))
                continue
            moment = f"{killed.rule} {killed.after_s:.1f} s in" + (", temporary file seen" if killed.temp_seen else "")
            outcome = rerun_after(workdir, papers, killed, reference, root / f"rerun-{phase.replace(' ', '-')}.log")
            rows.append((f"kill -9 during {phase} ({moment})", outcome))
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        rows.append(("snakemake --lint", lint(root / "lint")))
        rows += config_refusals(root)
    finally:
        width = max(len(k) for k, _ in rows) if rows else 10
        print(f"\nReliability audit, papers={papers}, smoke scale, seed {args.seed} (folders: {root})")
        print(f"{'check':<{width}}  outcome")
        for check, outcome in rows:
            print(f"{check:<{width}}  {outcome}")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
