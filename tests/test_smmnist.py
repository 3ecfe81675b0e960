"""Stochastic Moving MNIST and its digit pools, checked against their definitions."""

import gzip
import hashlib
from dataclasses import replace

import cv2
import numpy as np
import pytest
from http_fixture import serve_files

from pipeline import sources
from pipeline.data import digit_pool, write_smmnist_test_set
from pipeline.download import ChecksumError
from pipeline.fetch import LayoutError, read_source
from pipeline.papers.svg.data import smmnist_digits
from pipeline.shards import open_shard
from pipeline.synthetic.digits import (
    load_digits_sklearn,
    load_mnist_idx,
    read_idx,
    resize_digits,
)
from pipeline.synthetic.smmnist import (
    SMMNISTConfig,
    generate,
    make_shared_start_set,
    make_synchronized_set,
    make_test_set,
    render_frames,
    training_batches,
)


@pytest.fixture(scope="module")
def pools():
    train = resize_digits(load_digits_sklearn(28, "train"), 32)
    test = resize_digits(load_digits_sklearn(28, "test"), 32)
    return train, test


@pytest.fixture(scope="module")
def batch(pools):
    cfg = SMMNISTConfig(num_digits=2, seq_len=60)
    return cfg, generate(cfg, pools[0], 300, np.random.default_rng(0))


def test_shapes_and_dtypes(batch):
    cfg, b = batch
    assert b.frames.shape == (300, 60, 64, 64) and b.frames.dtype == np.uint8
    assert b.positions.shape == b.velocities.shape == b.walls.shape == (300, 60, 2, 2)
    assert b.bounces.shape == (300, 60, 2) and b.bounces.dtype == bool
    assert (b.digit_index[:, 0] != b.digit_index[:, 1]).all()  # two different digits


def test_digits_stay_inside(batch):
    cfg, b = batch
    assert b.positions.min() >= 0 and b.positions.max() <= cfg.max_corner
    assert cfg.max_corner + cfg.digit_size <= cfg.image_size


def test_constant_velocity_between_bounces(batch):
    cfg, b = batch
    p, v = b.positions.astype(int), b.velocities.astype(int)
    free = ~b.bounces[:, 1:]  # (N, T-1, D): no wall hit at t+1
    assert free.mean() > 0.5
    np.testing.assert_array_equal((p[:, 1:] - p[:, :-1] - v[:, :-1])[free], 0)
    np.testing.assert_array_equal((v[:, 1:] - v[:, :-1])[free], 0)
    # At a bounce the free move would have left the box on exactly the flagged axes.
    unclamped = p[:, :-1] + v[:, :-1]  # (N, T-1, D, 2)
    walls = b.walls[:, 1:]
    np.testing.assert_array_equal(walls == -1, unclamped < 0)
    np.testing.assert_array_equal(walls == 1, unclamped > cfg.max_corner)
    np.testing.assert_array_equal(p[:, 1:], np.clip(unclamped, 0, cfg.max_corner))
    np.testing.assert_array_equal(b.bounces, (b.walls != 0).any(-1))


def test_bounce_velocity_points_away_and_in_range(batch):
    cfg, b = batch
    v, w = b.velocities.astype(int), b.walls
    assert np.abs(v).max() <= cfg.max_speed
    assert b.bounces.sum() > 500
    assert (v[w == -1] >= 1).all() and (v[w == 1] <= -1).all()
    # The new normal speed is uniform on {1..4}; the tangential component uniform on {-4..4}.
    normal = np.abs(v[w != 0])
    counts = np.bincount(normal, minlength=5)[1:]
    assert (np.abs(counts / counts.sum() - 0.25) < 0.05).all(), counts
    tangent = v[(w == 0) & b.bounces[..., None]]
    counts = np.bincount(tangent + 4, minlength=9)
    assert len(tangent) > 300 and (np.abs(counts / counts.sum() - 1 / 9) < 0.05).all(), counts


def test_deterministic_variant_reflects(pools):
    cfg = SMMNISTConfig(num_digits=1, seq_len=80, deterministic=True)
    b = generate(cfg, pools[0], 100, np.random.default_rng(1))
    v, w = b.velocities.astype(int), b.walls[:, 1:]
    assert (w != 0).sum() > 50
    np.testing.assert_array_equal(v[:, 1:][w != 0], -v[:, :-1][w != 0])
    np.testing.assert_array_equal(v[:, 1:][w == 0], v[:, :-1][w == 0])


def test_frame_shows_digit_at_position(pools):
    cfg = SMMNISTConfig(num_digits=1, seq_len=20)
    b = generate(cfg, pools[1], 6, np.random.default_rng(2))
    for i in range(6):
        digit = pools[1][b.digit_index[i, 0]]
        for t in (0, 7, 19):
            score = cv2.matchTemplate(b.frames[i, t], digit, cv2.TM_CCORR_NORMED)  # (33, 33)
            y, x = np.unravel_index(np.argmax(score), score.shape)
            assert (x, y) == tuple(b.positions[i, t, 0]), (i, t)


