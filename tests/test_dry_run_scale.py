"""The paper-scale graph over a full-size UCF101 (13,320 videos, registered without any video):
the dry run plans every clip shard. Its speed is measured by benchmarks/bench_dry_run.py."""

import math
import subprocess
from pathlib import Path

from big_manifest import UCF101_VIDEOS, register_ucf101
from smoke_graph import REPO, SNAKEMAKE, planned_rules

from pipeline import papers


def test_paper_scale_dry_run_plans_every_ucf101_shard(tmp_path: Path) -> None:
    folder = tmp_path / "UCF101"
    folder.mkdir()
    assert register_ucf101(tmp_path / "data", folder) == UCF101_VIDEOS
    run = subprocess.run(
        [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(REPO / "config.yaml"), "--cores", "2", "-n", "--config", "scale=paper",
         "data_root=data", "results_root=results", f"datasets={{ucf101: {{source: path, path: {folder}}}}}"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = planned_rules(run.stdout + run.stderr)
    clips = papers.sizes("paper")["clips"]
    walker, vgan = (math.ceil(UCF101_VIDEOS / clips[p]["videos_per_shard"]) for p in ("walker", "vgan"))
    assert walker > 100  # UCF101 at the paper's shard size: hundreds of shards, not a handful
    assert jobs["clips_cut"] == walker + vgan  # UCF101 feeds walker's and vgan's protocols; no other manifest exists yet
    assert jobs["stabilize_shard"] == walker + vgan and jobs["trajectories_walker"] == walker
    # every video dataset but UCF101 still to list; Sprites (embedded) is fetched, never listed: crossconv reads its files
    assert "data_list" in jobs and jobs["data_list"] == jobs["data_fetch"] - 2 and jobs["crossconv_sprites_pairs"] == 1
