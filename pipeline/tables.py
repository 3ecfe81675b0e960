"""Result tables: our number beside the paper's, with where ours came from.

Every table is long-form (``row``, ``column``, ``ours``, ``paper``) so one writer serves all five
papers, and a sidecar ``<table>.provenance.json`` records the config, scale, data sources, code
version and the records of the models behind it: a number is only as good as the record of how
it was measured. The papers' numbers come from each paper's ``spec.REFERENCE`` (the only place
they live) and fill the ``paper`` column only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.atomic import write_csv as publish_csv
from pipeline.atomic import write_json
from pipeline.provenance import code_version, describe_code, models_summary

Reference = Mapping[str, Mapping[str, float]]
"""One paper table as reported: row -> column -> value."""


def provenance(config: Mapping[str, Any], source_records: Sequence[Path] = (), **extra: Any) -> dict[str, Any]:
    """What a table's numbers depend on: config (and so the scale), data sources, inputs.

    ``models``: provenance records of the models the table was computed from (``model.pt``);
    they are summarised (code versions, machines, whether they are mixed).
    """
    sources = {}
    keys = ("source", "layout", "root", "files", "generator", "seed", "encoder", "videos_sha256")
    for record in source_records:
        data = json.loads(Path(record).read_text())
        sources[data.get("dataset", Path(record).stem)] = {k: data.get(k) for k in keys if k in data}
    models = extra.pop("models", None)
    summary = {"models": models_summary(models)} if models else {}
    return {"scale": config.get("scale"), "seed": config.get("seed"), "config": dict(config),
            "data_sources": sources, **summary, **extra}


def write_csv(frame: pd.DataFrame, path: Path, provenance_record: Mapping[str, Any]) -> Path:
    """Write any result table atomically, with its provenance sidecar ``<name>.provenance.json``.

    For tables the paper reports no numbers for (curves only), the caller adds an empty
    ``paper`` column so every table has one.
    """
    path = Path(path)
    publish_csv(frame, path)
    code = code_version()
    record = {
        "table": path.stem,
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": describe_code(code),
        "code": code,
        **provenance_record,
    }
    write_json(path.with_suffix(".provenance.json"), record)
    return path


def paper_column(reference: Reference, rows: Sequence[str], columns: Sequence[str]) -> list[float | None]:
    """The paper's value for each (row, column), None where the paper reports nothing."""
    return [reference.get(r, {}).get(c) for r, c in zip(rows, columns, strict=True)]


def write_table(
    path: Path,
    table: str,
    ours: Sequence[Mapping[str, Any]],
    provenance: Mapping[str, Any],
    reference: Reference,
) -> pd.DataFrame:
    """Write ``ours`` (dicts with row, column, ours and optional extra fields) beside the paper's values.

    Rows the paper reports but we did not measure are kept with an empty ``ours``, so a reader
    sees what is missing rather than a shorter table.
    """
    frame = pd.DataFrame.from_records(list(ours))
    for needed in ("row", "column", "ours"):
        if needed not in frame.columns:
            frame[needed] = pd.Series(dtype=object)
    frame["paper"] = paper_column(reference, list(frame["row"]), list(frame["column"]))

    measured = set(zip(frame["row"], frame["column"], strict=True))
    missing = [
        {"row": r, "column": c, "ours": None, "paper": v}
        for r, cols in reference.items()
        for c, v in cols.items()
        if (r, c) not in measured
    ]
    if missing:
        frame = pd.concat([frame, pd.DataFrame.from_records(missing)], ignore_index=True)
    write_csv(frame, path, {"reference_table": table, **provenance})
    return frame