def test_two_digits_combine_by_saturating_sum(batch, pools):
    cfg, b = batch
    for i in range(3):
        for t in (0, 30, 59):
            canvas = np.zeros((64, 64), np.int32)
            for k in range(2):
                x, y = b.positions[i, t, k]
                canvas[y : y + 32, x : x + 32] += pools[0][b.digit_index[i, k]]
            np.testing.assert_array_equal(b.frames[i, t], np.minimum(canvas, 255))


def test_same_seed_same_stream_and_resume(pools):
    cfg = SMMNISTConfig(seq_len=8)
    first = list(training_batches(cfg, pools[0], 4, seed=5, num_steps=4))
    again = list(training_batches(cfg, pools[0], 4, seed=5, num_steps=4))
    resumed = list(training_batches(cfg, pools[0], 4, seed=5, start_step=2, num_steps=2))
    other = next(training_batches(cfg, pools[0], 4, seed=6))
    assert all(a.shape == (4, 8, 64, 64) and a.dtype == np.uint8 for a in first)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(first[2:], resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], other)
    a1, attrs = make_test_set(cfg, pools[1], 10, seed=3)
    a2, _ = make_test_set(cfg, pools[1], 10, seed=3)
    assert set(a1) == {"frames", "positions", "velocities", "bounces", "walls", "digit_index"}
    assert all(np.array_equal(a1[k], a2[k]) and len(a1[k]) == 10 for k in a1)
    assert attrs["config"]["seq_len"] == 8 and attrs["digit_pool_size"] == len(pools[1])


def test_synchronized_and_shared_start_sets(pools):
    cfg = SMMNISTConfig(num_digits=2, seq_len=40)
    a, _ = make_synchronized_set(cfg, pools[1], 20, seed=0)
    assert (a["positions"] == a["positions"][:1]).all() and (a["bounces"] == a["bounces"][:1]).all()
    assert len({tuple(r) for r in a["digit_index"]}) > 1
    cfg1 = SMMNISTConfig(num_digits=1, seq_len=30)
    a, attrs = make_shared_start_set(cfg1, pools[1], 200, seed=0, first_bounces=[7, 10, 15])  # Fig. 5's three
    assert attrs["first_bounces"] == [7, 10, 15] and attrs["n"] == 600
    np.testing.assert_array_equal(a["trajectory"], np.repeat([0, 1, 2], 200))
    for k, first in enumerate((7, 10, 15)):
        rows = a["trajectory"] == k
        hits = a["bounces"][rows, :, 0]
        assert (hits[:, :first].sum() == 0) and hits[:, first].all()  # first wall hit exactly there, for all
        before = a["positions"][rows, : first + 1]
        assert (before == before[:1]).all()  # identical motion up to and including the first hit
        after = a["velocities"][rows, first, 0]  # freshly drawn at the collision
        assert len({tuple(r) for r in after}) > 10
    assert len({tuple(a["positions"][a["trajectory"] == k][0, 0, 0]) for k in range(3)}) == 3  # three starts
    with pytest.raises(ValueError, match="first bounce"):
        make_shared_start_set(cfg1, pools[1], 2, seed=0, first_bounces=[30])


def test_sklearn_digits_look_like_mnist():
    d = load_digits_sklearn(28)
    assert d.shape == (1797, 28, 28) and d.dtype == np.uint8 and d.max() == 255
    ink = (d > 128).sum(axis=(1, 2))
    assert ink.min() > 20 and ink.max() < 28 * 28 / 2  # strokes, not blobs or blanks
    border = np.concatenate([d[:, :3].ravel(), d[:, -3:].ravel(), d[:, :, :3].ravel(), d[:, :, -3:].ravel()])
    assert border.mean() < 2.0  # MNIST-style empty margin around a 20x20 box
    ys, xs = np.mgrid[0:28, 0:28]
    mass = d.sum(axis=(1, 2)).astype(float)
    cy, cx = (d * ys).sum(axis=(1, 2)) / mass, (d * xs).sum(axis=(1, 2)) / mass
    assert np.abs(cy - 13.5).max() <= 1.5 and np.abs(cx - 13.5).max() <= 1.5


def test_sklearn_pools_disjoint():
    h = lambda a: {hashlib.sha1(x.tobytes()).hexdigest() for x in a}  # noqa: E731
    train, test, everything = (load_digits_sklearn(16, s) for s in ("train", "test", "all"))
    assert len(train) + len(test) == len(everything) and abs(len(test) - 0.2 * len(everything)) < 1
    assert not (h(train) & h(test)) and (h(train) | h(test)) == h(everything)


