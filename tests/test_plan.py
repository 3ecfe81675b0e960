"""The run plan: config merged as Snakemake merges it, disk from manifest counts and clip sizes,
training steps from the preset and hours from a measured speed."""

from pathlib import Path

import pytest
from big_manifest import register_ucf101

from pipeline import papers
from pipeline.papers import plan

REPO = Path(__file__).resolve().parents[1]


def config(tmp_path: Path, *overrides: str) -> dict:
    return plan.load_config([REPO / "config.yaml"], ["scale=smoke", "papers=[walker]", f"data_root={tmp_path / 'data'}",
                                                       f"results_root={tmp_path / 'results'}", *overrides])


def test_config_overrides_merge_into_nested_keys(tmp_path: Path) -> None:
    cfg = config(tmp_path, "datasets={ucf101: {source: path, path: /x}}")
    assert cfg["datasets"]["ucf101"] == {"source": "path", "path": "/x"} and cfg["papers"] == ["walker"]
    assert cfg["datasets"]["thumos"]["source"] == "synthetic"  # the other datasets stay
    with pytest.raises(ValueError, match="key=value"):
        plan.load_config([REPO / "config.yaml"], ["scale"])


def test_disk_per_stage_counts_the_protocols_clips(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    register_ucf101(tmp_path / "data", tmp_path / "UCF101", videos=20)  # 7.2 s at 25 fps each
    sizes = papers.sizes("smoke")
    disk, unlisted = plan.disk_per_stage(cfg, sizes)
    assert unlisted == ["thumos"]
    walker = sizes["clips"]["walker"]  # 216 frames at 30 fps allow 62 starts; the smoke preset keeps 2 per video
    assert walker["max_clips_per_video"] == 2
    rows = disk.set_index("stage")
    assert list(rows.index) == ["clips", "stabilized", "trajectories"] and (rows["clips"] == 40).all()
    frames = 40 * walker["frames"] * walker["height"] * walker["width"] * 3
    assert rows.loc["clips", "GB"] == rows.loc["stabilized", "GB"] == frames / 1e9
    assert rows.loc["trajectories", "GB"] == 40 * walker["height"] * walker["width"] * (3 + 21) / 1e9


def test_training_steps_from_the_preset_and_hours_from_a_measured_speed(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    sizes = papers.sizes("smoke")
    log = tmp_path / "results" / "models" / "walker" / "ucf101" / "cvae" / "log.csv"
    log.parent.mkdir(parents=True)
    log.write_text("step,wall_seconds,loss\n1,2.0,1\n2,2.5,1\n3,3.0,1\n")  # 0.5 s per step after the first
    models = plan.training_plan(cfg, sizes).set_index("variant")
    assert set(models.index) == {"cvae", "regressor", "flownet"}
    train = sizes["walker"]["train"]
    assert models.loc["cvae", "steps"] == train["coarse_steps"] + train["fine_steps"]
    assert models.loc["cvae", "s_per_step"] == 0.5
    assert models.loc["cvae", "hours"] == pytest.approx(0.5 * models.loc["cvae", "steps"] / 3600)
    assert models["hours"].isna().sum() == 2  # no log, no hours: never a guess
    assert "epochs" in models.loc["flownet", "note"]
