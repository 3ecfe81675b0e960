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
    "pipeline.plots", "pipeline.papers.walker.figures", "pipeline.papers.walker.table",
    "pipeline.papers.staticflow.figures", "pipeline.papers.staticflow.geometry", "pipeline.papers.staticflow.tables",
    "pipeline.papers.svg.figures", "pipeline.papers.svg.tables", "pipeline.papers.crossconv.figures",
    "pipeline.papers.crossconv.tables", "pipeline.papers.vgan.figures", "pipeline.papers.vgan.tables",
)
"""Modules of jobs that run no network (figures and tables from saved outputs, the flow stage's label grid):
torch would cost each job ~2.5 s of import."""


def test_modules_of_jobs_that_run_no_network_import_no_torch() -> None:
    code = ("import importlib, sys\n"
            f"for m in {OF_JOBS_WITHOUT_A_NETWORK!r}:\n"
            "    importlib.import_module(m)\n"
            "    if 'torch' in sys.modules:\n"
            "        print(m)\n"
            "        break\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{out.stdout.strip()} (or a module it imports) imports torch"


SCRIPTS_WITHOUT_A_NETWORK = ("svg_table", "svg_ordering", "crossconv_kl_table", "crossconv_kl_differences",
                             "crossconv_sparsity_table", "crossconv_ablation_table", "staticflow_tables", "vgan_tables",
                             "vgan_action_tables", "vgan_streams_figure", "vgan_futures_figure", "vgan_training_figure",
                             "vgan_action_figure", "vgan_flow_histogram_figure")
"""Workflow scripts of table and figure jobs: each imports its writer from a module listed above."""


@pytest.mark.parametrize("script", SCRIPTS_WITHOUT_A_NETWORK)
def test_table_and_figure_scripts_import_only_torch_free_modules(script: str) -> None:
    allowed = set(OF_JOBS_WITHOUT_A_NETWORK)
    names = [m for m, _ in imported_modules(ROOT / "workflow" / "scripts" / f"{script}.py") if m.startswith("pipeline.papers.")]
    others = [m for m in names if m not in allowed and m.rsplit(".", 1)[0] not in allowed]  # a module, or a name in one
    assert names and not others, others


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


def test_sources_pass_the_projects_ruff_checks() -> None:
    """Unused or undefined names and unsorted imports ([tool.ruff] in pyproject.toml) fail here, not in review."""
    paths = ["pipeline", "tests", "benchmarks", "workflow/scripts"]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", *paths],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
