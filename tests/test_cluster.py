"""Cluster resources (pipeline/cluster.py), the SLURM profile, and the self-test's checker
(pipeline/slurm_check.py) on log lines in the formats Snakemake 9 and Slurm 22.05 write."""

import re
from pathlib import Path

import pytest
import yaml

from pipeline import cluster
from pipeline.slurm_check import compare, parse_jobcomp, parse_requests, tables_equal

REPO = Path(__file__).resolve().parents[1]


def test_a_retry_asks_attempt_times_the_first_request() -> None:
    res = cluster.resources("shard", "paper")
    mem, minutes = cluster.KINDS["shard"]["paper"]
    assert [res["mem_mb"](None, a) for a in (1, 2, 3)] == [mem, 2 * mem, 3 * mem]
    assert [res["runtime"](None, a) for a in (1, 2)] == [minutes, 2 * minutes]


def test_paper_training_asks_for_its_measured_time_left_once_its_log_shows_a_speed(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    res = cluster.resources("train", "paper", training=lambda w: (log, 10_000))
    assert res["runtime"](None, 1) == cluster.PAPER_TRAIN_FIRST_HOURS * 60  # nothing measured yet
    # 2 s per step, stopped by the time limit at step 4,000: 6,000 steps left = 200 min, +25%
    log.write_text("step,wall_seconds,loss\n1000,2000,0.5\n4000,8000,0.4\n")
    assert res["runtime"](None, 2) == 251
    smoke = cluster.resources("train", "smoke", training=lambda w: (log, 10_000))
    assert smoke["runtime"](None, 1) == cluster.KINDS["train"]["smoke"][1]  # measured only at paper scale


def test_an_unknown_kind_or_scale_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: light, data"):
        cluster.resources("tiny", "smoke")
    with pytest.raises(KeyError, match="known: smoke, demo, paper"):
        cluster.resources("light", "huge")


def _rule_blocks():
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=(?:rule|checkpoint) )", smk.read_text(), flags=re.M)[1:]:
            yield re.match(r"(?:rule|checkpoint) (\w+):", block).group(1), block


def test_every_rule_asks_for_memory_and_time_of_its_kind() -> None:
    for name, block in _rule_blocks():
        kind = re.search(r'\*\*job_resources\("(\w+)"', block)
        assert kind and kind.group(1) in cluster.KINDS, f"rule {name}"


def test_slurm_profile_sends_every_gpu_rule_to_the_gpu_partition_and_groups_only_shard_rules() -> None:
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    gpu_rules = {name for name, block in _rule_blocks() if re.search(r"^\s+gpu=", block, re.M)}
    assert gpu_rules == set(profile["set-resources"])  # none missing, none stale
    assert all(r["slurm_partition"] for r in profile["set-resources"].values())
    rules = dict(_rule_blocks())
    grouped = {entry.split("=")[0] for entry in profile["groups"]}
    assert grouped <= set(rules) and all("shard=" in rules[r] or "{shard}" in rules[r] for r in grouped)
    assert "cpus_per_task" not in profile["default-resources"]  # rules' threads decide the cpus
    assert profile["slurm-status-command"] == "squeue" and profile["slurm-keep-successful-logs"] is True


