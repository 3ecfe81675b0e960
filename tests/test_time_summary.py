"""The per-rule time summary, on benchmark files written as Snakemake writes them."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import time_summary

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(root: Path, rel: str, *lines: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(line + "\n" for line in lines))


def test_rules_are_summed_sorted_and_shared(tmp_path: Path) -> None:
    bench(tmp_path, "train_model/walker/ucf101/cvae.tsv", "30.00\t0:00:30\t500.0\t1\t1\t1\t0\t0\t90\t27.0")
    bench(tmp_path, "train_model/walker/ucf101/seed1/cvae.tsv", "10.00\t0:00:10\t300.0\t1\t1\t1\t0\t0\t90\t9.0")
    # a job too short for Snakemake's sampler: no memory or CPU figures
    bench(tmp_path, "clips_cut/ucf101/walker/00000.tsv", "0.50\t0:00:00\t-\t-\t-\t-\t-\t-\t-\t-")
    # repeated benchmark: wall time averaged, memory the largest
    bench(tmp_path, "data_fetch/ucf101.tsv", "8.00\t0:00:08\t100\t1\t1\t1\t0\t0\t50\t4",
          "12.00\t0:00:12\t150\t1\t1\t1\t0\t0\t50\t6")
    jobs = time_summary.read_benchmarks(tmp_path)
    assert sorted(jobs["job"]) == ["ucf101", "ucf101/walker/00000", "walker/ucf101/cvae", "walker/ucf101/seed1/cvae"]
    summary = time_summary.summarize(jobs).set_index("rule")
    assert list(summary.index) == ["train_model", "data_fetch", "clips_cut"]
    assert summary.loc["train_model", ["jobs", "total_s", "mean_s", "max_s", "cpu_s", "max_rss_mb"]].tolist() == \
        [2, 40.0, 20.0, 30.0, 36.0, 500.0]
    assert summary.loc["data_fetch", "total_s"] == 10.0 and summary.loc["data_fetch", "max_rss_mb"] == 150
    assert np.isnan(summary.loc["clips_cut", "max_rss_mb"]) and np.isnan(summary.loc["clips_cut", "cpu_s"])
    np.testing.assert_allclose(summary["share"], [40 / 50.5, 10 / 50.5, 0.5 / 50.5])
    written, _ = time_summary.write_summary(tmp_path)
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "summary.png").stat().st_size > 1000
    assert written["jobs"].sum() == 4  # its own summary.csv is not read back as a benchmark


def test_jobs_are_summed_per_paper_in_minutes_of_the_cores(tmp_path: Path) -> None:
    """The issues' budgets are per paper on 2 cores: training jobs count for the paper in their path, other
    rules for the paper they are named after, data stages and report pages apart."""
    bench(tmp_path, "train_model/svg/smmnist/lp.tsv", "600.00\t0:10:00\t700\t1\t1\t1\t0\t0\t99\t590")
    bench(tmp_path, "train_model/svg/kth/seed1/fp.tsv", "60.00\t0:01:00\t700\t1\t1\t1\t0\t0\t99\t59")
    bench(tmp_path, "svg_evaluate/smmnist/lp.tsv", "60.00\t0:01:00\t700\t1\t1\t1\t0\t0\t99\t59")
    bench(tmp_path, "walker_detection_train/cvae/0.tsv", "120.00\t0:02:00\t400\t1\t1\t1\t0\t0\t99\t110")
    bench(tmp_path, "train_model/walker/ucf101/cvae.tsv", "120.00\t0:02:00\t500\t1\t1\t1\t0\t0\t99\t110")
    bench(tmp_path, "trajectories_walker/thumos/00000.tsv", "30.00\t0:00:30\t400\t1\t1\t1\t0\t0\t99\t29")
    bench(tmp_path, "data_fetch/kth.tsv", "30.00\t0:00:30\t200\t1\t1\t1\t0\t0\t99\t20")
    bench(tmp_path, "page_svg_table/smmnist.tsv", "0.40\t0:00:00\t-\t-\t-\t-\t-\t-\t-\t-")
    jobs = time_summary.read_benchmarks(tmp_path)
    groups = time_summary.summarize_groups(jobs, cores=2).set_index("group")
    assert list(groups.index) == ["svg", "walker", "stages", "report"]
    assert groups["jobs"].tolist() == [3, 2, 2, 1]
    np.testing.assert_allclose(groups["total_s"], [720.0, 240.0, 60.0, 0.4])
    np.testing.assert_allclose(groups["minutes_on_cores"], [6.0, 2.0, 0.5, 0.4 / 120])
    np.testing.assert_allclose(time_summary.summarize_groups(jobs, cores=4)["minutes_on_cores"], [3.0, 1.0, 0.25, 0.4 / 240])
    np.testing.assert_allclose(groups["share"].sum(), 1.0)
    _, written = time_summary.write_summary(tmp_path)
    assert pd.read_csv(tmp_path / "summary_papers.csv")["group"].tolist() == written["group"].tolist()
    with pytest.raises(ValueError, match="cores"):
        time_summary.summarize_groups(jobs, cores=0)


def test_a_file_that_is_not_a_benchmark_is_named(tmp_path: Path) -> None:
    (tmp_path / "rule").mkdir()
    (tmp_path / "rule" / "x.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="x.tsv"):
        time_summary.read_benchmarks(tmp_path)
    with pytest.raises(FileNotFoundError, match="no benchmark folder"):
        time_summary.write_summary(tmp_path / "missing")
