"""Archive extraction for the fetch stage: zip, tar and rar, nested ones included.

The official datasets come packed in three formats: rar (UCF101's 13,320 clips in one archive,
HMDB-51 as one rar of 51 per-class rars, the HMDB-51 splits), zip (the UCF101 splits, THUMOS,
the KTH actions, the exercise set) and tar, plain or compressed (Penn Action, the sprites).
Unpacking them is a job of its own, apart from downloading (`pipeline.fetch`), because each
format needs its own tool and its own care, and every one must give the same guarantees:

- no member escapes the target folder: zip names are sanitised by `zipfile`, tar members pass
  the `data` filter (no absolute paths, '..', devices or links out), rar goes through bsdtar
  or rarfile, which both refuse such names;
- nothing is silently short: zip CRCs are checked while reading, a truncated tar fails, and
  every regular file a rar's headers list must be on disk afterwards with its size;
- the result is published atomically: an archive is unpacked into `.<name>.partial` beside the
  target and renamed into place, so an existing target is always a finished extraction and a
  crash leaves nothing that looks finished;
- archives inside an archive (HMDB-51's per-class rars, with `nested=True`) are unpacked in
  place, each into a folder of its stem that replaces it; a lone top folder repeating that stem
  (`brush_hair/brush_hair/...`) is collapsed, so the layout does not depend on how they were packed.

A failure to unpack raises `ExtractError` (a `FetchError`) naming the archive.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import rarfile

from pipeline.fetch_errors import FetchError

BSDTAR = "bsdtar"  # libarchive's tar (Debian: libarchive-tools) reads RAR 4 and RAR 5
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")


class ExtractError(FetchError):
    pass


def archive_kind(path: Path) -> str:
    """'zip', 'tar' or 'rar', from the file name, else from the file's magic bytes."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".rar"):
        return "rar"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    if zipfile.is_zipfile(path):
        return "zip"
    if rarfile.is_rarfile(path):
        return "rar"
    if tarfile.is_tarfile(path):
        return "tar"
    raise ExtractError(f"{path} is not a zip, tar or rar archive")


def _is_archive_name(path: Path) -> bool:
    return path.name.lower().endswith((".zip", ".rar", *_TAR_SUFFIXES))


def archive_stem(name: str) -> str:
    """`UCF101.rar` -> `UCF101`, `Penn_Action.tar.gz` -> `Penn_Action`."""
    lower = name.lower()
    for suffix in sorted((".zip", ".rar", *_TAR_SUFFIXES), key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _unpack_zip(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)  # member names are sanitised; CRCs are checked while reading
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError) as exc:
        raise ExtractError(f"cannot unpack {archive}: {exc}") from exc


def _unpack_tar(archive: Path, into: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tf:
            tf.extractall(into, filter="data")  # refuses absolute paths, '..', devices, odd links
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ExtractError(f"cannot unpack {archive}: {exc}") from exc


def _rar_members(archive: Path) -> list[tuple[str, int]]:
    """(name, size) of every regular file, read from the headers by rarfile (no tool needed)."""
    try:
        with rarfile.RarFile(archive) as rf:
            return [
                (info.filename, info.file_size)
                for info in rf.infolist()
                if not info.is_dir() and not info.is_symlink() and info.file_redir is None
            ]
    except (rarfile.Error, OSError) as exc:
        raise ExtractError(f"cannot read the RAR headers of {archive}: {exc}") from exc


def _clear(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _unpack_rar(archive: Path, into: Path) -> None:
    """bsdtar in one pass; rarfile (with unrar/unar/7z) only when bsdtar is missing or fails.

    rarfile driving bsdtar would start one bsdtar per member, each scanning the archive from
    the start, which is quadratic on UCF101's 13,320 clips; one `bsdtar -x` is a single pass.
    """
    members = _rar_members(archive)
    failure = ""
    tool = shutil.which(BSDTAR)
    if tool:
        cmd = [tool, "-x", "--no-same-owner", "-f", str(archive), "-C", str(into)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode == 0:
            _check_members(archive, into, members)
            return
        failure = f"`{' '.join(cmd)}` exited {result.returncode}: {result.stderr.strip()[:500]}; "
        _clear(into)
    else:
        failure = f"{BSDTAR} not found (Debian: apt-get install libarchive-tools); "
    try:
        rarfile.tool_setup(unrar=True, unar=True, sevenzip=True, sevenzip2=True, bsdtar=False, force=True)
    except rarfile.RarCannotExec:
        pass  # stored (uncompressed) members still extract without any tool
    try:
        with rarfile.RarFile(archive) as rf:
            rf.extractall(into)
    except (rarfile.Error, OSError) as exc:
        raise ExtractError(
            f"cannot unpack {archive}: {failure}rarfile: {exc}. Install libarchive-tools (bsdtar) "
            f"or unrar/unar, or unpack it by hand and use `source: path`."
        ) from exc
    _check_members(archive, into, members)


def _check_members(archive: Path, into: Path, members: list[tuple[str, int]]) -> None:
    bad = [name for name, size in members if not (into / name).is_file() or (into / name).stat().st_size != size]
    if bad:
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise ExtractError(f"unpacking {archive} left {len(bad)} of {len(members)} files missing or short: {shown}")


_UNPACKERS = {"zip": _unpack_zip, "tar": _unpack_tar, "rar": _unpack_rar}


def _collapse(folder: Path) -> None:
    """`x/x/...` -> `x/...`: archives that repeat their own name as a top folder."""
    children = list(folder.iterdir())
    if len(children) == 1 and children[0].is_dir() and children[0].name == folder.name:
        hidden = folder.with_name(f".{folder.name}.collapse")
        children[0].rename(hidden)
        folder.rmdir()
        hidden.rename(folder)


def _unpack_nested(folder: Path, depth: int) -> None:
    """Unpack every archive below `folder` beside itself (`a/b.rar` -> `a/b/`), then delete it."""
    for inner in sorted(p for p in folder.rglob("*") if p.is_file() and _is_archive_name(p)):
        target = inner.with_name(archive_stem(inner.name))
        if target.exists():
            raise ExtractError(f"unpacking nested {inner} would overwrite {target}")
        extract(inner, target, nested=depth < 3, _depth=depth + 1)
        _collapse(target)
        inner.unlink()


def extract(
    archive: Path | str,
    dest_dir: Path | str,
    *,
    kind: str | None = None,
    nested: bool = False,
    overwrite: bool = False,
    _depth: int = 0,
) -> Path:
    """Unpack a zip/tar/rar archive into `dest_dir`, which appears only once complete.

    Unpacks into `.<dest_dir name>.partial` beside the target and renames it into place, so an
    existing `dest_dir` is always a finished extraction (and is returned as is unless
    `overwrite`). `nested=True` also unpacks archives found inside (HMDB-51's per-class rars),
    each into a folder of its stem next to it, and deletes them.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    if dest_dir.exists():
        if not overwrite:
            return dest_dir
        shutil.rmtree(dest_dir)
    if not archive.is_file():
        raise ExtractError(f"archive {archive} does not exist")
    kind = kind or archive_kind(archive)
    if kind not in _UNPACKERS:
        raise ExtractError(f"{archive}: unknown archive kind '{kind}' (zip, tar or rar)")
    partial = dest_dir.with_name(f".{dest_dir.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)  # left by an interrupted run
    partial.mkdir(parents=True)
    try:
        _UNPACKERS[kind](archive, partial)
        if nested:
            _unpack_nested(partial, _depth)
        partial.rename(dest_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return dest_dir
