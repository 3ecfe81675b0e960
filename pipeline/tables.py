"""Result tables: our number beside the paper's, with where ours came from.

Every table is long-form (``row``, ``column``, ``ours``, ``paper``) so one writer serves all five
papers, and a sidecar ``<table>.provenance.json`` records the config, scale, data sources and code
version that produced it: a number is only as good as the record of how it was measured.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.reference import REPORTED, paper_value


def code_version(repo: Path | None = None) -> str:
    """The git commit of the code, marked ``-dirty`` when the work tree has changes."""
    cwd = repo or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return rev + ("-dirty" if dirty else "")


def provenance(config: Mapping[str, Any], source_records: Sequence[Path] = (), **extra: Any) -> dict[str, Any]:
    """What a table's numbers depend on: config (and so the scale), data sources, inputs."""
    sources = {}
    for record in source_records:
        data = json.loads(Path(record).read_text())
        sources[data.get("dataset", Path(record).stem)] = {
            k: data.get(k) for k in ("source", "layout", "root", "files", "generator", "seed") if k in data
        }
    return {"scale": config.get("scale"), "seed": config.get("seed"), "config": dict(config),
            "data_sources": sources, **extra}


def write_csv(frame: pd.DataFrame, path: Path, provenance_record: Mapping[str, Any]) -> Path:
    """Write any result table atomically, with its provenance sidecar ``<name>.provenance.json``.

    For tables the paper reports no numbers for (curves only), the caller adds an empty
    ``paper`` column so every table has one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    record = {
        "table": path.stem,
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        **provenance_record,
    }
    path.with_suffix(".provenance.json").write_text(json.dumps(record, indent=2, default=str))
    return path


def write_table(
    path: Path,
    table: str,
    ours: Sequence[Mapping[str, Any]],
    provenance: Mapping[str, Any],
) -> pd.DataFrame:
    """Write ``ours`` (dicts with row, column, ours and optional extra fields) beside the paper's values.

    Rows the paper reports but we did not measure are kept with an empty ``ours``, so a reader
    sees what is missing rather than a shorter table.
    """
    frame = pd.DataFrame.from_records(list(ours))
    for needed in ("row", "column", "ours"):
        if needed not in frame.columns:
            frame[needed] = pd.Series(dtype=object)
    frame["paper"] = [paper_value(table, r, c) for r, c in zip(frame["row"], frame["column"], strict=True)]

    measured = set(zip(frame["row"], frame["column"], strict=True))
    missing = [
        {"row": r, "column": c, "ours": None, "paper": v}
        for r, cols in REPORTED.get(table, {}).items()
        for c, v in cols.items()
        if (r, c) not in measured
    ]
    if missing:
        frame = pd.concat([frame, pd.DataFrame.from_records(missing)], ignore_index=True)
    write_csv(frame, path, {"reference_table": table, **provenance})
    return frame
