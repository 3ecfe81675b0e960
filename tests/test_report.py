"""The HTML report (`snakemake --report`): every result marked report() has a caption file and a
category, tables/GIFs/videos get pages that show them (the paper's numbers beside ours), and the
report of a smoke run opens in headless Chromium with every result listed and rendering."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from report_browser import check_report, expected_results, missing_browser
from smoke_graph import STATICFLOW_CHAIN, run_paper

from pipeline import papers, report_views

RULES = Path(__file__).resolve().parents[1] / "workflow" / "rules"


def report_calls(text: str) -> list[str]:
    """The arguments of every ``report(...)`` call in a rule file (comments left out)."""
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    calls = []
    for start in (m.end() for m in re.finditer(r"(?<![\w.])report\(", code)):
        depth, end = 1, start
        while depth:
            depth += {"(": 1, ")": -1}.get(code[end], 0)
            end += 1
        calls.append(code[start:end - 1])
    return calls


def test_every_report_mark_names_an_existing_caption_and_a_category() -> None:
    """(report.smk's pages reuse their result's mark; it refuses a mark without both at parse time.)"""
    marks = 0
    for smk in sorted(RULES.glob("*.smk")):
        for call in report_calls(smk.read_text()) if smk.name != "report.smk" else []:
            caption = re.search(r'caption="([^"]+)"', call)
            assert caption and (RULES / caption.group(1)).resolve().is_file(), f"{smk.name}: report({call})"
            assert re.search(r'category="\w+"', call), f"{smk.name}: report({call}) has no category"
            marks += 1
    assert marks >= 30  # 34 when written


def test_a_table_page_shows_every_row_with_the_paper_column(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    pd.DataFrame({"row": ["Ours", "No motion"], "column": ["nll", "nll"], "ours": [1.23456, 2.0],
                  "ci_low": [1.0, 1.5], "paper": [11.5, np.nan]}).to_csv(table, index=False)
    page = report_views.write_page(table, tmp_path / "report" / "t.csv.html").read_text()
    assert page.index(">ours</th>") < page.index(">paper</th>") < page.index(">ci_low</th>")  # beside ours
    assert page.count("<tr>") == 3 and page.count('<td class="paper">') == 2  # header + 2 rows
    assert '<td class="paper">11.5</td>' in page and '<td class="">1.235</td>' in page
    assert 'download="t.csv" href="data:text/csv;base64,' in page
    pd.DataFrame({"row": ["a"], "ours": [1.0]}).to_csv(table, index=False)
    with pytest.raises(ValueError, match="t.csv.*'paper' column"):
        report_views.page(table)
    assert "no paper reports these" in report_views.page(table, paper_column=False)  # the seed spread


def test_media_pages_embed_the_file_and_pages_go_under_results_report(tmp_path: Path) -> None:
    gif = tmp_path / "results" / "figures" / "svg" / "a_lp_0.gif"
    gif.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(gif)
    assert '<img alt="a_lp_0.gif" src="data:image/gif;base64,' in report_views.page(gif)
    assert report_views.page_path(gif, tmp_path / "results") == tmp_path / "results/report/figures/svg/a_lp_0.gif.html"
    assert report_views.page_path("results/tables/{seeddir}x.csv", "results") == Path("results/report/tables/{seeddir}x.csv.html")
    assert report_views.page_source("results/report/tables/{seeddir}x.csv.html") == Path("results/tables/{seeddir}x.csv")
    assert report_views.needs_page("v.mp4") and not report_views.needs_page("f.png")
    with pytest.raises(ValueError, match="f.png"):
        report_views.page(tmp_path / "f.png")


def test_report_of_the_staticflow_chain_opens_in_chromium(staticflow_chain: Path, monkeypatch) -> None:
    """Built from the session's staticflow smoke chain (its targets and their pages); every result
    listed, captioned and rendering. Screenshots: <chain>/screens/ (or $VF_REPORT_SCREENS)."""
    reason = missing_browser()
    if reason:
        pytest.skip(f"cannot open the report in a browser: {reason}")
    monkeypatch.chdir(staticflow_chain)
    results = Path("results")
    pages = [str(report_views.page_path(t, results)) for t in STATICFLOW_CHAIN if report_views.needs_page(t)]
    run = run_paper(staticflow_chain, "staticflow", *STATICFLOW_CHAIN, *pages)  # pages (and a figure a test deleted)
    assert run.returncode == 0, run.stderr[-4000:]
    report = staticflow_chain / "report.html"
    run = run_paper(staticflow_chain, "staticflow", "--report", str(report), *STATICFLOW_CHAIN, *pages)
    assert run.returncode == 0, run.stderr[-4000:]

    config = {"smoke": papers.sizes("smoke")}
    sources = {"hmdb51": "synthetic"}
    expected = expected_results(results, ["staticflow"], sources, config["smoke"], only=STATICFLOW_CHAIN)
    assert set(pages) <= set(expected) and len(expected) == 5
    screens = Path(os.environ.get("VF_REPORT_SCREENS", staticflow_chain / "screens"))
    checked = check_report(report, expected, screens, staticflow_chain)
    print(f"\nreport screenshots: {screens}")
    by_kind = {c.path: c.shown_as for c in checked}
    assert {by_kind[p] for p in pages} == {"table page"} and by_kind[STATICFLOW_CHAIN[2]] == "image"
    assert all(c.screenshot.stat().st_size > 10_000 for c in checked if c.screenshot)
