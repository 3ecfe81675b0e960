"""The Snakemake graph itself: config validation, and data -> manifests -> clip shards at smoke scale."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.shards import open_shard, shard_length

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
             "--configfile", str(ROOT / "config.yaml"), "--cores", "2"]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, "--directory", str(workdir), *args], capture_output=True, text=True)


@pytest.mark.parametrize(("override", "named"), [
    ("scale=huge", "huge"),
    ("bogus_key=1", "bogus_key"),
    ("datasets={'kth': {'source': 'path'}}", "path"),
    ("preprocess={'flow': 'farneback'}", "farneback"),
])
def test_bad_config_fails_before_any_job_naming_the_key(tmp_path, override, named):
    result = snakemake(tmp_path, "-n", "--config", override)
    assert result.returncode != 0
    assert "Error validating config" in result.stderr + result.stdout
    assert named in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()


def test_smoke_graph_builds_manifests_and_clip_shards(tmp_path):
    config = ["--config", "scale=smoke", "papers=[staticflow,svg]", "data_root=d", "results_root=r"]
    result = snakemake(tmp_path, "preprocess", *config)
    assert result.returncode == 0, result.stderr[-3000:]
    for dataset, protocol, size, frames in (("hmdb51", "staticflow", 64, 4), ("kth", "svg", 64, 20)):
        manifest = pd.read_csv(tmp_path / "d" / "manifests" / f"{dataset}.csv", keep_default_na=False)
        assert len(manifest) > 0 and set(manifest["status"]) == {"ok"}
        assert set(manifest["data_source"]) == {"synthetic"}
        index = pd.read_csv(tmp_path / "d" / "clips" / dataset / protocol / "index.csv", keep_default_na=False)
        assert set(index["video_id"]) == set(manifest["video_id"])  # every listed video accounted for
        shards = sorted((tmp_path / "d" / "clips" / dataset / protocol).glob("shard-*.zarr"))
        assert shards and sum(shard_length(open_shard(p)) for p in shards) == index["clips"].sum() > 0
        group = open_shard(shards[0])
        assert group["frames"].shape[1:] == (frames, size, size, 3)
        assert group.attrs["source"] == "synthetic" and group.attrs["dataset"] == dataset
    # staticflow keeps static-camera, medium/good-quality videos only, and says why it dropped the rest
    index = pd.read_csv(tmp_path / "d" / "clips" / "hmdb51" / "staticflow" / "index.csv", keep_default_na=False)
    assert all(("camera motion" in r or "quality" in r) for r in index.loc[index.status == "excluded", "reason"])
    assert (tmp_path / "d" / "clips" / "smmnist" / "svg" / "test.zarr" / "zarr.json").is_file()
    assert (tmp_path / "r" / "figures" / "preprocessing" / "hmdb51_flow.png").stat().st_size > 1000
    # up to date: a second run has nothing to do
    again = snakemake(tmp_path, "-n", "preprocess", *config)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.parametrize("fails", [False, True], ids=["job succeeds", "job fails"])
def test_a_run_exits_once_its_last_job_is_done_under_a_job_rate_limit(tmp_path, fails):
    """profiles/local limits jobs per minute; without the workflow's onsuccess / onerror hooks the
    rate limiter's timers hold Snakemake's exit for a whole timespan after the last job (an hour here)."""
    config = ["scale=smoke", "papers=[svg]", "data_root=d", "results_root=r"]
    if fails:  # an empty `source: path` folder passes validation; its fetch job fails
        (tmp_path / "empty").mkdir()
        config.append(f"datasets={{kth: {{source: path, path: {tmp_path / 'empty'}}}}}")
    try:
        result = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "--max-jobs-per-timespan", "1000/1h",
                                 "--config", *config, "--", "d/sources/kth.json"],
                                capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("snakemake did not exit after its last job: the rate limiter's timers held it")
    assert result.returncode == int(fails), result.stderr[-3000:]
    assert (tmp_path / "d" / "sources" / "kth.json").is_file() != fails


def rule_priorities() -> dict[str, int]:
    """Each rule's ``priority:`` (0 when it sets none), read from the rule files by kind (``PRIORITY`` in common.smk)."""
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    kinds = {k: int(v) for k, v in re.findall(r'"(\w+)": (\d+)', re.search(r"^PRIORITY = \{(.*?)\}", common, re.M)[1])}
    priorities: dict[str, int] = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for name, body in re.findall(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", path.read_text(), re.M | re.S):
            kind = re.search(r'^    priority: PRIORITY\["(\w+)"\]', body, re.M)
            priorities[name] = kinds[kind[1]] if kind else 0
    return priorities


def test_every_job_training_waits_for_starts_before_evaluations(tmp_path):
    """A training job's inputs come from jobs of at least training's priority: at priority 0 a stage's
    one-second gather step (clips_index) waited behind every training job, and its model trained alone
    at the end of a five-paper run (stop 44: the Exercise VAE, 130 idle core-seconds)."""
    result = snakemake(tmp_path, "--rulegraph", "--config", "scale=smoke", "data_root=d", "results_root=r")
    assert result.returncode == 0, result.stderr[-3000:]
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', result.stdout, re.M))
    parents: dict[str, set[str]] = {}
    for a, b in re.findall(r"^\s*(\d+) -> (\d+)", result.stdout, re.M):
        parents.setdefault(names[b], set()).add(names[a])
    ancestors, todo = set(), ["train_model"]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in ancestors:
                ancestors.add(parent)
                todo.append(parent)
    priorities = rule_priorities()
    assert {"clips_index", "stabilize_summary", "data_fetch"} <= ancestors
    assert {rule: priorities[rule] for rule in ancestors if priorities[rule] < priorities["train_model"]} == {}


def test_training_jobs_ask_for_their_papers_train_threads_and_data_workers(tmp_path):
    """The smoke models train one thread each (two at once on 2 cores) unless a paper overrides it;
    a job's data-loading workers are CPUs it asks for beside torch's threads."""
    config = ["--config", "scale=smoke", "papers=[svg,crossconv,walker]", "data_root=d", "results_root=r",
              "overrides={crossconv: {train_threads: 3}, walker: {train: {workers: 2}}}"]
    result = snakemake(tmp_path, "-n", "--cores", "4", *config)
    assert result.returncode == 0, result.stderr[-3000:]
    threads: dict[str, set[int]] = {}
    for job in re.split(r"^(?:local)?(?:rule|checkpoint) ", result.stdout, flags=re.M)[1:]:  # one job each
        if job.startswith("train_model:"):
            count = re.search(r"^\s+threads: (\d+)$", job, flags=re.M)  # printed when not 1
            threads.setdefault(re.search(r"paper=(\w+)", job)[1], set()).add(int(count[1]) if count else 1)
    assert threads == {"svg": {1}, "crossconv": {3}, "walker": {3}}


def test_lint_asks_for_nothing_but_a_conda_environment_per_rule(tmp_path):
    """The project installs into one pinned venv (bin/setup), so that lint stays; every other one
    (functions beside rules, log files, path handling) is fixed, and a new one fails here."""
    result = snakemake(tmp_path, "--lint", "--config", "data_root=d", "results_root=r")
    titles = set(re.findall(r"^\s+\* (.+?):$", result.stdout + result.stderr, flags=re.M))
    assert titles == {"Specify a conda environment or container for each rule."}, titles


def test_every_rule_that_runs_code_writes_a_benchmark_under_its_name():
    rules = 0
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^(?=(?:rule|checkpoint) )", smk.read_text(), flags=re.M)[1:]:
            name = re.match(r"(?:rule|checkpoint) (\w+):", block).group(1)
            if "script:" in block or "shell:" in block or "run:" in block:
                rules += 1
                assert re.search(rf'benchmark:\n\s+BENCHMARKS / "{name}" / ', block), f"{smk.name}: rule {name}"
    assert rules > 50


def test_a_missing_dataset_folder_is_refused_before_any_job_naming_key_and_path(tmp_path):
    missing = tmp_path / "no_such_ucf101"
    result = snakemake(tmp_path, "-n", "--config", f"datasets={{ucf101: {{source: path, path: {missing}}}}}")
    assert result.returncode != 0
    said = result.stderr + result.stdout
    assert f"datasets.ucf101.path = '{missing}': {missing} does not exist" in said
    assert not (tmp_path / "data").exists()


def test_changing_the_shapes_test_count_regenerates_the_test_pairs_only(tmp_path):
    """A split's generation reads its own pair count: more test pairs must not regenerate the
    training pairs (and so retrain every crossconv network that reads them)."""
    config = ["--config", "scale=smoke", "papers=[crossconv]", "data_root=d", "results_root=r"]
    splits = [f"d/clips/shapes/crossconv/{s}.zarr" for s in ("train", "test")]
    built = snakemake(tmp_path, *splits, *config)
    assert built.returncode == 0, built.stderr[-3000:]
    changed = snakemake(tmp_path, "-n", *splits, *config, "overrides={shapes: {test_pairs: 20}}")
    assert changed.returncode == 0, changed.stderr[-3000:]
    jobs = re.findall(r"^rule data_shapes:\n(?:\s+.*\n)*?\s+wildcards: variant=shapes, split=(\w+)", changed.stdout,
                      flags=re.M)
    assert jobs == ["test"], changed.stdout[-3000:]



def _printed_per_rule(dry_run_output: str, field: str, default: int) -> dict[str, set[int]]:
    """rule -> the values of an integer job field a dry run prints only when not its default."""
    values: dict[str, set[int]] = {}
    for job in re.split(r"^(?:local)?(?:rule|checkpoint) ", dry_run_output, flags=re.M)[1:]:
        shown = re.search(rf"^\s+{field}: (\d+)$", job, flags=re.M)
        values.setdefault(job.split(":")[0], set()).add(int(shown[1]) if shown else default)
    return values


def test_data_stages_start_first_then_training_then_everything_else(tmp_path):
    """Cores short, a ready data job starts before a training job and that before an evaluation,
    table or figure: a dataset listed late would start its whole chain late (common.smk, PRIORITY)."""
    config = ["--config", "scale=smoke", "papers=[walker,svg]", "data_root=d", "results_root=r"]
    result = snakemake(tmp_path, "-n", *config)
    assert result.returncode == 0, result.stderr[-3000:]
    priorities = _printed_per_rule(result.stdout, "priority", 0)
    for rule in ("data_fetch", "data_list", "data_smmnist", "svg_smmnist_set", "walker_detection_prepare"):
        assert priorities[rule] == {2}, rule
    assert priorities["train_model"] == priorities["walker_detection_train"] == {1}
    later = {rule for rule, p in priorities.items() if p == {0}}
    assert {"svg_evaluate", "walker_table", "walker_training_figure"} <= later
    assert all(len(p) == 1 for p in priorities.values())  # a rule's jobs share its kind's priority


@pytest.mark.parametrize(("cores", "fetch", "detection"), [(2, 1, 1), (8, 4, 2), (16, 4, 2)])
def test_a_data_job_takes_at_most_half_the_cores(tmp_path, cores, fetch, detection):
    """A job asking for every core would wait behind single-thread jobs for as long as they keep
    coming; at most half (common.smk, half_the_cores), up to what it can use (4 render processes,
    the demo's 2 proposal workers)."""
    config = ["--config", "papers=[walker]", "data_root=d", "results_root=r"]
    result = snakemake(tmp_path, "-n", "--cores", str(cores), *config)
    assert result.returncode == 0, result.stderr[-3000:]
    threads = _printed_per_rule(result.stdout, "threads", 1)
    assert threads["data_fetch"] == threads["data_list"] == {fetch}  # the stand-ins: 4 render processes
    assert threads["walker_detection_prepare"] == {detection}
