"""Sprites (Reed et al., NIPS 2015) in the archive's own format, and the crossconv pairs built on it.

Format (``nips2015-analogy-data.tar.gz``): one MATLAB v7.3 (HDF5) file per character,
``sprites_<id>.mat``, whose ``sprites`` / ``masks`` datasets are 21 references to
(frames, 10800) / (frames, 3600) float64 arrays: each row one 60x60 RGB frame (mask) in
MATLAB's column-major order. The 21 sequences are 5 animations x 4 viewpoints, animation-major
(spellcast 7 frames, thrust 8, walk 9, slash 6, shoot 13; viewpoints back, left, front, right,
the LPC spritesheet's row order) and one 6-frame "hurt" sequence. ``labels`` (7 values) are the
character's attributes. Masks cover exactly the drawn pixels of the 20 animation sequences; the
hurt masks do not match their frames (about 10% of the background drawn outside them), and
nothing here uses them. ``sprites_splits.mat`` (MATLAB v5) lists 1-based character ids in
``trainidx``, ``validx`` and ``testidx``.

What crossconv uses (Xue et al., Sec. 5.2 and 7.1):
* training / test pairs: every two consecutive frames of every sequence, hurt included: 157
  pairs per character, which is how the paper's counts divide (102,364 = 652 x 157 training
  pairs, 3,140 = 20 x 157 test pairs);
* zero-shot analogies (Table 2): z is encoded from a reference pair of character A (frames t,
  t+1 of one animation and viewpoint) and applied to character B's frame t; the prediction is
  scored against B's frame t+1. Quadruples (A_t, A_t+1, B_t, B_t+1) over ordered pairs of
  distinct test characters, per animation of Table 2 (hurt has no column there).
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from pipeline.shards import write_shard

log = logging.getLogger(__name__)

ANIMATIONS = ("spellcast", "thrust", "walk", "slash", "shoot")  # Table 2's columns, file order
FRAMES = (7, 8, 9, 6, 13)  # frames per animation
VIEWPOINTS = ("back", "left", "front", "right")
HURT_FRAMES = 6
SIZE = 60  # frames are 60x60 RGB
SPLITS = ("train", "val", "test")
PADDED = 64  # frames enter the network padded to 64x64 (2 px of background each side): the pyramid halves twice


@dataclass
class Character:
    """One character: its 21 sequences, animation-major then viewpoint, then hurt."""

    id: int
    sequences: list[np.ndarray]  # 21 x (frames, 60, 60, 3) float32 in [0, 1]
    masks: list[np.ndarray]  # 21 x (frames, 60, 60) float32 in [0, 1]
    labels: np.ndarray  # (7,) attribute codes

    def sequence(self, animation: str, viewpoint: str) -> np.ndarray:
        """(frames, 60, 60, 3) of one animation seen from one viewpoint."""
        return self.sequences[ANIMATIONS.index(animation) * len(VIEWPOINTS) + VIEWPOINTS.index(viewpoint)]

    @property
    def hurt(self) -> np.ndarray:
        return self.sequences[-1]


def _frames(f: h5py.File, ref: h5py.Reference, channels: int) -> np.ndarray:
    """(frames, 60, 60[, 3]) float32 from one referenced (frames, 3600 * channels) dataset."""
    rows = f[ref][()]  # (frames, channels * 3600): column-major (y, x, c) per row
    frames = rows.reshape(len(rows), channels, SIZE, SIZE).transpose(0, 3, 2, 1)  # (frames, y, x, c)
    frames = frames.astype(np.float32)
    return frames if channels == 3 else frames[..., 0]


def read_character(path: Path | str) -> Character:
    """A character from its ``sprites_<id>.mat`` file."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        refs, mask_refs = f["sprites"][:, 0], f["masks"][:, 0]
        expected = [n for n in FRAMES for _ in VIEWPOINTS] + [HURT_FRAMES]
        sequences = [_frames(f, r, 3) for r in refs]
        masks = [_frames(f, r, 1) for r in mask_refs]
        labels = f["labels"][()].ravel().astype(np.int64)
    if [len(s) for s in sequences] != expected or [len(m) for m in masks] != expected:
        raise ValueError(f"{path}: sequence lengths {[len(s) for s in sequences]}, expected {expected}")
    return Character(int(path.stem.split("_")[-1]), sequences, masks, labels)


def read_splits(path: Path | str) -> dict[str, list[int]]:
    """{"train", "val", "test"} -> 1-based character ids, from ``sprites_splits.mat``."""
    mat = scipy.io.loadmat(str(path))
    return {split: [int(i) for i in mat[f"{split}idx"].ravel()] for split in SPLITS}


def load_split(root: Path | str, split: str) -> list[Character]:
    """The characters of one split whose files are present under `root` (a subset may ship few)."""
    root = Path(root)
    ids = read_splits(root / "sprites_splits.mat")[split]
    return [read_character(root / f"sprites_{i}.mat") for i in ids if (root / f"sprites_{i}.mat").exists()]


