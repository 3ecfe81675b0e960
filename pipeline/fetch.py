"""Fetch stage: official archives downloaded, verified and unpacked, or a user's copy checked.

Whatever marks work as done appears atomically: a download is renamed from `<file>.part` only
after its checksum passed (`pipeline.download`), an archive is unpacked into a hidden folder
that is renamed into place (`pipeline.archives`), and `source.json` is written last. A crash at
any point leaves either the finished thing or something a rerun resumes or redoes, never a half
thing that looks finished.

Layout of `raw_dir` for `source: url`:
    downloads/<file>            verified download (+ <file>.sha256, the digest we computed)
    downloads/<file>.part       an interrupted download, resumed with an HTTP Range request
    data/<archive stem>/...     each archive unpacked (plain files are linked into data/)
    source.json                 what was fetched, from where, with which digests, when
For `source: path` only `source.json` is written; it points at the user's folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import requests

from pipeline.archives import (
    ExtractError,  # noqa: F401  re-exported: callers catch fetch.ExtractError
    archive_stem,
    extract,
)
from pipeline.atomic import write_text
from pipeline.download import CONNECT_TIMEOUT, digest_path, download_any
from pipeline.fetch_errors import FetchError
from pipeline.layouts import walk_files
from pipeline.sources import (
    Requirement,
    SourceEntry,
    check_kind,
    get_source,
)

log = logging.getLogger(__name__)

SOURCE_RECORD = "source.json"
DOWNLOADS = "downloads"
DATA = "data"
MAX_SEARCH_DEPTH = 5  # how far below a root `locate` looks for a dataset's folders


class LayoutError(FetchError):
    pass


# --------------------------------------------------------------------------------------------
# layout


def _folders(root: Path, max_depth: int) -> Iterator[Path]:
    """Breadth first, sorted, hidden folders (unfinished extractions) skipped."""
    queue = deque([(root, 0)])
    while queue:
        folder, depth = queue.popleft()
        yield folder
        if depth < max_depth:
            try:
                children = sorted(c for c in folder.iterdir() if c.is_dir() and not c.name.startswith("."))
            except OSError:
                continue
            queue.extend((child, depth + 1) for child in children)


def _find(root: Path, requirement: Requirement, max_depth: int) -> Path | None:
    for folder in _folders(root, max_depth):
        if requirement.dirname is not None and folder.name != requirement.dirname:
            continue
        if any(next(iter(folder.glob(pattern)), None) is not None for pattern in requirement.patterns):
            return folder
    return None


def locate(
    entry: SourceEntry, root: Path | str, *, context: str = "", max_depth: int = MAX_SEARCH_DEPTH
) -> dict[str, Path]:
    """The folder satisfying each of the entry's requirements below `root`, by key.

    Raises LayoutError naming `root` (or `context`, e.g. the config key) and everything missing.
    """
    root = Path(root)
    found: dict[str, Path] = {}
    missing: list[Requirement] = []
    for requirement in entry.requires:
        hit = _find(root, requirement, max_depth)
        if hit is None:
            missing.append(requirement)
        else:
            found[requirement.key] = hit
    if missing:
        where = context or str(root)
        lines = "; ".join(
            f"{r.what} (looked for {' or '.join(r.patterns)} in "
            f"{'a folder named ' + r.dirname if r.dirname else 'any folder'} up to {max_depth} levels down)"
            for r in missing
        )
        raise LayoutError(f"{where} does not look like {entry.title}: missing {lines}. Expected: {entry.layout_doc}")
    return found


# --------------------------------------------------------------------------------------------
# sources


def _entry(entry: SourceEntry | str) -> SourceEntry:
    return get_source(entry) if isinstance(entry, str) else entry


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_record(raw_dir: Path, record: dict) -> Path:
    raw_dir.mkdir(parents=True, exist_ok=True)
    return write_text(raw_dir / SOURCE_RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_source(raw_dir: Path | str) -> dict:
    """The record the fetch stage left in `raw_dir` (root, parts, layout, provenance)."""
    path = Path(raw_dir) / SOURCE_RECORD
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the fetch stage has not run for this dataset")
    return json.loads(path.read_text())


def _place(src: Path, dst: Path) -> None:
    """Put a downloaded plain file into the data root: a hard link, or a copy across devices."""
    tmp = dst.with_name(f".{dst.name}.partial")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def fetch_url_source(
    entry: SourceEntry | str,
    raw_dir: Path | str,
    *,
    keep_archives: bool = True,
    progress: bool = True,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> Path:
    """Download, verify and unpack every official file of a dataset; return its data root.

    Idempotent: finished downloads and extractions are skipped, so a rerun after a crash or a
    cut connection only does what is left. `source.json` is written last.
    """
    entry = _entry(entry)
    check_kind(entry, "url")
    raw_dir = Path(raw_dir)
    downloads, root = raw_dir / DOWNLOADS, raw_dir / DATA
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for spec in entry.files:
        dest = downloads / spec.name
        into = spec.into if spec.into is not None else archive_stem(spec.name)
        target = root / into
        placed = target / spec.name if spec.kind == "file" else target
        url = None
        if not placed.exists():
            url = download_any(spec, dest, entry.name, progress=progress, connect_timeout=connect_timeout)
            if spec.kind == "file":
                target.mkdir(parents=True, exist_ok=True)
                _place(dest, placed)
            else:
                extract(dest, target, kind=spec.kind, nested=spec.nested)
        digest_file = digest_path(dest)
        files.append({
            "name": spec.name,
            "official_url": spec.url,
            "url": url,  # the URL that served it; None when an earlier run had already unpacked it
            "expected_sha256": spec.sha256,
            "sha256": digest_file.read_text().strip() if digest_file.exists() else None,
            "kind": spec.kind,
            "unpacked_to": str(placed),
        })
    parts = locate(entry, root, context=f"the unpacked downloads of datasets.{entry.name} in {root}")
    if not keep_archives:
        for spec in entry.files:
            (downloads / spec.name).unlink(missing_ok=True)  # the .sha256 beside it stays
    _write_record(raw_dir, {
        "dataset": entry.name,
        "source": "url",
        "layout": entry.layout,
        "root": str(root.resolve()),
        "parts": {key: str(path.resolve()) for key, path in parts.items()},
        "files": files,
        "recorded_at": _now(),
        "requests_version": requests.__version__,
    })
    return root


def folder_fingerprint(root: Path | str) -> str:
    """A digest of every file below ``root``: relative path, size and modification time.

    A user's `source: path` folder is read where it is, so nothing tells the workflow that a
    video was added, replaced or removed there; this digest does, cheaply (``stat`` only, no
    reading), as the fetch rule's parameter and in `source.json`. Symlinked folders are
    followed (as the listing follows them), each real folder once. "" if ``root`` is not a folder.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        return ""
    hasher = hashlib.sha256()
    for folder, files in walk_files(root):
        rel = folder.relative_to(root).as_posix()
        for name in files:
            try:
                stat = os.stat(folder / name)
            except OSError:  # a dangling link: its name alone
                stat = None
            line = f"{rel}/{name}\t{stat.st_size}\t{stat.st_mtime_ns}" if stat else f"{rel}/{name}\t-"
            hasher.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return hasher.hexdigest()


