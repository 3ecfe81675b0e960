"""Opening a Snakemake HTML report in headless Chromium (Playwright) and checking every result in it.

Used by tests/test_report.py and, on a whole run's report, from the command line:

    .venv/bin/python tests/report_browser.py REPORT.html --workdir DIR --config-file config.yaml \
        --config scale=smoke results_root=... --screens DIR

The expected results come from the workflow, not from a list here: every table and figure the
chosen papers' specs name (``pipeline.papers.targets``, the targets of ``rule all``), every result
file the run left under ``<results>/tables`` and ``<results>/figures``, and the report page of each
one the report can only offer as a download (``pipeline.report_views``). Each must be listed under
its category (its paper; ``preprocessing`` for the preprocessing figures), have a caption, and
render: an image loads (``naturalWidth > 0``), a table page shows every row of its CSV with the
``paper`` column, a GIF page its image, a video page a decodable video, a download link the whole
file; no JavaScript error on the way. A screenshot of every category list and every rendered
result goes to ``screens/<category>/``.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline import papers, report_views  # noqa: E402

RESULT_SUFFIXES = {".csv", ".png", ".gif", ".mp4", ".svg", ".pdf", ".html"}
SHOWN = {"image/png", "image/jpeg", "image/svg+xml"}


def chromium() -> str | None:
    """Debian's chromium (or $VF_CHROMIUM): Playwright's own browser download is not used."""
    for candidate in (os.environ.get("VF_CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing_browser() -> str | None:
    """Why the report cannot be opened here (None when it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if chromium() is None:
        return "no chromium found (apt-get install chromium, or set VF_CHROMIUM; bash bin/setup --test does it)"
    return None


def expected_results(results: Path, paper_names: Iterable[str], sources: Mapping[str, str],
                     sizes: Mapping, only: Iterable[str] | None = None) -> dict[str, str | None]:
    """result path -> the category it must be listed under, from the workflow's own registry and the run.

    ``results``: the results root as the run's config names it (so paths compare as the report
    shows them). ``only``: the targets a partial run asked for (default: all of the papers').
    A page of a result the report only offers as a download is expected beside it.
    """
    only = None if only is None else {str(p) for p in only}
    expected: dict[str, str | None] = {}
    for paper in paper_names:
        for target in papers.targets([paper], sources, results, sizes):
            if only is None or str(target) in only:
                expected[str(target)] = paper
    for folder in ("tables", "figures"):  # every result file the run left, whatever made it
        for path in sorted((results / folder).rglob("*")):
            if path.is_file() and path.suffix in RESULT_SUFFIXES:
                category = "preprocessing" if "preprocessing" in path.parts else expected.get(str(path))
                expected.setdefault(str(path), category)  # None: any category, but listed
    for path, category in list(expected.items()):
        if report_views.needs_page(path):
            expected[str(report_views.page_path(path, results))] = category
    return expected


@dataclass
class Checked:
    path: str
    category: str
    shown_as: str  # image | table page | image page | video page | download
    detail: str
    screenshot: Path | None = None


def _open(page, uri: str, label: str) -> None:
    page.goto(uri)
    page.get_by_role("link", name=label, exact=True).click()
    page.locator("table.table-auto tbody tr").first.wait_for(timeout=20_000)


def _check_page(page, path: str, workdir: Path) -> tuple[str, str]:
    frame = page.frame_locator("iframe").first
    body = frame.locator("body")
    body.wait_for(timeout=20_000)
    source = report_views.page_source(path)
    kind = report_views.SHOWN_AS_PAGE[source.suffix.lower()]
    if kind == "table":
        csv = pd.read_csv(workdir / source)
        rows = frame.locator("table.result tbody tr")
        header = frame.locator("table.result thead th").all_inner_texts()
        assert rows.count() == len(csv) > 0, f"{path}: {rows.count()} rows shown, the CSV has {len(csv)}"
        assert sorted(header) == sorted(csv.columns), f"{path}: header {header}"
        if "paper" not in csv.columns:  # a table about our runs (seed spread): its page says so
            assert "no paper reports these" in body.inner_text(), f"{path}: a table without a paper column"
            return "table page", f"{len(csv)} rows, no paper column"
        ours = next(c for c in report_views.OURS_COLUMNS if c in header)
        assert header.index("paper") == header.index(ours) + 1, f"{path}: paper not beside {ours}: {header}"
        shown = frame.locator("table.result tbody td.paper").all_inner_texts()
        assert sum(t != "" for t in shown) == int(csv["paper"].notna().sum()), f"{path}: paper column"
        return "table page", f"{len(csv)} rows, {int(csv['paper'].notna().sum())} paper values"
    if kind == "image":
        img = frame.locator("img")
        img.wait_for()
        width = img.evaluate("i => i.decode().then(() => i.naturalWidth)")
        assert width > 0, f"{path}: image did not load"
        return "image page", f"naturalWidth {width}"
    video = frame.locator("video")
    width = video.evaluate("""v => new Promise((ok, fail) => {
        if (v.readyState >= 1) return ok(v.videoWidth);
        v.addEventListener('loadedmetadata', () => ok(v.videoWidth));
        v.addEventListener('error', () => fail(new Error('video error ' + (v.error && v.error.code))));
        setTimeout(() => fail(new Error('video metadata timeout')), 15000);
    })""")
    assert width > 0, f"{path}: video did not decode"
    return "video page", f"videoWidth {width}"


def check_report(report: Path, expected: Mapping[str, str | None], screens: Path, workdir: Path) -> list[Checked]:
    """Open ``report`` in headless Chromium and check every result in it (see the module docstring).

    Raises AssertionError naming what is missing or does not render.
    """
    from playwright.sync_api import sync_playwright

    workdir = Path(workdir)
    screens.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    checked: list[Checked] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error" else None)
            uri = Path(report).resolve().as_uri()
            page.goto(uri)
            page.get_by_role("link", name="Workflow", exact=True).wait_for(timeout=30_000)
            page.screenshot(path=screens / "start.png")
            results = page.evaluate("() => results")
            categories = page.evaluate("() => categories")
            listed = {p: c for c, subs in categories.items() for paths in subs.values() for p in paths}
            missing = sorted(set(expected) - set(listed))
            assert not missing, f"results not in the report: {missing}"
            wrong = {p: (listed[p], c) for p, c in expected.items() if c is not None and listed[p] != c}
            assert not wrong, f"results under the wrong category (listed, expected): {wrong}"
            uncaptioned = sorted(p for p, r in results.items() if not r["caption"].strip())
            assert not uncaptioned, f"results without a caption: {uncaptioned}"

            for category in sorted(categories):
                label = "Results" if len(categories) == 1 else category
                _open(page, uri, label)
                folder = screens / category
                folder.mkdir(exist_ok=True)
                page.screenshot(path=folder / "_list.png")
                rows = page.locator("table.table-auto tbody tr")
                shown = rows.locator("td:first-child").all_inner_texts()
                paths = [p for p, c in listed.items() if c == category]
                assert sorted(shown) == sorted(paths), f"{category}: listed {sorted(shown)}, expected {sorted(paths)}"
                for i, path in enumerate(shown):
                    entry = results[path]
                    eye = rows.nth(i).locator("td").last.locator("a").first
                    shot = None
                    if entry["mime_type"] in SHOWN:
                        eye.click()
                        img = page.locator(f'img[src="{entry["data_uri"]}"]')
                        width = img.evaluate("i => i.decode().then(() => i.naturalWidth)")
                        assert width > 0, f"{path}: image did not load"
                        shown_as, detail = "image", f"naturalWidth {width}"
                    elif entry["mime_type"] == "text/html":
                        eye.click()
                        shown_as, detail = _check_page(page, path, workdir)
                    else:
                        href = eye.get_attribute("href")  # embedded (.html) or a file beside it (.zip)
                        size = (len(base64.b64decode(href.split("base64,", 1)[1])) if href.startswith("data:")
                                else (Path(report).parent / href).stat().st_size)
                        assert size == (workdir / path).stat().st_size > 0, f"{path}: download of {size} bytes"
                        shown_as, detail = "download", f"{size} bytes"
                    if shown_as != "download":
                        rows.nth(i).locator("td").last.locator("a").nth(1).click()  # its caption beside it
                        page.get_by_text("Description").first.wait_for()
                        shot = folder / f"{Path(path).name}.png"
                        page.screenshot(path=shot)
                        page.evaluate("c => app.showCategory(c)", category)  # what its menu link does
                        rows.first.wait_for()
                    checked.append(Checked(path, category, shown_as, detail, shot))
        finally:
            browser.close()
    assert not errors, f"JavaScript errors: {errors}"
    return checked


def _config(config_file: Path, overrides: list[str]) -> dict:
    config = yaml.safe_load(config_file.read_text())
    for item in overrides:
        key, value = item.split("=", 1)
        config[key] = yaml.safe_load(value)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    parser.add_argument("--config-file", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--config", nargs="*", default=[], help="key=value as given to snakemake --config")
    parser.add_argument("--screens", type=Path, required=True)
    parser.add_argument("--only", nargs="*", help="the targets a partial run asked for (default: every result)")
    args = parser.parse_args()
    reason = missing_browser()
    if reason:
        sys.exit(reason)
    config = _config(args.config_file, args.config)
    sources = {name: d.get("source", "off") for name, d in config["datasets"].items()}
    sizes = papers.sizes(config["scale"], config.get("overrides"))
    report, screens = args.report.resolve(), args.screens.resolve()
    os.chdir(args.workdir)  # results paths as the run's config names them (relative to its directory)
    expected = expected_results(Path(config["results_root"]), config["papers"], sources, sizes, args.only)
    checked = check_report(report, expected, screens, Path.cwd())
    for c in checked:
        print(f"{c.category:14s} {c.shown_as:11s} {Path(c.path).name:45s} {c.detail}")
    print(f"{len(checked)} results checked in {len({c.category for c in checked})} categories; "
          f"screenshots in {args.screens}")


if __name__ == "__main__":
    main()
