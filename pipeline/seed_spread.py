"""How much a table's numbers move when only the training seed changes.

A 95% interval over test items says how sure a number is *for this trained model*; it says
nothing about the model another seed would have trained. On a small demo the seed-to-seed spread
can be larger than the interval and larger than the margin of a paper's claim, so a reader needs
both side by side. This module compares the same table written once per seed (the ``seeds``
config key: the main seed's table at its usual place, the others' under ``tables/seed<N>/``).

Tables are long-form: each row is identified by the key columns it has among
:data:`KEY_COLUMNS`, its value is ``ours`` (or ``mean`` in per-frame curves) and its interval,
when it has one, ``ci_low``/``ci_high`` (or ``low``/``high``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.tables import provenance, write_csv

KEY_COLUMNS = ("dataset", "model", "row", "column", "metric", "scope", "better", "worse", "frame")
VALUE_COLUMNS = ("ours", "mean", "mean_difference")
DIFFERENCE_COLUMNS = ("mean_difference",)
"""Values that are a paired difference (a claim "A beats B"): their sign is what a claim rests on."""
INTERVAL_COLUMNS = (("ci_low", "ci_high"), ("low", "high"))


def _layout(frame: pd.DataFrame, name: str) -> tuple[list[str], str, tuple[str, str] | None]:
    keys = [c for c in KEY_COLUMNS if c in frame.columns]
    values = [c for c in VALUE_COLUMNS if c in frame.columns]
    if not keys or not values:
        raise ValueError(f"{name}: not a long-form result table (needs one of {KEY_COLUMNS} and one of "
                         f"{VALUE_COLUMNS}; has {list(frame.columns)})")
    interval = next((pair for pair in INTERVAL_COLUMNS if set(pair) <= set(frame.columns)), None)
    return keys, values[0], interval


def _ordering_column(keys: Sequence[str]) -> str | None:
    """The key whose values are the things a claim ranks (rows of a table, models of a curve)."""
    return "row" if "row" in keys else "model" if "model" in keys else None


def compare_seeds(tables: Mapping[int, Path], name: str) -> pd.DataFrame:
    """One row per number of the table that some seed measured: its value under every seed, their
    spread and what it means (a row with only the paper's value is left out).

    ``tables`` maps seed -> that seed's CSV; the first entry is the main seed (the one the
    published table shows). Columns: the key columns, ``seed_<N>`` per seed, ``mean``, ``sd``
    (sample standard deviation over seeds), ``spread`` (max - min), ``interval_low/high`` (the main
    seed's interval, when the table has one), ``interval_covers_seeds`` (every seed's value lies in
    it), and ``order_same_all_seeds``: whether, within this number's group (same column / metric
    / frame), every seed ranks the rows (or models) the same way, and ``order_flips_with`` names the
    rows it beats under one seed and loses to under another; for a table of paired differences
    (``mean_difference``), ``sign_same_all_seeds``. Where these are False, the margin of a claim
    that compares them is within the seed-to-seed spread.
    """
    if len(tables) < 2:
        raise ValueError(f"{name}: comparing seeds needs at least two seeds' tables, got {list(tables)}")
    seeds = list(tables)
    frames = {seed: pd.read_csv(path) for seed, path in tables.items()}
    keys, value, interval = _layout(frames[seeds[0]], str(tables[seeds[0]]))
    merged = None
    for seed, frame in frames.items():
        part = frame[keys + [value] + (list(interval) if interval and seed == seeds[0] else [])].copy()
        part = part.rename(columns={value: f"seed_{seed}"})
        if interval and seed == seeds[0]:
            part = part.rename(columns={interval[0]: "interval_low", interval[1]: "interval_high"})
        merged = part if merged is None else merged.merge(part, on=keys, how="outer")
    seed_columns = [f"seed_{s}" for s in seeds]
    # rows no seed measured (a paper-only reference row of the table) have no spread to show
    merged = merged[np.isfinite(merged[seed_columns].to_numpy(dtype=float)).any(axis=1)].reset_index(drop=True)
    values = merged[seed_columns].to_numpy(dtype=float)
    measured = np.isfinite(values).all(axis=1)
    merged.insert(0, "table", name)
    merged["mean"] = np.where(measured, values.mean(axis=1), np.nan)
    merged["sd"] = np.where(measured, values.std(axis=1, ddof=1), np.nan)
    merged["spread"] = np.where(measured, values.max(axis=1) - values.min(axis=1), np.nan)
    if interval:
        low, high = merged["interval_low"].to_numpy(float), merged["interval_high"].to_numpy(float)
        inside = (values >= low[:, None] - 1e-12) & (values <= high[:, None] + 1e-12)
        merged["interval_covers_seeds"] = np.where(measured & np.isfinite(low), inside.all(axis=1), None)
    merged["order_flips_with"] = _order_flips(merged, keys, seed_columns)
    merged["order_same_all_seeds"] = merged["order_flips_with"].map(lambda f: None if f is None else f == "")
    if value in DIFFERENCE_COLUMNS:
        signs = np.sign(values)
        merged["sign_same_all_seeds"] = np.where(measured, (signs == signs[:, :1]).all(axis=1), None)
    return merged


def _order_flips(merged: pd.DataFrame, keys: Sequence[str], seed_columns: Sequence[str]) -> pd.Series:
    """Per number: the other rows of its group it beats under one seed and loses to under another.

    Rows whose values are exactly equal under some seed (e.g. two baselines that score the same)
    are not counted as a flip: no claim ranks them.
    """
    ranked = _ordering_column(keys)
    out = pd.Series([None] * len(merged), index=merged.index, dtype=object)
    if ranked is None:
        return out
    group_keys = [k for k in keys if k != ranked]
    groups = [part.index for _, part in merged.groupby(group_keys, dropna=False)] if group_keys else [merged.index]
    for index in groups:
        block = merged.loc[index, list(seed_columns)].to_numpy(dtype=float)
        names = merged.loc[index, ranked].astype(str).tolist()
        finite = np.isfinite(block).all(axis=1)
        for i, label in zip(index, range(len(index)), strict=True):
            if not finite[label]:
                continue
            signs = np.sign(block[label] - block)  # (rows, seeds)
            flips = [names[j] for j in range(len(index))
                     if j != label and finite[j] and (signs[j] > 0).any() and (signs[j] < 0).any()]
            out.loc[i] = "; ".join(flips)
    return out


def seed_spread_table(tables: Mapping[int, Sequence[Path]]) -> pd.DataFrame:
    """:func:`compare_seeds` for every table: ``tables`` maps seed -> that seed's tables (same order)."""
    seeds = list(tables)
    counts = {len(paths) for paths in tables.values()}
    if len(counts) != 1:
        raise ValueError(f"seed spread: seeds have different numbers of tables: "
                         f"{ {s: len(p) for s, p in tables.items()} }")
    parts = []
    for k, main in enumerate(tables[seeds[0]]):
        per_seed = {seed: Path(tables[seed][k]) for seed in seeds}
        names = {p.name for p in per_seed.values()}
        if names != {Path(main).name}:
            raise ValueError(f"seed spread: table {k} is not the same table for every seed: {sorted(names)}")
        parts.append(compare_seeds(per_seed, Path(main).stem))
    return pd.concat(parts, ignore_index=True)


def write_seed_spread(tables: Mapping[int, Sequence[Path]], out: Path, config: Mapping[str, Any]) -> pd.DataFrame:
    """Write :func:`seed_spread_table` as a result table with its provenance sidecar."""
    frame = seed_spread_table(tables)
    write_csv(frame, out, provenance(config, seeds=list(tables),
                                     tables={str(s): [str(p) for p in paths] for s, paths in tables.items()}))
    return frame