def path_folder(dataset: str, path: Path | str, expected: str = "") -> Path:
    """A `source: path` folder as the config gives it; a missing one (or a file) is refused naming
    the key and the path, with ``expected`` (the layout) appended."""
    given = Path(path).expanduser()
    if not given.is_dir():
        what = "is not a folder" if given.exists() else "does not exist"
        raise LayoutError(f"datasets.{dataset}.path = '{path}': {given} {what}.{expected}")
    return given


def check_path_sources(datasets: dict) -> None:
    """Every configured `source: path` folder exists: refused before any job runs (at parse time),
    not only when its fetch job runs after everything else was scheduled."""
    for name, entry in datasets.items():
        if entry.get("source") == "path" and entry.get("path"):
            path_folder(name, entry["path"])


def link_path_source(entry: SourceEntry | str, path: Path | str, raw_dir: Path | str, kind: str = "path") -> Path:
    """Check a user's copy (or, for ``kind`` embedded, the project's shipped subset) against the
    documented layout and record it; nothing is copied.

    The record carries the folder's ``fingerprint`` (see `folder_fingerprint`), so a listing
    made from it can be told apart from one of the folder as it is now."""
    entry = _entry(entry)
    check_kind(entry, kind)
    key = f"datasets.{entry.name}.path = '{path}'" if kind == "path" else f"the shipped {entry.name} subset"
    root = path_folder(entry.name, path, f" Expected: {entry.layout_doc}").resolve()
    parts = locate(entry, root, context=key)
    _write_record(Path(raw_dir), {
        "dataset": entry.name,
        "source": kind,
        "layout": entry.layout,
        "path": str(path),
        "root": str(root),
        "parts": {k: str(p.resolve()) for k, p in parts.items()},
        "files": [],
        "fingerprint": folder_fingerprint(root),
        "recorded_at": _now(),
    })
    return root


def path_source_state(dataset_config: dict) -> str:
    """What the fetch rule must rerun on: the fingerprint of a `source: path` folder, else ""."""
    if dataset_config.get("source") != "path" or not dataset_config.get("path"):
        return ""
    return folder_fingerprint(Path(str(dataset_config["path"])).expanduser().resolve())


def fetch_source(name: str, source: str, path: Path | str | None, raw_dir: Path | str, **kwargs) -> Path:
    """Dispatch on `datasets.<name>.source` (url, path or embedded); synthetic data is generated elsewhere."""
    entry = get_source(name)
    check_kind(entry, source)
    if source == "url":
        return fetch_url_source(entry, raw_dir, **kwargs)
    if source == "path":
        if path in (None, ""):
            raise LayoutError(f"datasets.{name}.source is 'path' but datasets.{name}.path is not set")
        return link_path_source(entry, path, raw_dir)
    if source == "embedded":
        return link_path_source(entry, entry.embedded, raw_dir, kind="embedded")
    raise ValueError(f"datasets.{name}.source = 'synthetic' is generated by pipeline.synthetic, not fetched")
