"""The package's shape, read from the sources: imports go one way, specs stay cheap, the registry
is the one list of papers and every registered paper has the files the graph expects."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import papers

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipeline"
ALLOWED_BETWEEN_PAPERS = {("walker", "staticflow")}
"""(importer, imported): walker's optical-flow baseline is staticflow's network."""


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Every module a source file imports (absolute names), with the line, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def shared_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "papers" not in p.relative_to(PACKAGE).parts]


def test_shared_modules_never_import_a_paper() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {name}" for path in shared_modules()
                 for name, line in imported_modules(path) if name.startswith("pipeline.papers")]
    assert not offenders, "\n".join(offenders)


def test_papers_import_other_papers_only_through_the_allowed_public_names() -> None:
    offenders = []
    for paper in papers.PAPERS:
        for path in (PACKAGE / "papers" / paper).glob("*.py"):
            for name, line in imported_modules(path):
                parts = name.split(".")
                if parts[:2] != ["pipeline", "papers"] or len(parts) < 3 or parts[2] in (paper, "__init__"):
                    continue
                other = parts[2]
                if other not in papers.PAPERS:
                    continue  # a name imported from the registry itself
                into_a_module = len(parts) > 3 and (PACKAGE / "papers" / other / f"{parts[3]}.py").exists()
                if (paper, other) not in ALLOWED_BETWEEN_PAPERS or into_a_module:
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_the_layout_check_catches_a_shared_module_importing_a_paper(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from pipeline.papers.walker.model import WalkerNet\n")
    assert ("pipeline.papers.walker.model", 2) in imported_modules(bad)


def test_specs_import_no_torch() -> None:
    """Snakemake imports every spec to build the DAG: they must stay cheap."""
    code = ("import sys; from pipeline import papers; [papers.spec(p) for p in papers.PAPERS]; "
            "papers.sizes('paper'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


OF_JOBS_WITHOUT_A_NETWORK = (
    "pipeline.papers.svg.figures", "pipeline.papers.walker.figures", "pipeline.papers.walker.table",
    "pipeline.papers.staticflow.figures", "pipeline.papers.staticflow.geometry", "pipeline.papers.crossconv.figures",
    "pipeline.plots",
)
"""Modules of jobs that run no network (figures and tables from saved outputs, the flow stage's label grid):
torch would cost each job ~2.5 s of import."""


def test_modules_of_jobs_that_run_no_network_import_no_torch() -> None:
    code = f"import importlib, sys; [importlib.import_module(m) for m in {OF_JOBS_WITHOUT_A_NETWORK!r}]; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("paper", papers.PAPERS)
def test_every_registered_paper_has_a_spec_and_the_files_its_models_need(paper: str) -> None:
    spec = papers.spec(paper)
    assert spec.PAPER == paper
    assert set(spec.SIZES) <= {"smoke", "demo", "paper"}
    assert all(protocol for _, protocol in spec.CLIP_SETS)
    if hasattr(spec, "models"):
        folder = PACKAGE / "papers" / paper
        assert all((folder / f"{name}.py").is_file() for name in ("model", "data", "train", "evaluate", "figures"))
        assert (ROOT / "workflow" / "rules" / f"{paper}.smk").is_file()
        assert f'include: "workflow/rules/{paper}.smk"' in (ROOT / "Snakefile").read_text()


def test_an_unknown_paper_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"no paper 'walkr'; known: walker, staticflow"):
        papers.check_names(["walker", "walkr"])
