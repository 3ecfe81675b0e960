"""Sprites reader and crossconv's pair / analogy builders, on the files shipped in resources/sprites."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pipeline.papers.crossconv.analogy import squared_errors
from pipeline.papers.crossconv.data import read_split
from pipeline.papers.crossconv.sprites import (
    ANIMATIONS,
    FRAMES,
    HURT_FRAMES,
    VIEWPOINTS,
    analogy_quadruples,
    crop,
    frame_pairs,
    load_split,
    pad,
    read_character,
    read_splits,
    write_pair_splits,
)

ROOT = Path(__file__).resolve().parents[1] / "resources" / "sprites"


@pytest.fixture(scope="module")
def splits():
    return {s: load_split(ROOT, s) for s in ("train", "test")}


def test_shipped_files_are_original_format_and_small():
    mats = sorted(ROOT.glob("sprites_*.mat"))
    assert sum(p.stat().st_size for p in ROOT.iterdir()) < 5e6
    characters = [p for p in mats if p.stem != "sprites_splits"]
    assert len(characters) == 6
    for p in characters:
        assert h5py.is_hdf5(p)  # MATLAB v7.3
        assert p.read_bytes()[:10] == b"MATLAB 7.3"
    assert not h5py.is_hdf5(ROOT / "sprites_splits.mat")  # MATLAB v5
    assert (ROOT / "ATTRIBUTION").read_text().count("CC-BY-SA 3.0") == 1
    assert "GPL 3.0" in (ROOT / "ATTRIBUTION").read_text() and "CC-BY-SA 3.0" in (ROOT / "README.md").read_text()


def test_splits_are_disjoint_and_match_the_original_file(splits):
    ids = read_splits(ROOT / "sprites_splits.mat")
    assert [len(ids[s]) for s in ("train", "val", "test")] == [500, 72, 100]
    assert not (set(ids["train"]) | set(ids["val"])) & set(ids["test"])
    train, test = ({c.id for c in splits[s]} for s in ("train", "test"))
    assert train == {585, 307, 73, 253} and test == {8, 26}
    assert not train & test


def test_character_layout_and_values(splits):
    c = splits["train"][0]
    assert len(c.sequences) == len(c.masks) == 21
    assert [len(s) for s in c.sequences] == [n for n in FRAMES for _ in VIEWPOINTS] + [HURT_FRAMES]
    for seq, mask in zip(c.sequences, c.masks):
        assert seq.shape[1:] == (60, 60, 3) and mask.shape[1:] == (60, 60) and seq.dtype == np.float32
        assert seq.min() >= 0 and seq.max() <= 1 and mask.min() >= 0 and mask.max() <= 1
    for seq, mask in zip(c.sequences[:20], c.masks[:20]):  # the masks cover what is drawn
        assert not (seq.max(-1) > 0)[mask == 0].any()
        assert 0.1 < (mask > 0).mean() < 0.5
    assert c.labels.shape == (7,)
    # The viewpoints differ and the animations move: consecutive frames are not identical.
    walk = np.stack([c.sequence("walk", v) for v in VIEWPOINTS])  # (4, 9, 60, 60, 3)
    assert all(np.abs(walk[i] - walk[j]).mean() > 0.01 for i in range(4) for j in range(i + 1, 4))
    assert (np.abs(np.diff(walk, axis=1)).mean((2, 3, 4)) > 1e-3).all()


def test_pixel_order_is_upright():
    """Column-major rows read as (y, x), not transposed: a standing character is taller than wide,
    and its left and right views are mirror images across x (as LPC draws them)."""
    c = read_character(ROOT / "sprites_8.mat")
    front = c.sequence("walk", "front")[0]
    rows, cols = np.nonzero(front.max(-1) > 0)
    assert np.ptp(rows) > 1.4 * np.ptp(cols)
    left, right = c.sequence("walk", "left")[0], c.sequence("walk", "right")[0]
    mirrored = np.abs(left[:, ::-1] - right).mean()
    assert mirrored < 0.5 * np.abs(left - right).mean()


def test_pair_round_trip(splits):
    chars = splits["train"]
    pairs, index = frame_pairs(chars)
    per_character = sum(n - 1 for n in FRAMES) * len(VIEWPOINTS) + HURT_FRAMES - 1
    assert per_character == 157  # the paper's counts: 102,364 = 652 x 157, 3,140 = 20 x 157
    assert pairs.shape == (len(chars) * 157, 2, 60, 60, 3) and index.shape == (len(chars) * 157, 3)
    assert np.array_equal(pairs[1:, 0][np.all(index[1:, :2] == index[:-1, :2], 1)],
                          pairs[:-1, 1][np.all(index[1:, :2] == index[:-1, :2], 1)])  # pairs chain
    by_id = {c.id: c for c in chars}
    for c_id, s in {(r[0], r[1]) for r in index}:  # rebuild every sequence from its pairs
        rows = np.nonzero((index[:, 0] == c_id) & (index[:, 1] == s))[0]
        rows = rows[np.argsort(index[rows, 2])]
        rebuilt = np.concatenate([pairs[rows, 0], pairs[rows[-1:], 1]])
        assert np.array_equal(rebuilt, by_id[c_id].sequences[s])


def test_analogy_quadruples(splits):
    test = splits["test"]
    q = analogy_quadruples(test)
    pairs_of_characters = len(test) * (len(test) - 1)
    expected = [pairs_of_characters * len(VIEWPOINTS) * (n - 1) for n in FRAMES]
    assert np.bincount(q.animation).tolist() == expected
    assert q.frames.shape == (sum(expected), 4, 60, 60, 3)
    assert (q.reference != q.query).all() and set(q.reference) | set(q.query) == {8, 26}
    by_id = {c.id: c for c in test}
    for k in np.random.default_rng(0).choice(len(q.t), 25, replace=False):
        a, v, t = ANIMATIONS[q.animation[k]], VIEWPOINTS[q.viewpoint[k]], q.t[k]
        ref, qry = by_id[q.reference[k]].sequence(a, v), by_id[q.query[k]].sequence(a, v)
        assert np.array_equal(q.frames[k], np.stack([ref[t], ref[t + 1], qry[t], qry[t + 1]]))
    small = analogy_quadruples(test, max_per_animation=10, seed=1)
    assert np.bincount(small.animation).tolist() == [10] * 5
    again = analogy_quadruples(test, max_per_animation=10, seed=1)
    assert np.array_equal(small.frames, again.frames)
    with pytest.raises(ValueError, match="two characters"):
        analogy_quadruples(test[:1])


def test_pad_and_crop_round_trip():
    frames = np.random.default_rng(0).random((3, 60, 60, 3)).astype(np.float32)
    padded = pad(frames)
    assert padded.shape == (3, 64, 64, 3) and padded[:, :2].sum() == 0 and padded[:, :, -2:].sum() == 0
    assert np.array_equal(crop(padded), frames)


def test_pair_splits_from_the_source_record(tmp_path):
    record = tmp_path / "sprites.json"
    record.write_text(json.dumps({"parts": {"sprites": str(ROOT)}}))
    out = {"train": tmp_path / "train.zarr", "test": tmp_path / "test.zarr"}
    assert write_pair_splits(record, out) == {"train": 4 * 157, "test": 2 * 157}
    test = read_split(out["test"])
    assert test.size == 64 and len(test) == 2 * 157
    pairs, _ = frame_pairs(load_split(ROOT, "test"))
    np.testing.assert_allclose(crop(test.frame1) / 255.0, pairs[:, 0], atol=0.5 / 255)
    assert test.tensor([0, 1]).shape == (2, 2, 3, 64, 64)
    record.write_text(json.dumps({"parts": {"sprites": str(tmp_path)}}))
    with pytest.raises(FileNotFoundError, match="sprites_splits.mat"):
        write_pair_splits(record, out)


def test_analogy_errors_are_per_image_sums_in_unit_range(splits):
    q = analogy_quadruples(splits["test"], max_per_animation=4)
    still = squared_errors(q.frames[:, 2], q.frames[:, 3])  # "no motion"
    assert still.shape == (20,) and (still >= 0).all() and still.max() > 0
    np.testing.assert_allclose(still, ((q.frames[:, 2] - q.frames[:, 3]) ** 2).sum((1, 2, 3)), rtol=1e-6)
    assert np.array_equal(squared_errors(q.frames[:, 3], q.frames[:, 3]), np.zeros(20))