def _write_idx(path, array, code, compress):
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(0)
    ext = ".gz" if compress else ""
    sets = {}
    for prefix, n in (("train", 7), ("t10k", 3)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{ext}", images, 0x08, compress)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{ext}", labels, 0x08, compress)
        sets[prefix] = images, labels
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = load_mnist_idx(tmp_path, split)
        np.testing.assert_array_equal(images, sets[prefix][0])
        np.testing.assert_array_equal(labels, sets[prefix][1])
    images, labels = load_mnist_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}")
    np.testing.assert_array_equal(images, sets["t10k"][0])
    floats = rng.standard_normal((2, 3)).astype(np.float32)
    _write_idx(tmp_path / "f.idx", floats, 0x0D, compress)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)


def test_mnist_idx_errors_name_the_file(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x01\x02\x08\x03garbage")
    with pytest.raises(ValueError, match="train-images-idx3-ubyte"):
        read_idx(bad)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist_idx(tmp_path, "test")
    with pytest.raises(ValueError, match="digit pool"):
        generate(SMMNISTConfig(), np.zeros((5, 28, 28), np.uint8), 1, np.random.default_rng(0))


def _mnist_folder(rng, folder, counts=(("train", 6), ("t10k", 4)), compress=True):
    """Small copies of the four official MNIST files (IDX, gzipped as downloaded): name -> images."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for prefix, n in counts:
        digits = np.zeros((n, 28, 28), np.uint8)
        for i in range(n):  # a stroke of its own per image, inside the 20x20 box
            digits[i, 4 + i : 24, 4 + 2 * i : 8 + 2 * i] = rng.integers(128, 256)
        images[prefix] = digits
        ext = ".gz" if compress else ""
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", digits, 0x08, compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n, dtype=np.uint8) % 10, 0x08, compress)
    return images


def test_real_mnist_digits_come_checksummed_from_the_url_source(tmp_path, monkeypatch):
    """``datasets.smmnist.source: url``: the four MNIST files come from their URLs (a local server
    here, with the registry's checksums replaced by those of the files it serves), the test set is
    made of t10k digits and training reads the train digits; a wrong checksum keeps nothing."""
    images = _mnist_folder(np.random.default_rng(1), tmp_path / "served")
    entry = sources.REGISTRY["mnist"]
    with serve_files() as server:
        files = []
        for spec in entry.files:
            body = (tmp_path / "served" / spec.name).read_bytes()
            files.append(replace(spec, url=server.add(f"mnist/{spec.name}", body), mirrors=(),
                                 sha256=hashlib.sha256(body).hexdigest()))
        monkeypatch.setitem(sources.REGISTRY, "mnist", replace(entry, files=tuple(files)))
        data_root = tmp_path / "data"
        out = data_root / "clips" / "smmnist" / "svg" / "test.zarr"
        write_smmnist_test_set(out, {"source": "url"}, {"num_digits": 2, "sequence_length": 6, "test_sequences": 5},
                               data_root, seed=0)
        assert sorted(p for _, p, _ in server.requests) == sorted(f"/mnist/{s.name}" for s in entry.files)
        record = read_source(data_root / "raw" / "mnist")
        assert record["source"] == "url" and {f["sha256"] for f in record["files"]} == {f.sha256 for f in files}
        test_set = open_shard(out)
        assert test_set.attrs["source"] == "url" and test_set.attrs["digit_pool_size"] == 4
        # every test sequence is drawn from the t10k digits; training reads the train digits, no download again
        np.testing.assert_array_equal(smmnist_digits(out, "test"), resize_digits(images["t10k"], 32))
        np.testing.assert_array_equal(smmnist_digits(out, "train"), resize_digits(images["train"], 32))
        assert len(server.requests) == len(entry.files)
        frames = np.asarray(test_set["frames"][:])
        cfg = SMMNISTConfig(num_digits=2, seq_len=6)
        digit_index = np.asarray(test_set["digit_index"][:])
        assert digit_index.max() < 4
        again = render_frames(cfg, resize_digits(images["t10k"], 32)[digit_index], np.asarray(test_set["positions"][:]))
        np.testing.assert_array_equal(frames, again)

        # a file whose bytes do not match the recorded digest is refused, naming its URL, and nothing is kept
        bad = replace(files[0], sha256=hashlib.sha256(b"other bytes").hexdigest())
        monkeypatch.setitem(sources.REGISTRY, "mnist", replace(entry, files=(bad, *files[1:])))
        with pytest.raises(ChecksumError) as info:
            digit_pool({"source": "url"}, tmp_path / "other", "test")
        assert bad.url in str(info.value)
        assert not (tmp_path / "other" / "raw" / "mnist" / "data" / bad.name).exists()


def test_real_mnist_digits_from_a_path_source(tmp_path):
    """``source: path``: the user's folder of (here unzipped) IDX files is read where it is."""
    images = _mnist_folder(np.random.default_rng(2), tmp_path / "mine", compress=False)
    pool = digit_pool({"source": "path", "path": str(tmp_path / "mine")}, tmp_path / "data", "test", 32)
    np.testing.assert_array_equal(pool, resize_digits(images["t10k"], 32))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(LayoutError, match="t10k-images-idx3-ubyte"):
        digit_pool({"source": "path", "path": str(tmp_path / "half")}, tmp_path / "data2", "test", 32)