LOG = """\
[Thu Dec  3 17:33:55 2026]
checkpoint data_list:
    input: data/sources/kth.json
    jobid: 74
    wildcards: dataset=kth
    threads: 2
    resources: tmpdir=<TBD>, mem_mb=2000, mem=2 GB, slurm_partition=cpu, runtime=15
[Thu Dec  3 17:33:55 2026]
rule train_model:
    jobid: 12
    threads: 2
    resources: tmpdir=<TBD>, mem_mb=2000, mem=2 GB, slurm_partition=gpu, runtime=15, gpu=1
Job 74 has been submitted with SLURM jobid 18 (log: .snakemake/slurm_logs/rule_data_list/kth/18.log).
Job 12 has been submitted with SLURM jobid 19 (log: .snakemake/slurm_logs/rule_train_model/19.log).
Select jobs to execute...
[Thu Dec  3 17:36:27 2026] Group job shard (jobs in lexicogr. order):

    [Thu Dec  3 17:36:27 2026]
    rule clips_cut:
        jobid: 185
        resources: tmpdir=<TBD>, mem_mb=1500, mem=1.5 GB, slurm_partition=cpu, runtime=10
    [Thu Dec  3 17:36:27 2026]
    rule stabilize_shard:
        jobid: 186
        resources: tmpdir=<TBD>, mem_mb=1500, mem=1.5 GB, slurm_partition=cpu, runtime=10
Job fbfae68b-4d4c-5f0e-8d4f-705fad727026 has been submitted with SLURM jobid 36 (log: x/36.log).
"""
JOBCOMP = """\
JobId=18 UserId=root(0) GroupId=root(0) Name=6c5d JobState=COMPLETED Partition=cpu TimeLimit=15 NodeCnt=1 ProcCnt=2 Tres=cpu=2,mem=2000M,node=1,billing=2 Account= ExitCode=0:0
JobId=19 UserId=root(0) GroupId=root(0) Name=6c5d JobState=COMPLETED Partition=gpu TimeLimit=15 NodeCnt=1 ProcCnt=2 Tres=cpu=2,mem=2000M,node=1,billing=2,gres/gpu=1 Account= ExitCode=0:0
JobId=36 UserId=root(0) GroupId=root(0) Name=6c5d JobState=COMPLETED Partition=cpu TimeLimit=00:20:00 NodeCnt=1 ProcCnt=2 Tres=cpu=2,mem=3000M,node=1,billing=2 Account= ExitCode=0:0
"""


def test_checker_pairs_each_sbatch_job_with_its_rules_request_and_slurms_record(tmp_path: Path) -> None:
    (tmp_path / "jobcomp.log").write_text(JOBCOMP)
    requests = parse_requests(LOG)
    assert {k: [m.rule for m in r.members] for k, r in requests.items()} == {
        18: ["data_list"], 19: ["train_model"], 36: ["clips_cut", "stabilize_shard"]}
    jobs = compare(requests, parse_jobcomp(tmp_path / "jobcomp.log")).set_index("slurm_id")
    assert jobs["ok"].all()
    assert jobs.loc[19, "gpus"] == "1/1" and jobs.loc[19, "partition"] == "gpu"
    assert jobs.loc[36, "minutes"] == "10/20"  # two members in series


def test_checker_flags_a_job_that_got_less_than_its_rule_asked(tmp_path: Path) -> None:
    (tmp_path / "jobcomp.log").write_text(JOBCOMP.replace("gres/gpu=1", "").replace("TimeLimit=00:20:00", "TimeLimit=00:30:00"))
    jobs = compare(parse_requests(LOG), parse_jobcomp(tmp_path / "jobcomp.log")).set_index("slurm_id")
    assert not jobs.loc[19, "ok"]  # asked a GPU, got none
    assert not jobs.loc[36, "ok"]  # a group's limit beyond its members' runtimes in series
    assert jobs.loc[18, "ok"]


def test_group_submissions_are_matched_by_the_outputs_their_slurm_logs_name(tmp_path: Path) -> None:
    """The plugin submits from several threads, so the second group announced can go out first: each
    group submission is the group whose members' outputs its own SLURM log names."""
    def block(rule: str, jobid: int, out: str) -> str:
        return (f"    rule {rule}:\n        output: {out}\n        jobid: {jobid}\n"
                f"        resources: mem_mb=1500, runtime=10\n")
    log = ("Group job shard (jobs in lexicogr. order):\n" + block("clips_cut", 1, "a/shard-0.zarr")
           + block("stabilize_shard", 2, "a/stab-0.zarr")
           + "Group job shard (jobs in lexicogr. order):\n" + block("clips_cut", 3, "kth/shard-0.zarr"))
    (tmp_path / "40.log").write_text("rule clips_cut:\n    output: kth/shard-0.zarr\n")
    (tmp_path / "41.log").write_text("    output: a/shard-0.zarr\n    output: a/stab-0.zarr\n")
    log += (f"Job 62c3 has been submitted with SLURM jobid 40 (log: {tmp_path / '40.log'}).\n"
            f"Job 32fb has been submitted with SLURM jobid 41 (log: {tmp_path / '41.log'}).\n")
    requests = parse_requests(log)
    assert [m.rule for m in requests[40].members] == ["clips_cut"]
    assert [m.rule for m in requests[41].members] == ["clips_cut", "stabilize_shard"]
    unreadable = parse_requests(log.replace(str(tmp_path), str(tmp_path / "gone")))
    assert len(unreadable[40].members) == 2  # no log to read: the order they were announced in


