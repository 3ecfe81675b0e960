"""Pages that show, inside Snakemake's HTML report, the results its viewer only offers as downloads.

Snakemake 9's report displays PNG, JPEG, SVG, HTML and PDF results; a CSV table, a GIF or an MP4
is only a download link there, so a reader of the report would not see our numbers beside the
paper's. Each such result gets a small self-contained HTML page (``results/report/<path>.html``):
a table as an HTML table (every column, the ``paper`` column beside ``ours``) with the CSV itself
as a download, a GIF as an image, an MP4 as a playable video.
"""

from __future__ import annotations

import base64
import html
import mimetypes
from pathlib import Path

import pandas as pd

from pipeline.atomic import write_text

SHOWN_AS_PAGE = {".csv": "table", ".gif": "image", ".mp4": "video"}
"""Suffixes the report cannot display itself -> how their page shows them."""

STYLE = """
body { font-family: sans-serif; font-size: 13px; margin: 12px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #eee; position: sticky; top: 0; }
td.text { text-align: left; }
.paper { background: #fff4d6; font-weight: bold; }
img, video { image-rendering: pixelated; min-width: 256px; }
"""


def needs_page(path: str | Path) -> bool:
    """Whether the report shows ``path`` only as a download (and so it gets a page)."""
    return Path(path).suffix.lower() in SHOWN_AS_PAGE


def page_path(path: str | Path, results: str | Path) -> Path:
    """Where the page of a result under ``results`` goes: ``results/report/<path relative to results>.html``.

    Works on patterns too (``{wildcards}`` are kept as they are).
    """
    relative = Path(path).relative_to(results)
    return Path(results) / "report" / f"{relative}.html"


def page_source(page: str | Path) -> Path:
    """The result a page (as :func:`page_path` names it) shows."""
    parts = Path(page).parts
    at = len(parts) - 1 - parts[::-1].index("report")
    return Path(*parts[:at], *parts[at + 1:]).with_suffix("")


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


OURS_COLUMNS = ("ours", "mean", "mean_difference")
"""Where a table holds our number (the first present): the ``paper`` column is shown right after it."""


def paper_beside_ours(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns in reading order: the ``paper`` column moved right after our number."""
    ours = next((c for c in OURS_COLUMNS if c in frame.columns), None)
    if ours is None or "paper" not in frame.columns:
        return frame
    columns = [c for c in frame.columns if c != "paper"]
    at = columns.index(ours) + 1
    return frame[[*columns[:at], "paper", *columns[at:]]]


def table_html(frame: pd.DataFrame) -> str:
    """The whole table as HTML, numbers to 4 significant digits, the ``paper`` column marked and beside ours."""
    frame = paper_beside_ours(frame)
    head = "".join(f'<th class="{"paper" if c == "paper" else ""}">{html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record):
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = "" if pd.isna(value) else (f"{value:.4g}" if numeric else str(value))
            cls = "paper" if column == "paper" else ("" if numeric else "text")
            cells.append(f'<td class="{cls}">{html.escape(text)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="result"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def page(source: str | Path, paper_column: bool = True) -> str:
    """The page of one result (a table, GIF or MP4), everything embedded.

    ``paper_column``: the table is one of a paper's results, so it must carry the ``paper`` column
    (a table that lost it would hide the comparison); tables about our runs themselves (the seed
    spread) have no paper number and say so."""
    source = Path(source)
    kind = SHOWN_AS_PAGE.get(source.suffix.lower())
    if kind is None:
        raise ValueError(f"{source}: no page for {source.suffix!r} results (the report shows them itself)")
    uri = _data_uri(source)
    if kind == "table":
        frame = pd.read_csv(source)
        if paper_column and "paper" not in frame.columns:
            raise ValueError(f"{source}: a paper's result table without a 'paper' column (every one has one)")
        about = ('the <span class="paper">paper</span> column is the paper\'s number (empty where it reports none)'
                 if "paper" in frame.columns else "our runs compared with each other: no paper reports these")
        body = (f'<p>{len(frame)} rows; {about}. <a download="{source.name}" href="{uri}">Download {source.name}</a></p>'
                + table_html(frame))
    elif kind == "image":
        body = f'<img alt="{source.name}" src="{uri}">'
    else:
        body = f'<video controls loop muted autoplay src="{uri}"></video>'
    title = html.escape(source.name)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style>'
            f'</head><body><h3>{title}</h3>{body}</body></html>\n')


def write_page(source: str | Path, out: str | Path, paper_column: bool = True) -> Path:
    """Publish the page of ``source`` at ``out`` atomically."""
    return write_text(out, page(source, paper_column))
