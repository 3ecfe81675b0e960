"""Handwritten digit pools for Stochastic Moving MNIST.

Two sources: the official MNIST IDX files (`source: url` / `source: path`), and, offline,
scikit-learn's bundled 8x8 digits upscaled so that they look like MNIST strokes (white
stroke on black, 20x20 digit box centred by centre of mass inside a 28x28 canvas, as
LeCun et al. prepared MNIST). Train and test pools never share a digit image: MNIST has
its official train/t10k files; the sklearn digits are split once with a fixed permutation.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import cv2
import numpy as np

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"); big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# The sklearn train/test split is part of the dataset definition, not of an experiment's seed:
# changing it would silently move digits between pools, so it is fixed here.
_SKLEARN_SPLIT_SEED = 20180710
_MNIST_BOX = 20 / 28  # MNIST digits fit a 20x20 box inside the 28x28 canvas.


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or not, detected from its bytes, not its name)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic number must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX data type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions announced)")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX payload has {len(raw) - header} bytes, header shape {shape} needs {expected}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"MNIST file {stem}[.gz] not found in {directory}")


def load_mnist_idx(path: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 from the official MNIST IDX files.

    `path` is either the directory holding `train-*`/`t10k-*` files (choose with `split`:
    "train" or "test"), or an images file whose labels file sits beside it under the official
    name (`...-images-idx3-ubyte[.gz]` -> `...-labels-idx1-ubyte[.gz]`).
    """
    path = Path(path)
    if path.is_dir():
        prefix = {"train": "train", "test": "t10k"}.get(split)
        if prefix is None:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        images_path = _find_idx(path, f"{prefix}-images-idx3-ubyte")
        labels_path = _find_idx(path, f"{prefix}-labels-idx1-ubyte")
    else:
        if "images-idx3" not in path.name:
            raise ValueError(f"{path}: expected an MNIST '*-images-idx3-ubyte[.gz]' file or a directory")
        labels_stem = path.name.replace("images-idx3", "labels-idx1").removesuffix(".gz")
        images_path, labels_path = path, _find_idx(path.parent, labels_stem)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected (N, rows, cols) uint8 images, got {images.shape} {images.dtype}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{labels_path}: {labels.shape} labels for {len(images)} images in {images_path}")
    return images, labels.astype(np.uint8)


def resize_digits(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (N, h, w) uint8 digits to (N, size, size), as the svg code does 28 -> 32."""
    if images.ndim != 3:
        raise ValueError(f"digits must be (N, h, w), got {images.shape}")
    if images.shape[1:] == (size, size):
        return images.astype(np.uint8, copy=True)
    out = np.empty((len(images), size, size), np.uint8)
    for i, im in enumerate(images):
        out[i] = cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR)
    return out


def _mnist_like(img8: np.ndarray, size: int) -> np.ndarray:
    """One 8x8 sklearn digit (values 0..16) -> (size, size) uint8 MNIST-looking digit."""
    inner = max(4, int(round(size * _MNIST_BOX)))
    x = np.pad(img8.astype(np.float32) / 16.0, 1)  # zero border so cubic upsampling fades out
    full = int(round(inner * 10 / 8))  # the padded 10x10 grid at the target scale
    x = cv2.resize(x, (full, full), interpolation=cv2.INTER_CUBIC)
    b = (full - inner) // 2
    x = x[b : b + inner, b : b + inner]  # (inner, inner): the 8x8 cells span the whole box
    # The 8x8 source is a blurred ink density; a smoothstep turns it into a solid stroke with
    # soft anti-aliased borders, which is what MNIST strokes look like.
    x = np.clip((x - 0.3) / 0.4, 0.0, 1.0)
    x = x * x * (3.0 - 2.0 * x)
    x = cv2.GaussianBlur(x, (0, 0), sigmaX=0.04 * inner)
    canvas = np.zeros((size, size), np.float32)
    off = (size - inner) // 2
    canvas[off : off + inner, off : off + inner] = x
    # MNIST centres the box by centre of mass; shift by an integer that keeps the box inside.
    mass = canvas.sum()
    if mass > 0:
        ys, xs = np.mgrid[0:size, 0:size]
        cy, cx = (canvas * ys).sum() / mass, (canvas * xs).sum() / mass
        dy = int(np.clip(round((size - 1) / 2 - cy), -off, size - off - inner))
        dx = int(np.clip(round((size - 1) / 2 - cx), -off, size - off - inner))
        canvas = np.roll(canvas, (dy, dx), axis=(0, 1))
    return np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8)


def load_digits_sklearn(size: int = 28, split: str = "all", test_fraction: float = 0.2) -> np.ndarray:
    """scikit-learn's 1,797 bundled digits as (N, size, size) uint8 MNIST-like images.

    split: "all", or "train"/"test" -- a fixed, disjoint partition (test_fraction of the
    digits in the test pool), so SM-MNIST test sequences never show a training digit.
    """
    from sklearn.datasets import load_digits

    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    raw = load_digits().images  # (1797, 8, 8) float, 0..16
    if split != "all":
        order = np.random.default_rng(_SKLEARN_SPLIT_SEED).permutation(len(raw))
        n_test = int(round(test_fraction * len(raw)))
        idx = np.sort(order[:n_test] if split == "test" else order[n_test:])
        raw = raw[idx]
    return np.stack([_mnist_like(im, size) for im in raw])
