"""BAIR TFRecords without TensorFlow: framing, CRCs, Example parsing, sequences read back exactly."""

from __future__ import annotations

import struct
from pathlib import Path

import google_crc32c
import numpy as np
import pytest

from pipeline import bair


def bair_record(frames: np.ndarray, rng: np.random.Generator) -> bytes:
    """One sequence as the BAIR dataset stores it, with the other per-frame features it carries."""
    features: dict[str, list] = {}
    for i, frame in enumerate(frames):
        features[f"{i}/image_aux1/encoded"] = [frame.tobytes()]
        features[f"{i}/image_main/encoded"] = [frame[::-1].tobytes()]
        features[f"{i}/action"] = rng.normal(size=4).astype(np.float32).tolist()
        features[f"{i}/endeffector_pos"] = rng.normal(size=3).astype(np.float32).tolist()
    return bair.make_example(features)


def write_bair_file(path: Path, n: int, seed: int, n_frames: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    seqs = rng.integers(0, 256, size=(n, n_frames, 64, 64, 3), dtype=np.uint8)
    bair.write_tfrecord(path, [bair_record(s, rng) for s in seqs])
    return seqs


def test_crc32c_is_the_castagnoli_polynomial() -> None:
    assert google_crc32c.value(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert bair.masked_crc32c(b"") != google_crc32c.value(b"")  # TFRecord masks it


def test_sequences_read_back_exactly(tmp_path: Path) -> None:
    root = tmp_path / "softmotion30_44k"
    first = write_bair_file(root / "test" / "traj_0_to_255.tfrecords", n=3, seed=0)
    second = write_bair_file(root / "test" / "traj_256_to_511.tfrecords", n=2, seed=1)
    files = bair.bair_files(tmp_path, "test")
    assert [f.name for f in files] == ["traj_0_to_255.tfrecords", "traj_256_to_511.tfrecords"]
    seqs = bair.load_bair(files)
    assert seqs.shape == (5, 30, 64, 64, 3) and seqs.dtype == np.uint8
    np.testing.assert_array_equal(seqs, np.concatenate([first, second]))
    np.testing.assert_array_equal(bair.load_bair(files, n_frames=12, max_sequences=4), seqs[:4, :12])
    main = next(bair.read_bair_sequences(files[0], image_key="image_main"))
    np.testing.assert_array_equal(main, first[0, :, ::-1])


def test_framing_layout_and_other_feature_types(tmp_path: Path) -> None:
    record = bair.make_example({"a": [1, -2, 3], "f": [0.5, 1.5], "b": [b"xy", b""]})
    path = bair.write_tfrecord(tmp_path / "one.tfrecords", [record])
    raw = path.read_bytes()
    assert len(raw) == 8 + 4 + len(record) + 4
    assert struct.unpack("<Q", raw[:8])[0] == len(record)
    assert raw[12 : 12 + len(record)] == record
    crc = google_crc32c.value(record)
    assert struct.unpack("<I", raw[-4:])[0] == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    parsed = bair.parse_example(next(bair.read_tfrecord(path)))
    assert parsed == {"a": [1, -2, 3], "f": [0.5, 1.5], "b": [b"xy", b""]}


def test_parses_example_bytes_assembled_by_hand() -> None:
    # Example{features{feature{key: "a" value{int64_list{value: [1]}}}}} in protobuf wire format:
    # Int64List 0a 01 01 | Feature 1a 03 .. | entry 0a 01 'a' 12 05 .. | Features 0a 0a .. | Example 0a 0c ..
    wire = bytes.fromhex("0a0c" "0a0a" "0a0161" "1205" "1a03" "0a0101")
    assert bair.parse_example(wire) == {"a": [1]}
    assert bair.make_example({"a": [1]}) == wire


def test_corruption_and_truncation_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "traj_0_to_255.tfrecords"
    write_bair_file(path, n=2, seed=2, n_frames=2)
    raw = bytearray(path.read_bytes())
    bad = tmp_path / "bad.tfrecords"
    raw[40] ^= 0xFF  # a byte inside the first record's data
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"bad.tfrecords: data CRC mismatch in record 0"):
        list(bair.read_tfrecord(bad))
    assert len(list(bair.read_tfrecord(bad, verify=False))) == 2
    short = tmp_path / "short.tfrecords"
    short.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="record 1 .* truncated"):
        list(bair.read_tfrecord(short))
    with pytest.raises(KeyError, match="2/image_aux1/encoded"):
        list(bair.read_bair_sequences(path, n_frames=3))  # only 2 frames were written


def test_missing_split_is_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train"):
        bair.bair_files(tmp_path, "train")
