"""The run timeline: jobs, busy and idle cores read from a Snakemake log written here by hand."""

from pathlib import Path

import pytest

from pipeline import run_timeline

LOG = """Building DAG of jobs...
Provided cores: 2
Select jobs to execute...
[Sat Dec  5 10:00:00 2026]
localrule data_fetch:
    output: d/sources/ucf101.json
    jobid: 3
    wildcards: dataset=ucf101
    threads: 2
    resources: tmpdir=/tmp
render ucf101:  50%|#####     | 1/2 [00:01<00:01]\rrender ucf101: 100%|##########| 2/2 [Sat Dec  5 10:00:10 2026]
Finished jobid: 3 (Rule: data_fetch)
[Sat Dec  5 10:00:10 2026]
localrule train_model:
    jobid: 7
    wildcards: paper=walker, dataset=ucf101, variant=cvae, seeddir=
[Sat Dec  5 10:00:10 2026]
localcheckpoint walker_table:
    jobid: 9
[Sat Dec  5 10:00:20 2026]
Finished jobid: 9 (Rule: walker_table)
[Sat Dec  5 10:00:40 2026]
Finished jobid: 7 (Rule: train_model)
[Sat Dec  5 10:00:40 2026]
localrule svg_evaluate:
    jobid: 11
    wildcards: dataset=smmnist
[Sat Dec  5 10:00:45 2026]
Terminating processes on user request, this might take some time.
"""


def test_jobs_their_times_threads_and_papers_come_from_the_log() -> None:
    jobs, cores = run_timeline.parse_log(LOG)
    assert cores == 2
    assert jobs["rule"].tolist() == ["data_fetch", "train_model", "walker_table", "svg_evaluate"]
    assert jobs["start_s"].tolist() == [0, 10, 10, 40]
    assert jobs["end_s"].tolist() == [10, 40, 20, 45]  # the last, killed, ends at the log's last stamp
    assert jobs["finished"].tolist() == [True, True, True, False]
    assert jobs["threads"].tolist() == [2, 1, 1, 1]
    assert jobs["group"].tolist() == ["stages", "walker", "walker", "svg"]


def test_idle_core_seconds_are_the_capacity_no_job_used() -> None:
    jobs, cores = run_timeline.parse_log(LOG)
    busy = run_timeline.busy_cores(jobs, cores)
    assert busy.tolist() == [2] * 10 + [2] * 10 + [1] * 20 + [1] * 5
    totals = run_timeline.summary(jobs, cores)
    assert totals["wall_s"] == 45 and totals["jobs"] == 3 and totals["unfinished"] == 1
    assert totals["busy_core_s"] == 2 * 10 + 30 + 10 + 5 and totals["idle_core_s"] == 25
    assert totals["busy_share"] == pytest.approx(65 / 90)
    stretches = run_timeline.idle_stretches(jobs, cores)
    assert stretches[["start_s", "seconds", "idle_core_s"]].values.tolist() == [[20, 25, 25.0]]
    assert stretches["running"][0] == "train_model[paper=walker, dataset=ucf101, variant=cvae, seeddir=]"
    # one core more and nothing else changes: every second leaves a core more idle
    assert run_timeline.summary(jobs, 3)["idle_core_s"] == 25 + 45


def test_the_command_writes_the_job_table_and_the_chart(tmp_path: Path, capsys) -> None:
    log = tmp_path / "run.snakemake.log"
    log.write_text(LOG)
    run_timeline.main([str(log), str(tmp_path / "out")])
    said = capsys.readouterr().out
    assert "3 jobs (1 unfinished) in 0.8 min on 2 cores: 65 core-s in jobs, 25 idle (72% busy)" in said
    assert len((tmp_path / "out" / "timeline.csv").read_text().splitlines()) == 1 + 4
    assert (tmp_path / "out" / "timeline.png").stat().st_size > 5000


def test_a_log_without_jobs_is_refused_naming_the_file(tmp_path: Path) -> None:
    dry = tmp_path / "dry.log"
    dry.write_text("Building DAG of jobs...\nJob stats:\n")
    with pytest.raises(ValueError, match="dry.log: no job"):
        run_timeline.read_log(dry)
