"""Publishing outputs atomically: the one way every stage writes a file or a Zarr store.

Snakemake takes an output that exists as done, so a job killed halfway must leave either the
old output or none, never a truncated one. Everything is written under a temporary name in the
destination's own folder (same filesystem, so the final ``os.replace`` / ``os.rename`` is
atomic on POSIX) and renamed into place only once complete. Temporaries carry the writer's pid
and a marker, so a rerun can remove what a killed writer left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

TMP_MARKER = ".tmp-"
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: the mode a plain open() would give, for files made by mkstemp (0600)


@contextmanager
def publishing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it to ``path`` when the block ends.

    On an exception the temporary is removed and ``path`` keeps its previous content. The
    temporary keeps ``path``'s suffix, so writers that choose a format by extension (ffmpeg,
    matplotlib, ``np.save``) behave as for the real name. Temporaries a killed writer of the same
    path left (kill -9 gives it no chance to clean up) are removed first, as for directories.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARKER}{os.getpid()}.", suffix=path.suffix,
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # readable as any file the user writes (group members on a cluster)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_with(path: str | Path, write: Callable[[IO[Any]], None], mode: str = "w") -> Path:
    """Publish what ``write(handle)`` writes into an open handle (text ``w`` or binary ``wb``)."""
    path = Path(path)
    with publishing(path) as tmp, open(tmp, mode) as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def write_text(path: str | Path, text: str) -> Path:
    return write_with(path, lambda handle: handle.write(text))


def write_json(path: str | Path, record: Mapping[str, Any]) -> Path:
    """A JSON record, indented and with numpy scalars as plain numbers."""
    return write_text(path, json.dumps(record, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def read_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no JSON record at {path}")
    return json.loads(path.read_text())


def write_csv(frame: Any, path: str | Path) -> Path:
    """A pandas frame as CSV without its index."""
    return write_with(path, lambda handle: frame.to_csv(handle, index=False))


def save_array(path: str | Path, array: np.ndarray) -> Path:
    """``np.save`` published atomically."""
    return write_with(path, lambda handle: np.save(handle, np.asarray(array)), mode="wb")


def load_array(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no array file at {path}")
    return np.load(path, allow_pickle=False)


def save_figure(fig: Any, path: str | Path, **savefig: Any) -> Path:
    """A matplotlib figure (attached to an Agg canvas if it has none), published atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.canvas is None or type(fig.canvas).__name__ == "FigureCanvasBase":
        FigureCanvasAgg(fig)
    path = Path(path)
    with publishing(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or None, **{"dpi": fig.dpi, **savefig})
    return path


def temporary_dir_for(path: str | Path) -> Path:
    """Where a directory output (a Zarr store) is built before :func:`publish_dir` renames it."""
    path = Path(path)
    return path.parent / f".{path.name}{TMP_MARKER}{os.getpid()}"


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporaries killed writers left beside ``path``; returns what it removed."""
    path = Path(path)
    removed = []
    if path.parent.is_dir():
        for candidate in path.parent.glob(f".{path.name}{TMP_MARKER}*"):
            if candidate.is_dir():
                shutil.rmtree(candidate, ignore_errors=True)
            else:
                candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


@contextmanager
def publishing_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path``; it replaces ``path`` when the block ends.

    An existing ``path`` is moved aside, the new one renamed in, then the old one deleted: a
    reader sees the old or the new store, never a mixture.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_dir_for(path)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        trash = path.parent / f".{path.name}.old-{os.getpid()}"
        os.rename(path, trash)
        os.rename(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp, path)
