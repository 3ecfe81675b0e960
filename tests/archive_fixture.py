"""Archives built in memory for the extraction and fetch tests: zip, tar.gz and RAR 4.

Each builder gives the same bytes for the same tree (fixed dates, no timestamps), so a test can
serve an archive with its sha256 and unpack it back to `TREE`.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np


def payload(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size=n, dtype=np.uint8).tobytes()


TREE = {
    "clips/walk/a.avi": payload(3000, 1),
    "clips/walk/b.avi": payload(10, 2),
    "clips/run/c.avi": b"",
    "lists/classInd.txt": b"1 walk\n2 run\n",
}


def zip_bytes(tree: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in tree.items():  # a fixed date: the same tree always gives the same bytes
            zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def targz_bytes(tree: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in tree.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)  # no timestamp: the same tree gives the same bytes


def _rar_block(head_type: int, flags: int, body: bytes) -> bytes:
    rest = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest


def rar_bytes(tree: dict[str, bytes]) -> bytes:
    """A RAR 4 archive with stored (uncompressed) members, written by the RAR 4 block format.

    No free RAR writer exists in Debian; the stored method needs no compressor, and both
    libarchive (bsdtar) and rarfile read these as they read any RAR 4 archive.
    """
    dos_time = (2016 - 1980) << 25 | 1 << 21 | 1 << 16
    out = [b"Rar!\x1a\x07\x00", _rar_block(0x73, 0, bytes(6))]  # marker, main header
    for name, data in tree.items():
        raw = name.encode()
        # packed size, size, host OS 3 (Unix), CRC32, DOS time, version 2.0, method 0x30 (store)
        head = struct.pack("<IIBIIBBHI", len(data), len(data), 3, zlib.crc32(data), dos_time, 20, 0x30,
                           len(raw), 0o100644)
        out += [_rar_block(0x74, 0x8000, head + raw), data]
    out.append(_rar_block(0x7B, 0x4000, b""))  # end of archive
    return b"".join(out)


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
