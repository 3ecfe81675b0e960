"""What a job pays before its work starts: the imports of each workflow script, in a fresh interpreter.

Every Snakemake job runs its script in a new Python process, so a table or figure job that reads a
CSV pays for every module its script imports. The default graph has about 330 jobs; the table and
figure jobs read saved outputs and run no network, so they must not import torch
(``tests/test_layout.py`` checks which modules may not). This prints, per script, the time to
import what it imports (median of ``--repeat`` fresh interpreters) and whether torch came with it,
beside the reference in the same run: a bare interpreter and ``import torch`` alone.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_job_startup.py [--repeat 3] [--only svg_table vgan_tables]
"""

from __future__ import annotations

import argparse
import ast
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"


def script_imports(path: Path) -> list[str]:
    """The modules a script imports at its top level, the package's and torch (what its job loads)."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [n for n in names if n.split(".")[0] in ("pipeline", "torch")]


def time_imports(modules: list[str], repeat: int) -> tuple[float, bool]:
    """Median seconds to import ``modules`` in a fresh interpreter, and whether torch was loaded."""
    code = ("import sys, time\nt = time.perf_counter()\n" + "".join(f"import {m}\n" for m in modules)
            + "print(time.perf_counter() - t, 'torch' in sys.modules)")
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                             env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        seconds, torch_loaded = out.stdout.split()
        runs.append((float(seconds), torch_loaded == "True"))
    return statistics.median(s for s, _ in runs), runs[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh interpreters per script (median)")
    parser.add_argument("--only", nargs="*", help="script names (without .py); default: every script")
    args = parser.parse_args()
    paths = sorted(SCRIPTS.glob("*.py"))
    if args.only:
        paths = [p for p in paths if p.stem in set(args.only)]
    bare, _ = time_imports([], args.repeat)
    torch_alone, _ = time_imports(["torch"], args.repeat)
    print(f"{'reference':<36} {'imports':>8}  torch")
    print(f"{'  bare interpreter':<36} {bare:>7.2f}s")
    print(f"{'  import torch alone':<36} {torch_alone:>7.2f}s  yes")
    rows = [(p.stem, *time_imports(script_imports(p), args.repeat)) for p in paths]
    for name, seconds, torch_loaded in sorted(rows, key=lambda r: (r[2], r[1])):
        print(f"{name:<36} {seconds:>7.2f}s  {'yes' if torch_loaded else 'no'}")
    without = [s for _, s, t in rows if not t]
    print(f"\n{len(without)} of {len(rows)} scripts start without torch "
          f"(median {statistics.median(without) if without else float('nan'):.2f}s of imports); "
          f"{len(rows) - len(without)} load it: the jobs that run a network, and the data jobs marked yes above "
          "whose modules import it (svg's generated sets, walker's and crossconv's preparation).")


if __name__ == "__main__":
    main()