def test_tables_compare_byte_for_byte_and_name_the_odd_ones(tmp_path: Path) -> None:
    for side in ("a", "b"):
        (tmp_path / side / "tables" / "seed1").mkdir(parents=True)
        (tmp_path / side / "tables" / "x.csv").write_text("a,b\n1,2\n")
    (tmp_path / "a" / "tables" / "seed1" / "y.csv").write_text("a\n1\n")
    (tmp_path / "b" / "tables" / "seed1" / "y.csv").write_text("a\n2\n")
    (tmp_path / "a" / "tables" / "only_here.csv").write_text("a\n")
    assert tables_equal(tmp_path / "a", tmp_path / "b") == (3, ["only_here.csv", "seed1/y.csv"])


def test_resume_check_reads_each_attempts_state_and_where_it_resumed(tmp_path: Path) -> None:
    from pipeline.slurm_check import _report_resume, resume_check

    lines, comp = [], []
    for slurm_id, state, resumed in ((7, "TIMEOUT", None), (8, "TIMEOUT", 45), (9, "COMPLETED", 95)):
        log = tmp_path / "slurm_logs" / "rule_train_model" / "svg_smmnist_lp" / f"{slurm_id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("training from step 0 of 120\n" if resumed is None else f"resumed at step {resumed} of 120 from x\n")
        lines.append(f"Job 3 has been submitted with SLURM jobid {slurm_id} (log: {log}).")
        comp.append(f"JobId={slurm_id} JobState={state} Partition=gpu TimeLimit=2 Tres=cpu=2,mem=2000M,gres/gpu=1")
    (tmp_path / "jobcomp.log").write_text("\n".join(comp))
    attempts = resume_check("\n".join(lines), parse_jobcomp(tmp_path / "jobcomp.log"))
    assert attempts["state"].tolist() == ["TIMEOUT", "TIMEOUT", "COMPLETED"]
    assert attempts["resumed_at_step"].tolist() == [0, 45, 95]
    assert _report_resume(attempts) == 0
    assert _report_resume(attempts.assign(resumed_at_step=[0, 0, 95])) == 1  # a retry that started over
    assert _report_resume(attempts.iloc[[2]]) == 1  # never stopped by the limit: nothing shown


def test_gpus_granted_come_from_scontrols_node_allocation_not_the_request(tmp_path: Path) -> None:
    from pipeline.slurm_check import parse_scontrol

    snapshots = tmp_path / "scontrol.log"
    snapshots.write_text(  # Slurm 22.05 `scontrol -d -o show job`, trimmed: JOB_GRES and TresPerJob are not the grant
        "JobId=2 JobName=x JobState=RUNNING Partition=gpu TRES=cpu=2,mem=2000M,node=1,billing=2 JOB_GRES=gpu:1 "
        "Nodes=vm CPU_IDs=0-1 Mem=2000 GRES=gpu:1(IDX:0) TresPerJob=gres:gpu:1\n"
        "JobId=3 JobName=x JobState=PENDING Partition=gpu JOB_GRES=(null) GRES= TresPerJob=gres:gpu:1\n"
        "JobId=1 JobName=x JobState=RUNNING Partition=cpu JOB_GRES=(null) Nodes=vm CPU_IDs=0 Mem=1000 GRES=\n")
    assert parse_scontrol(snapshots) == {2: 1}
    requests = parse_requests(LOG)
    jobs = compare(requests, parse_jobcomp_text(JOBCOMP.replace(",gres/gpu=1", ""), tmp_path),
                   gpus={19: 1}).set_index("slurm_id")
    assert jobs.loc[19, "gpus"] == "1/1" and jobs.loc[19, "ok"]


def parse_jobcomp_text(text: str, folder: Path):
    (folder / "jobcomp.log").write_text(text)
    return parse_jobcomp(folder / "jobcomp.log")
