"""Stochastic Moving MNIST (Denton & Fergus 2018, Sec. 4.2), with per-digit ground truth.

Definition (paper, checked against edenton/svg `data/moving_mnist.py`, deterministic=False):
* 64x64 frames, `num_digits` distinct digits per sequence (the paper: "two different MNIST
  digits"), each resized to 32x32 (svg code `digit_size = 32`).
* Start: top-left corner uniform over the integer positions that keep the digit inside,
  velocity (dx, dy) uniform over the integers of [-4, 4]^2 (the paper's [-4,4]x[-4,4]; the
  code draws `randint(-4, 5)`). SPEC section 6 says the same, so there is nothing to arbitrate.
* Each step the digit moves by its velocity. If the new position leaves the box, it is
  clamped back to the wall and a new velocity is drawn: the component normal to that wall
  uniform over {1..4} pointing away from it, the other component uniform over {-4..4}
  (Fig. 5: "angle and speed immediately after impact are drawn at random").
  Corner hits (both walls at one step): both normal components point away. The svg code
  handles the y wall then the x wall, so its second draw can re-aim dy at the wall just hit
  (bouncing again one step later); we draw both components away from their walls so every
  recorded bounce leaves the wall. This is our one deliberate departure.
* Like the svg code, the box of legal corners is [0, image - digit - 1] on each axis.
* Frames combine digits by saturating addition (`x += digit; x[x > 1] = 1` in the svg code),
  not max.
* deterministic=True is the classic Moving MNIST (the normal component is reflected).

Ground truth per digit: positions (x, y) of the digit box's top-left corner at each frame,
the velocity that takes frame t to t+1, bounce flags and which wall was hit. The velocity
reported at a bounce step is the new one (positions[t+1] = clamp(positions[t] + velocities[t])).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class SMMNISTConfig:
    image_size: int = 64  # frames are image_size x image_size, one channel
    digit_size: int = 32  # digits are pasted as digit_size x digit_size (svg code: 28 -> 32)
    num_digits: int = 2  # digits per sequence (paper: one or two)
    seq_len: int = 15  # frames per sequence (svg training: 5 conditioning + 10 predicted)
    deterministic: bool = False  # True: classic Moving MNIST reflection instead of a random bounce
    max_speed: int = 4  # velocities are integers in [-max_speed, max_speed]

    def __post_init__(self) -> None:
        if self.digit_size >= self.image_size:
            raise ValueError(f"digit_size {self.digit_size} must be smaller than image_size {self.image_size}")
        if self.num_digits < 1 or self.seq_len < 1 or self.max_speed < 1:
            raise ValueError(f"num_digits, seq_len and max_speed must be >= 1, got {self}")

    @property
    def max_corner(self) -> int:
        """Largest legal top-left coordinate (the svg code's `image_size - 32 - 1`)."""
        return self.image_size - self.digit_size - 1


@dataclass
class SMMNISTBatch:
    frames: np.ndarray  # (N, T, H, W) uint8
    positions: np.ndarray  # (N, T, D, 2) int16, (x, y) of each digit box's top-left corner
    velocities: np.ndarray  # (N, T, D, 2) int8, (dx, dy) taking frame t to t+1
    bounces: np.ndarray  # (N, T, D) bool, a wall was hit at frame t (new velocity drawn)
    walls: np.ndarray  # (N, T, D, 2) int8 per axis (x, y): -1 left/top wall, +1 right/bottom, 0 none
    digit_index: np.ndarray  # (N, D) int32, rows of the digit pool

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "frames": self.frames,
            "positions": self.positions,
            "velocities": self.velocities,
            "bounces": self.bounces,
            "walls": self.walls,
            "digit_index": self.digit_index,
        }


def _random_velocity(cfg: SMMNISTConfig, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-cfg.max_speed, cfg.max_speed + 1, size=shape + (2,))


