"""vgan's representation learning (Sec. 3.3): the classifier's size at the paper preset, a fine-tuned
classifier starting from D's trunk, the labelled shares and test hold-out, per-video scoring, and a
classifier that learns motion classes a single frame cannot tell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_vgan_model import DISCRIMINATOR, PAPER, TINY, build, conv, count

from pipeline.batches import preload_if_small
from pipeline.papers.vgan import spec
from pipeline.papers.vgan.action import (
    ActionClassifier,
    action_clips,
    build_classifier,
    train_classifier,
    trunk_features,
)
from pipeline.papers.vgan.action_eval import video_correct
from pipeline.papers.vgan.model import Discriminator
from pipeline.saved_models import load_model
from pipeline.shards import SPLITS, summarize_shards, write_shard
from pipeline.training import TrainingJob


def moving_dots(folder: Path, videos_per_class: int, classes: int, test_per_class: int = 0, size: int = 32,
                frames: int = 16, seed: int = 0) -> Path:
    """Action clips whose class is the direction of a dot (the same first frame for every class)."""
    rng = np.random.default_rng(seed)
    steps = [(0, 1), (0, -1), (1, 0), (-1, 0)][:classes]
    clips, labels, split, names = [], [], [], []
    for c, (dy, dx) in enumerate(steps):
        for k in range(videos_per_class + test_per_class):
            clip = np.full((frames, size, size, 3), 40, np.uint8)
            y, x = rng.integers(12, size - 12, 2)
            for t in range(frames):
                yy, xx = y + dy * t // 2, x + dx * t // 2
                clip[t, yy - 2 : yy + 2, xx - 2 : xx + 2] = 230
            clips.append(clip)
            labels.append(c)
            split.append(SPLITS.index("test" if k >= videos_per_class else "train"))
            names.append(f"c{c}_v{k}")
    n = len(clips)
    path = write_shard(folder / "shard-00000.zarr", {
        "frames": np.stack(clips), "video_index": np.arange(n, dtype=np.int32), "start": np.zeros(n, np.int32),
        "label": np.asarray(labels, np.int32), "split": np.asarray(split, np.uint8)}, {"videos": names})
    summarize_shards([path], folder / "summary.csv")
    return folder / "summary.csv"


def test_classifier_is_d_with_a_k_way_head_at_the_paper_preset() -> None:
    classifier = build(ActionClassifier, PAPER, 101)
    # D without its 2-way conv (512 x 2 x 2 x 4 x 4 + 2), plus a 101-way conv of the same kernel
    assert count(classifier) == DISCRIMINATOR - conv(512, 2, 2, 4, 4) + conv(512, 101, 2, 4, 4)
    assert isinstance(classifier.dropout, torch.nn.Dropout3d) and classifier.dropout.p == 0.5
    tiny = ActionClassifier(TINY, 4).eval()
    assert tiny(torch.randn(3, 3, 16, 16, 16)).shape == (3, 4)
    assert trunk_features(tiny, torch.randn(3, 16, 3, 16, 16), pooled=True).shape == (3, 32)
    assert trunk_features(tiny, torch.randn(3, 16, 3, 16, 16), pooled=False).shape == (3, 32 * 1 * 1 * 1)


def test_fine_tuning_starts_from_the_discriminators_trunk() -> None:
    torch.manual_seed(0)
    d = Discriminator(TINY)
    classifier = ActionClassifier(TINY, 3)
    assert not torch.equal(classifier.features[0][0].weight, d.features[0][0].weight)
    classifier.trunk_from(d)
    for mine, theirs in zip(classifier.features.state_dict().values(), d.features.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)


def test_labelled_shares_are_nested_whole_videos_and_the_test_set_is_held_out(tmp_path: Path) -> None:
    clips = action_clips(moving_dots(tmp_path / "a", 8, 4), {"frames": 16, "size": 32}, test_fraction=0.25)
    assert "no official test split" in clips.test_from
    test_videos = set(clips.table.iloc[clips.rows["test"]]["video_id"])
    assert len(test_videos) == 8 and not test_videos & set(clips.table.iloc[clips.rows["train"]]["video_id"])
    assert sorted(clips.labels[clips.rows["test"]].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]  # spread over classes
    rows = {k: set(clips.labelled(k).tolist()) for k in (1, 2, 3, 8)}
    assert rows[8] <= rows[3] <= rows[2] <= rows[1] == set(clips.rows["train"].tolist())
    assert [len(rows[k]) for k in (1, 2, 3, 8)] == [24, 12, 8, 4]  # 6 per class -> 3, 2 and at least 1 per class
    official = action_clips(moving_dots(tmp_path / "b", 4, 2, test_per_class=2), {"frames": 16, "size": 32}, test_fraction=0.25)
    assert official.test_from == "the dataset's official test split" and len(official.rows["test"]) == 4


def test_accuracy_is_per_video_from_the_mean_of_its_clips(tmp_path: Path) -> None:
    clips = action_clips(moving_dots(tmp_path, 8, 4), {"frames": 16, "size": 32}, test_fraction=0.25)
    rows = clips.rows["test"]
    truth = np.eye(4)[clips.labels[rows]]
    assert video_correct(clips, rows, truth).tolist() == [1.0] * 8
    assert video_correct(clips, rows, np.roll(truth, 1, axis=1)).sum() == 0


def test_classifier_learns_directions_a_single_frame_cannot_tell(tmp_path: Path) -> None:
    summary = moving_dots(tmp_path / "data", 8, 4, test_per_class=4)
    sizes = {"model": {"z_dim": 8, "width": 1 / 8}, "data": {"frames": 16, "size": 32},
             "action": {"steps": 150, "batch_size": 16, "lr": 2e-3, "beta1": 0.5, "dropout": 0.5, "test_fraction": 0.3,
                        "checkpoint_every": 150, "log_every": 50, "workers": 0}}
    job = TrainingJob("vgan", "ucf101", "action_random-1of1", tmp_path / "model", sizes, {"summary": str(summary)}, 0, "cpu")
    model = train_classifier(job, "random", 1)
    classifier = load_model(model, build_classifier)
    clips = action_clips(summary, sizes["data"], 0.3)
    x, y = clips.read(clips.rows["test"])
    with torch.no_grad():
        predicted = classifier(x.permute(0, 2, 1, 3, 4)).argmax(1)
    assert (predicted == y).float().mean() > 0.8  # chance 0.25


def test_preloaded_items_are_the_same_items(tmp_path: Path) -> None:
    clips = action_clips(moving_dots(tmp_path, 2, 2), {"frames": 16, "size": 32}, test_fraction=0.25)
    rows = clips.rows["train"]
    held = preload_if_small(clips.dataset, rows, 1 << 30)
    assert held is not clips.dataset and all(np.array_equal(held[r], clips.dataset[r]) for r in rows)
    assert preload_if_small(clips.dataset, rows, 10) is clips.dataset  # over the budget: streamed


def test_spec_lists_every_share_with_both_starts() -> None:
    sizes = {"action": {"shares": [8, 2]}}
    assert spec.action_classifiers(sizes) == ["random-1of1", "random-1of2", "random-1of8",
                                              "finetune-1of1", "finetune-1of2", "finetune-1of8"]
    assert spec.FEATURE_NET in spec.action_classifiers(sizes)


def test_extra_training_runs_are_named_parsed_and_seeded_apart() -> None:
    names = spec.action_classifiers({"action": {"shares": [2], "runs": 3}})
    assert names[:4] == ["random-1of1", "random-1of2", "finetune-1of1", "finetune-1of2"]  # run 0: the names of one run
    assert names[4:6] == ["random-1of1-run1", "random-1of2-run1"] and len(names) == 12
    assert [spec.parse_classifier(n) for n in ("finetune-1of2-run2", "random-1of1")] == [("finetune", 2, 2), ("random", 1, 0)]
    for bad in ("finetune-1of2-run0", "finetune-1of2-run01", "finetune-1of2-runx", "tuned-1of2"):
        with pytest.raises(KeyError, match=bad):
            spec.parse_classifier(bad)
    # run 0 trains from the graph's seed, as before runs existed; later runs from seeds no other graph seed's run 0 uses
    assert spec.classifier_seed(7, 0) == 7
    seeds = {spec.classifier_seed(s, r) for s in range(3) for r in range(1, 4)}
    assert len(seeds) == 9 and not seeds & set(range(1000))
    # the schedule a classifier reads leaves out how many runs there are: adding runs never retrains run 0
    base = {"model": {}, "data": {"frames": 16, "size": 32}, "action": {"steps": 3, "shares": [2]}}
    assert spec.action_sizes(base) == spec.action_sizes({**base, "action": {**base["action"], "runs": 3}})
