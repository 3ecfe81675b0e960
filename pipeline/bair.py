"""BAIR robot pushing (Ebert et al. 2017) TFRecords, read without TensorFlow.

The dataset (``bair_robot_pushing_dataset_v0.tar`` -> ``softmotion30_44k/{train,test}/
traj_<a>_to_<b>.tfrecords``) stores one ``tf.train.Example`` per sequence; frame i of the camera
used by SVG is the feature ``{i}/image_aux1/encoded``: the raw 64x64x3 RGB bytes of the frame
(not PNG), i = 0..29.

A TFRecord file is a sequence of records framed as

    uint64 length | uint32 masked_crc32c(length) | bytes data[length] | uint32 masked_crc32c(data)

(little-endian). CRC32C comes from ``google-crc32c`` and ``tf.train.Example`` is parsed by the
``protobuf`` runtime from a descriptor of TensorFlow's ``example.proto``/``feature.proto`` built
here, so neither TensorFlow nor generated ``_pb2`` modules are needed. The writer exists so that
tests (and anyone converting data) can produce files in exactly the same format.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import google_crc32c
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from pipeline.atomic import write_with

FRAMES_PER_SEQUENCE = 30
IMAGE_SIZE = 64
IMAGE_KEY = "image_aux1"

_MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")

FeatureValue = Sequence[bytes] | Sequence[float] | Sequence[int] | np.ndarray


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C (rotate right by 15 bits, add a constant), as in TensorFlow."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def read_tfrecord(path: str | Path, verify: bool = True) -> Iterator[bytes]:
    """The records of one TFRecord file, checking both CRCs of every record unless ``verify=False``."""
    path = Path(path)
    with open(path, "rb") as handle:
        index = 0
        while True:
            offset = handle.tell()
            header = handle.read(_LENGTH.size + _CRC.size)
            if not header:
                return
            if len(header) < _LENGTH.size + _CRC.size:
                raise ValueError(f"{path}: truncated record header at byte {offset} (record {index})")
            length_bytes = header[: _LENGTH.size]
            (length,) = _LENGTH.unpack(length_bytes)
            (length_crc,) = _CRC.unpack(header[_LENGTH.size :])
            if verify and masked_crc32c(length_bytes) != length_crc:
                raise ValueError(f"{path}: length CRC mismatch at byte {offset} (record {index}); corrupt file?")
            data = handle.read(length)
            footer = handle.read(_CRC.size)
            if len(data) < length or len(footer) < _CRC.size:
                raise ValueError(
                    f"{path}: record {index} at byte {offset} is truncated "
                    f"({len(data)} of {length} data bytes)"
                )
            if verify and masked_crc32c(data) != _CRC.unpack(footer)[0]:
                raise ValueError(f"{path}: data CRC mismatch in record {index} at byte {offset}")
            yield data
            index += 1


def write_tfrecord(path: str | Path, records: Iterable[bytes]) -> Path:
    """Write records with TFRecord framing and real CRCs; the file appears atomically."""
    path = Path(path)

    def write(handle: BinaryIO) -> None:
        for record in records:
            length = _LENGTH.pack(len(record))
            handle.write(length)
            handle.write(_CRC.pack(masked_crc32c(length)))
            handle.write(record)
            handle.write(_CRC.pack(masked_crc32c(record)))

    return write_with(path, write, mode="wb")


@lru_cache(maxsize=1)
def _example_class() -> type:
    """The ``tensorflow.Example`` message class, from a descriptor of TensorFlow's protos."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name="video_futures/tensorflow_example.proto", package="tensorflow", syntax="proto3"
    )
    f = descriptor_pb2.FieldDescriptorProto
    for name, kind in (("BytesList", f.TYPE_BYTES), ("FloatList", f.TYPE_FLOAT), ("Int64List", f.TYPE_INT64)):
        msg = fdp.message_type.add(name=name)
        msg.field.add(name="value", number=1, label=f.LABEL_REPEATED, type=kind)
    feature = fdp.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for number, (name, type_name) in enumerate(
        (("bytes_list", "BytesList"), ("float_list", "FloatList"), ("int64_list", "Int64List")), start=1
    ):
        feature.field.add(
            name=name, number=number, label=f.LABEL_OPTIONAL, type=f.TYPE_MESSAGE,
            type_name=f".tensorflow.{type_name}", oneof_index=0,
        )
    features = fdp.message_type.add(name="Features")
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, label=f.LABEL_OPTIONAL, type=f.TYPE_STRING)
    entry.field.add(
        name="value", number=2, label=f.LABEL_OPTIONAL, type=f.TYPE_MESSAGE, type_name=".tensorflow.Feature"
    )
    features.field.add(
        name="feature", number=1, label=f.LABEL_REPEATED, type=f.TYPE_MESSAGE,
        type_name=".tensorflow.Features.FeatureEntry",
    )
    example = fdp.message_type.add(name="Example")
    example.field.add(
        name="features", number=1, label=f.LABEL_OPTIONAL, type=f.TYPE_MESSAGE, type_name=".tensorflow.Features"
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.Example"))


def parse_example(record: bytes) -> dict[str, list[Any]]:
    """A serialized ``tf.train.Example`` -> {feature name: list of bytes, floats or ints}."""
    example = _example_class()()
    example.ParseFromString(record)
    out: dict[str, list[Any]] = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[key] = list(getattr(feature, kind).value) if kind else []
    return out


def make_example(features: Mapping[str, FeatureValue]) -> bytes:
    """{name: values} -> serialized ``tf.train.Example``; bytes, float or integer lists by content."""
    example = _example_class()()
    for key, values in features.items():
        values = list(values.tolist() if isinstance(values, np.ndarray) else values)
        feature = example.features.feature[key]
        if all(isinstance(v, bytes) for v in values):
            feature.bytes_list.value.extend(values)
        elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            feature.int64_list.value.extend(int(v) for v in values)
        elif all(isinstance(v, (int, float, np.number)) for v in values):
            feature.float_list.value.extend(float(v) for v in values)
        else:
            raise TypeError(f"feature {key!r}: values must be all bytes, all ints or all floats")
    return example.SerializeToString()


def frame_key(i: int, image_key: str = IMAGE_KEY) -> str:
    return f"{i}/{image_key}/encoded"


def sequence_from_example(
    features: Mapping[str, list[Any]],
    n_frames: int = FRAMES_PER_SEQUENCE,
    image_key: str = IMAGE_KEY,
    where: str = "record",
) -> np.ndarray:
    """Frames of one parsed Example -> uint8 (n_frames, 64, 64, 3) RGB."""
    frames = np.empty((n_frames, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    expected = IMAGE_SIZE * IMAGE_SIZE * 3
    for i in range(n_frames):
        key = frame_key(i, image_key)
        if key not in features:
            sample = sorted(features)[:6]
            raise KeyError(f"{where}: no feature {key!r} (has e.g. {sample})")
        values = features[key]
        if len(values) != 1 or not isinstance(values[0], bytes) or len(values[0]) != expected:
            size = len(values[0]) if values and isinstance(values[0], bytes) else None
            raise ValueError(
                f"{where}: feature {key!r} should hold one raw {IMAGE_SIZE}x{IMAGE_SIZE}x3 image "
                f"({expected} bytes), got {len(values)} value(s) of {size} bytes"
            )
        frames[i] = np.frombuffer(values[0], dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE, 3)
    return frames


def read_bair_sequences(
    path: str | Path, n_frames: int = FRAMES_PER_SEQUENCE, image_key: str = IMAGE_KEY
) -> Iterator[np.ndarray]:
    """The sequences of one ``traj_*.tfrecords`` file, each uint8 (n_frames, 64, 64, 3)."""
    for index, record in enumerate(read_tfrecord(path)):
        yield sequence_from_example(parse_example(record), n_frames, image_key, where=f"{path} record {index}")


def bair_files(root: str | Path, split: str) -> list[Path]:
    """``traj_<a>_to_<b>.tfrecords`` of a split under ``root`` in trajectory order.

    ``root`` is the extracted ``softmotion30_44k`` folder (or one that contains it).
    """
    root = Path(root)
    if (root / "softmotion30_44k").is_dir():
        root = root / "softmotion30_44k"
    folder = root / split
    files = list(folder.glob("traj_*.tfrecords"))
    if not files:
        raise FileNotFoundError(f"no traj_*.tfrecords under {folder} (BAIR split {split!r})")

    def first_index(p: Path) -> tuple[int, str]:
        match = re.match(r"traj_(\d+)", p.name)
        return (int(match.group(1)) if match else -1, p.name)

    return sorted(files, key=first_index)


def load_bair(
    files: Sequence[str | Path],
    n_frames: int = FRAMES_PER_SEQUENCE,
    max_sequences: int | None = None,
    image_key: str = IMAGE_KEY,
) -> np.ndarray:
    """Sequences of several files, in order, as uint8 (N, n_frames, 64, 64, 3)."""
    sequences: list[np.ndarray] = []
    for path in files:
        if max_sequences is not None and len(sequences) >= max_sequences:
            break
        for seq in read_bair_sequences(path, n_frames, image_key):
            sequences.append(seq)
            if max_sequences is not None and len(sequences) >= max_sequences:
                break
    if not sequences:
        return np.zeros((0, n_frames, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    return np.stack(sequences)