def frame_pairs(characters: list[Character]) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive-frame pairs (N, 2, 60, 60, 3) and their (N, 3) index rows (character id,
    sequence 0-20, frame t of the first frame), characters in the order given."""
    pairs, index = [], []
    for c in characters:
        for s, seq in enumerate(c.sequences):
            pairs.append(np.stack([seq[:-1], seq[1:]], 1))  # (frames - 1, 2, 60, 60, 3)
            index += [(c.id, s, t) for t in range(len(seq) - 1)]
    return np.concatenate(pairs), np.array(index, np.int64)


@dataclass
class Analogies:
    """Quadruples for the zero-shot analogy test, with what each one is."""

    frames: np.ndarray  # (N, 4, 60, 60, 3): reference A_t, A_t+1, query B_t, target B_t+1
    animation: np.ndarray  # (N,) index into ANIMATIONS
    viewpoint: np.ndarray  # (N,) index into VIEWPOINTS
    t: np.ndarray  # (N,) frame of the reference and the query
    reference: np.ndarray  # (N,) character id of A
    query: np.ndarray  # (N,) character id of B


def analogy_quadruples(characters: list[Character], max_per_animation: int | None = None,
                       seed: int = 0) -> Analogies:
    """All (A_t, A_t+1, B_t, B_t+1) over ordered pairs A != B, every viewpoint and frame t of the
    five animations; with `max_per_animation`, a seeded random subset of that many per animation."""
    rows = []
    for a, (anim, n) in enumerate(zip(ANIMATIONS, FRAMES)):
        per = [(a, v, t, i, j) for i, j in itertools.permutations(range(len(characters)), 2)
               for v in range(len(VIEWPOINTS)) for t in range(n - 1)]
        if max_per_animation is not None and len(per) > max_per_animation:
            keep = np.random.default_rng([seed, a]).choice(len(per), max_per_animation, replace=False)
            per = [per[k] for k in np.sort(keep)]
        rows += per
    if not rows:
        raise ValueError("analogies need at least two characters")
    frames = np.empty((len(rows), 4, SIZE, SIZE, 3), np.float32)
    for k, (a, v, t, i, j) in enumerate(rows):
        ref = characters[i].sequence(ANIMATIONS[a], VIEWPOINTS[v])
        qry = characters[j].sequence(ANIMATIONS[a], VIEWPOINTS[v])
        frames[k] = (ref[t], ref[t + 1], qry[t], qry[t + 1])
    a, v, t, i, j = (np.array(col, np.int64) for col in zip(*rows))
    ids = np.array([c.id for c in characters], np.int64)
    return Analogies(frames, a, v, t, ids[i], ids[j])


def pad(frames: np.ndarray, size: int = PADDED) -> np.ndarray:
    """(..., 60, 60, C) -> (..., size, size, C), the sprite centred on the black background."""
    before = (size - SIZE) // 2
    widths = [(0, 0)] * (frames.ndim - 3) + [(before, size - SIZE - before)] * 2 + [(0, 0)]
    return np.pad(frames, widths)


def crop(frames: np.ndarray, size: int = PADDED) -> np.ndarray:
    """The inverse of `pad`: (..., size, size, C) -> (..., 60, 60, C)."""
    before = (size - SIZE) // 2
    return frames[..., before : before + SIZE, before : before + SIZE, :]


def source_folder(record_path: Path | str) -> Path:
    """The sprites folder named by the data stage's source record (``data/sources/sprites.json``)."""
    record = json.loads(Path(record_path).read_text())
    folder = Path(record.get("parts", {}).get("sprites", ""))
    if not (folder / "sprites_splits.mat").is_file():
        raise FileNotFoundError(f"{record_path}: its sprites folder {folder} holds no sprites_splits.mat")
    return folder


def write_pair_splits(record_path: Path | str, out: dict[str, Path | str]) -> dict[str, int]:
    """Train / test pairs (uint8, padded to 64x64) of the characters present; no character in both."""
    folder = source_folder(record_path)
    counts = {}
    for split, path in out.items():
        characters = load_split(folder, split)
        if not characters:
            raise ValueError(f"{folder}: no character file of the {split} split (sprites_<id>.mat) is present")
        pairs, index = frame_pairs(characters)
        frames = (pad(pairs) * 255).round().astype(np.uint8)  # (N, 2, 64, 64, 3)
        write_shard(path, {"frame1": frames[:, 0], "frame2": frames[:, 1], "index": index},
                    {"dataset": "sprites", "split": split, "characters": [c.id for c in characters],
                     "index_columns": ["character", "sequence", "t"], "padded_from": SIZE})
        counts[split] = len(frames)
        log.info("sprites %s: %d pairs from %d characters", split, len(frames), len(characters))
    return counts
