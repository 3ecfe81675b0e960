"""What made a result: code version, machine, input fingerprints, sizes and seed.

A number is only as good as the record of how it was measured. Every ``model.pt`` carries a
record made here, evaluation outputs and table sidecars copy the records of the models they
read, and a table built from models of different code versions or machines says so.

Print a model's or a table's record::

    python -m pipeline.provenance results/models/walker/ucf101/cvae/model.pt
    python -m pipeline.provenance results/tables/thumos_nll.csv
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent


def plain(value: Any) -> Any:
    """``value`` as JSON-able builtins (tuples as lists, numpy scalars as numbers), for comparison."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _files_under(path: Path) -> Iterable[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.name != ".snakemake_timestamp")
    return [path] if path.exists() else []


def fingerprint_inputs(inputs: Mapping[str, Any]) -> dict[str, str]:
    """name -> sha256 of (relative path, size, mtime) of every file of each input (file or folder).

    Cheap at any scale (no file is read) and conservative: a regenerated input has a new mtime,
    so a checkpoint made before the regeneration is not resumed.
    """
    out = {}
    for name in sorted(inputs):
        paths = inputs[name] if isinstance(inputs[name], (list, tuple)) else [inputs[name]]
        digest = hashlib.sha256()
        for root in map(Path, paths):
            for file in _files_under(root):
                stat = file.stat()
                rel = file.relative_to(root) if root.is_dir() else Path(file.name)
                digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        out[name] = digest.hexdigest()[:16]
    return out


@cache
def package_hash() -> str:
    """sha256 of every source file of the ``pipeline`` package: the code a model was trained with."""
    digest = hashlib.sha256()
    for file in sorted(PACKAGE_ROOT.rglob("*.py")):
        digest.update(str(file.relative_to(PACKAGE_ROOT)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


@cache
def code_version() -> dict[str, Any]:
    """The git commit of the code and whether the work tree had changes (or only the package hash)."""
    record: dict[str, Any] = {"package_sha256": package_hash()}
    try:
        run = lambda *args: subprocess.run(["git", *args], cwd=PACKAGE_ROOT, capture_output=True, text=True,  # noqa: E731
                                           check=True).stdout.strip()
        record["commit"] = run("rev-parse", "HEAD")
        record["dirty"] = bool(run("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        record["commit"] = None
    return record


def describe_code(record: Mapping[str, Any]) -> str:
    """'<commit>[-dirty]' or 'package <hash>' when there is no git checkout."""
    if record.get("commit"):
        return record["commit"] + ("-dirty" if record.get("dirty") else "")
    return f"package {record.get('package_sha256')}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: Any = None) -> dict[str, Any]:
    """Where a result was computed: the things that change floating-point results between machines.

    ``cpu_capability`` is the kernel family torch dispatches to (AVX512, AVX2, ...): cloud CPUs
    often share one model name ("Intel(R) Xeon(R) Processor") while their kernels, and so the
    last digits of every float, differ, and a model near a tipping point (a GAN) ends elsewhere.
    """
    import torch

    record = {"host": platform.node(), "python": sys.version.split()[0], "torch": str(torch.__version__),
              "device": str(device) if device is not None else "cpu", "threads": torch.get_num_threads(),
              "cpu": _cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "cpu_count": os.cpu_count()}
    if device is not None and str(device).startswith("cuda"):
        record["gpu"] = torch.cuda.get_device_name(torch.device(device))
        record["cuda"] = str(torch.version.cuda)
    return record


def model_record(identity: Mapping[str, Any], *, steps: int, wall_seconds: float, resumed_at: int,
                 device: Any) -> dict[str, Any]:
    """The provenance stored in ``model.pt``: its training identity, code, machine and run."""
    return {**plain(identity), "code_version": code_version(), "machine": machine(device), "steps": int(steps),
            "wall_seconds": round(float(wall_seconds), 1), "resumed_at_step": int(resumed_at),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def models_summary(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a table built from these models' records should say about them.

    ``mixed_code`` / ``mixed_machines`` are true when the models were trained with different code
    versions or on different CPU/GPU types or thread counts (their numbers may differ in the last
    digits, or more for a model near a tipping point).
    """
    codes = sorted({describe_code(r.get("code_version", {})) for r in records})
    keys = ("cpu", "cpu_capability", "gpu", "threads", "torch")
    machines = sorted({json.dumps({k: r.get("machine", {}).get(k) for k in keys}, sort_keys=True) for r in records})
    return {"models": [plain(r) for r in records], "code_versions": codes, "mixed_code": len(codes) > 1,
            "machines": [json.loads(m) for m in machines], "mixed_machines": len(machines) > 1}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m pipeline.provenance <model.pt | table.csv | evaluation.json>", file=sys.stderr)
        return 2
    path = Path(args[0])
    if path.suffix == ".pt":
        from pipeline.saved_models import model_provenance

        record = model_provenance(path)
    else:
        sidecar = path.with_suffix(".provenance.json") if path.suffix == ".csv" else path
        if not sidecar.is_file():
            print(f"no provenance record at {sidecar}", file=sys.stderr)
            return 1
        record = json.loads(sidecar.read_text())
    print(json.dumps(record, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