def sample_trajectories(
    cfg: SMMNISTConfig,
    n: int,
    rng: np.random.Generator,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions, velocities, bounces, walls for n sequences (shapes as in SMMNISTBatch).

    start: optional (positions (D, 2), velocities (D, 2)) shared by all n sequences; they then
    move identically until their first bounce and diverge after it, which is how the true
    post-collision distribution of Fig. 5 is sampled.
    """
    d, lim = cfg.num_digits, cfg.max_corner
    if start is None:
        pos = rng.integers(0, lim + 1, size=(n, d, 2))  # (n, D, 2)
        vel = _random_velocity(cfg, rng, (n, d))  # (n, D, 2)
    else:
        p0, v0 = (np.asarray(a, dtype=np.int64) for a in start)
        if p0.shape != (d, 2) or v0.shape != (d, 2):
            raise ValueError(f"start positions/velocities must be ({d}, 2), got {p0.shape}, {v0.shape}")
        if (p0 < 0).any() or (p0 > lim).any() or (np.abs(v0) > cfg.max_speed).any():
            raise ValueError(f"start outside the legal box [0, {lim}] or speed > {cfg.max_speed}: {p0}, {v0}")
        pos, vel = np.broadcast_to(p0, (n, d, 2)).copy(), np.broadcast_to(v0, (n, d, 2)).copy()
    positions = np.empty((n, cfg.seq_len, d, 2), np.int16)
    velocities = np.empty((n, cfg.seq_len, d, 2), np.int8)
    walls = np.zeros((n, cfg.seq_len, d, 2), np.int8)
    for t in range(cfg.seq_len):
        if t > 0:
            pos = pos + vel
        low, high = pos < 0, pos > lim  # (n, D, 2)
        hit = low | high
        pos = np.clip(pos, 0, lim)
        if cfg.deterministic:
            vel = np.where(hit, -vel, vel)
        else:
            # Drawn every step for every digit so the stream does not depend on which bounced.
            tangent = _random_velocity(cfg, rng, (n, d))
            speed = rng.integers(1, cfg.max_speed + 1, size=(n, d, 2))
            fresh = np.where(hit, np.where(low, speed, -speed), tangent)
            vel = np.where(hit.any(-1, keepdims=True), fresh, vel)
        positions[:, t], velocities[:, t] = pos, vel
        walls[:, t] = high.astype(np.int8) - low.astype(np.int8)
    return positions, velocities, walls.any(-1), walls


def _pick_digits(n: int, d: int, pool: int, rng: np.random.Generator) -> np.ndarray:
    """(n, d) indices, distinct within each sequence (the paper samples "two different digits")."""
    if pool < d:
        raise ValueError(f"digit pool has {pool} digits, a sequence needs {d} distinct ones")
    idx = rng.integers(0, pool, size=(n, d))
    for k in range(1, d):
        while True:
            clash = (idx[:, k : k + 1] == idx[:, :k]).any(1)
            if not clash.any():
                break
            idx[clash, k] = rng.integers(0, pool, size=int(clash.sum()))
    return idx.astype(np.int32)


def render_frames(cfg: SMMNISTConfig, digit_images: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Paste digits (N, D, s, s) uint8 at positions (N, T, D, 2) -> frames (N, T, H, W) uint8.

    Vectorised: a writeable sliding-window view of the canvas puts each digit's s x s block at
    its corner with one fancy-indexed add per digit slot (blocks of different frames never share
    memory, so the add is exact); no Python loop over frames.
    """
    n, t_len, d, _ = positions.shape
    s, size = cfg.digit_size, cfg.image_size
    out = np.empty((n, t_len, size, size), np.uint8)
    chunk = max(1, 2**22 // (t_len * size * size))  # bound the uint16 canvas to ~8 MB
    ti = np.arange(t_len)[None, :]  # (1, T)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        canvas = np.zeros((b - a, t_len, size, size), np.uint16)
        blocks = sliding_window_view(canvas, (s, s), axis=(2, 3), writeable=True)  # (c, T, H-s+1, W-s+1, s, s)
        ni = np.arange(b - a)[:, None]  # (c, 1)
        for k in range(d):
            y = positions[a:b, :, k, 1].astype(np.intp)  # (c, T)
            x = positions[a:b, :, k, 0].astype(np.intp)
            blocks[ni, ti, y, x] += digit_images[a:b, k][:, None]  # (c, T, s, s) += (c, 1, s, s)
        np.minimum(canvas, 255, out=canvas)
        out[a:b] = canvas
    return out


def generate(
    cfg: SMMNISTConfig,
    digits: np.ndarray,
    n: int,
    rng: np.random.Generator,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    synchronized: bool = False,
) -> SMMNISTBatch:
    """n sequences from a digit pool (M, digit_size, digit_size) uint8.

    start: shared initial state (see sample_trajectories). synchronized: all n sequences share
    one whole trajectory and differ only by their digits (Fig. 6's 500 synchronized sequences).
    """
    if digits.ndim != 3 or digits.shape[1:] != (cfg.digit_size, cfg.digit_size) or digits.dtype != np.uint8:
        raise ValueError(
            f"digit pool must be (M, {cfg.digit_size}, {cfg.digit_size}) uint8, got {digits.shape} {digits.dtype}"
            " (resize with pipeline.synthetic.digits.resize_digits)"
        )
    traj = sample_trajectories(cfg, 1 if synchronized else n, rng, start)
    if synchronized:
        traj = tuple(np.repeat(a, n, axis=0) for a in traj)
    positions, velocities, bounces, walls = traj
    idx = _pick_digits(n, cfg.num_digits, len(digits), rng)
    frames = render_frames(cfg, digits[idx], positions)
    return SMMNISTBatch(frames, positions, velocities, bounces, walls, idx)


def training_batches(
    cfg: SMMNISTConfig,
    digits: np.ndarray,
    batch_size: int,
    seed: int,
    start_step: int = 0,
    num_steps: int | None = None,
) -> Iterator[np.ndarray]:
    """Endless (or num_steps) uint8 batches (B, T, H, W), generated on the fly as in the paper.

    Batch k depends only on (seed, k), so a resumed training that starts at start_step sees
    exactly the batches the killed run would have seen.
    """
    step = start_step
    while num_steps is None or step < start_step + num_steps:
        rng = np.random.default_rng(np.random.SeedSequence([seed, step]))
        yield generate(cfg, digits, batch_size, rng).frames
        step += 1


def _attrs(cfg: SMMNISTConfig, digits: np.ndarray, n: int, seed: int, kind: str) -> dict:
    return {
        "dataset": "smmnist",
        "kind": kind,
        "config": asdict(cfg),
        "n": n,
        "seed": seed,
        "digit_pool_size": int(len(digits)),
        "digit_pool_sha1": hashlib.sha1(np.ascontiguousarray(digits).tobytes()).hexdigest(),
        "position_convention": "(x, y) of the digit box top-left corner, pixels",
        "velocity_convention": "(dx, dy) from frame t to t+1; at a bounce, the new velocity",
    }


def make_test_set(cfg: SMMNISTConfig, digits: np.ndarray, n: int, seed: int) -> tuple[dict[str, np.ndarray], dict]:
    """The fixed test set: arrays (axis 0 = sequence) and attrs, ready for write_shard."""
    batch = generate(cfg, digits, n, np.random.default_rng(np.random.SeedSequence([seed])))
    return batch.arrays(), _attrs(cfg, digits, n, seed, "test")


def make_synchronized_set(
    cfg: SMMNISTConfig, digits: np.ndarray, n: int, seed: int
) -> tuple[dict[str, np.ndarray], dict]:
    """n sequences sharing one trajectory, different digits (svg Fig. 6: 500 sequences, 100 steps)."""
    batch = generate(cfg, digits, n, np.random.default_rng(np.random.SeedSequence([seed])), synchronized=True)
    return batch.arrays(), _attrs(cfg, digits, n, seed, "synchronized")


def make_shared_start_set(
    cfg: SMMNISTConfig, digits: np.ndarray, n: int, seed: int, first_bounces: Sequence[int]
) -> tuple[dict[str, np.ndarray], dict]:
    """Per entry f of ``first_bounces``, n sequences sharing one start whose first wall hit is at frame f.

    svg Fig. 5 shows three such trajectories (impacts at t = 8, 11 and 16, 1-based). The n
    sequences of one trajectory move identically up to frame f; afterwards the random bounces
    make them diverge: the ground-truth distribution of velocities after a collision. Arrays hold
    the trajectories one after the other, with ``trajectory`` (N,) naming each sequence's.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed]))
    parts, labels = [], []
    for k, first in enumerate(first_bounces):
        if not 0 < first < cfg.seq_len:
            raise ValueError(f"first bounce frame {first} must be in 1..seq_len - 1 = {cfg.seq_len - 1}")
        for _ in range(10_000):
            pos, vel, bounces, _ = sample_trajectories(cfg, 1, rng)
            hit_times = np.flatnonzero(bounces[0].any(-1))
            if len(hit_times) and hit_times[0] == first:
                break
        else:
            raise RuntimeError(f"no start with its first bounce at frame {first} in 10,000 draws")
        parts.append(generate(cfg, digits, n, rng, start=(pos[0, 0], vel[0, 0])).arrays())
        labels.append(np.full(n, k, np.int16))
    arrays = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    arrays["trajectory"] = np.concatenate(labels)
    attrs = _attrs(cfg, digits, n * len(first_bounces), seed, "shared_start")
    attrs["first_bounces"] = [int(f) for f in first_bounces]
    attrs["sequences_per_trajectory"] = int(n)
    return arrays, attrs
