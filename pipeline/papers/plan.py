"""The plan of a run, printed before it: jobs per rule, disk per stage, training steps and hours.

    .venv/bin/python -m pipeline.papers.plan --config scale=paper
    .venv/bin/python -m pipeline.papers.plan --configfile my.yaml --config papers=[walker]

A command rather than a Snakemake ``onstart:`` hook: a plan is wanted *before* deciding to run
(or to submit to a cluster), and ``onstart`` fires only once a real run has started (never on
``-n``); this reads the same config and asks Snakemake itself for the jobs (a dry run), so the
counts are the graph's own.

* **Jobs per rule**: Snakemake's dry run of the same config. Shard jobs are known once a dataset's
  manifest exists (the list step is a checkpoint); datasets not listed yet are named, and
  ``snakemake --until data_list`` (probing only, no decoding) makes the counts exact.
* **Disk per stage**: from each manifest's videos that feed a protocol and the protocol's clip
  starts and sizes (``pipeline.clips``), times the bytes a clip takes in each stage's arrays
  (clips and stabilized clips: the frames, uint8; flow: first frame + float16 flow; trajectories:
  first frame + 10 float16 DCT coefficients per pixel and axis pair + a mask). Uncompressed: an
  upper bound (Zarr compresses the frames).
* **Training**: every model the config trains with its optimisation steps from the preset
  (staticflow trains in epochs, whose steps depend on its frame count) and, when this results
  folder holds the model's ``log.csv`` from an earlier (or running) job, its measured seconds per
  step and the hours the whole schedule takes at that speed. The speed is the device's that ran the
  job: a CPU run's log gives CPU-hours, a GPU's GPU-hours; a log from other sizes (another scale)
  is flagged.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline import clips as clip_protocols
from pipeline import papers
from pipeline.cluster import measured_speed
from pipeline.manifest import read_manifest

__all__ = ["STAGE_BYTES", "load_config", "planned_jobs", "disk_per_stage", "training_plan", "training_steps", "main"]

REPO = Path(__file__).resolve().parents[2]


def _frames_bytes(proto: clip_protocols.ClipProtocol) -> int:
    return len(proto.offsets) * proto.height * proto.width * 3


def _image_bytes(proto: clip_protocols.ClipProtocol) -> int:
    return proto.height * proto.width * 3


STAGE_BYTES = {
    # stage -> (protocols it runs on, bytes per clip)
    "clips": (("walker", "staticflow", "vgan", "svg", "crossconv"), _frames_bytes),
    "stabilized": (("walker", "vgan"), _frames_bytes),
    "flow": (("staticflow",), lambda p: _image_bytes(p) + p.height * p.width * 2 * 2),
    "trajectories": (("walker",), lambda p: _image_bytes(p) + p.height * p.width * (10 * 2 + 1)),
}
"""What each per-clip stage stores for one clip, uncompressed."""


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) else value
    return out


def load_config(configfiles: Sequence[str | Path], overrides: Sequence[str]) -> dict[str, Any]:
    """The config as Snakemake builds it: config files merged in order, then ``key=value`` pairs
    (values read as YAML, ``--config`` style), nested dicts merged."""
    config: dict[str, Any] = {}
    for path in configfiles:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, Mapping):
            raise ValueError(f"{path}: a config file holds a mapping of keys, not a {type(loaded).__name__}")
        config = _merge(config, loaded)
    for pair in overrides:
        if "=" not in pair:
            raise ValueError(f"--config {pair!r}: expected key=value")
        key, value = pair.split("=", 1)
        config = _merge(config, {key: yaml.safe_load(value)})
    return config


def planned_jobs(snakemake_args: Sequence[str], workdir: Path) -> tuple[dict[str, int], str]:
    """Snakemake's dry run: (rule -> jobs, its output). Raises with Snakemake's message on failure."""
    command = [str(Path(sys.executable).with_name("snakemake")), "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(workdir), "-n", "--cores", "1", *snakemake_args]
    run = subprocess.run(command, capture_output=True, text=True)
    output = run.stdout + run.stderr
    if run.returncode != 0:
        raise RuntimeError(f"snakemake -n failed:\n{output[-3000:]}")
    if "Job stats:" not in output:
        return {}, output
    block = output.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}, output


def disk_per_stage(config: Mapping[str, Any], sizes: Mapping[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """(rows: stage, dataset, protocol, videos, clips, GB; the datasets not listed yet)."""
    sources = {name: d.get("source", "off") for name, d in config["datasets"].items()}
    data = Path(config["data_root"])
    rows, unlisted = [], []
    for dataset, protocol in papers.clip_sets(config["papers"], sources):
        manifest_path = data / "manifests" / f"{dataset}.csv"
        if not manifest_path.is_file():
            unlisted.append(dataset)
            continue
        proto = clip_protocols.protocol(protocol, sizes["clips"][protocol], dataset)  # per-dataset sizes too
        manifest = read_manifest(manifest_path)
        videos = clip_protocols.eligible_videos(manifest, proto)
        n_clips = clip_protocols.clip_count(manifest, proto)
        for stage, (protocols, per_clip) in STAGE_BYTES.items():
            if protocol in protocols:
                rows.append({"stage": stage, "dataset": dataset, "protocol": protocol, "videos": len(videos),
                             "clips": n_clips, "GB": n_clips * per_clip(proto) / 1e9})
    return pd.DataFrame(rows, columns=["stage", "dataset", "protocol", "videos", "clips", "GB"]), sorted(set(unlisted))


def training_steps(train_sizes: Any, variant: str) -> tuple[int | None, str]:
    """Optimisation steps a model's training sizes ask for: ``steps`` (per variant when keyed so),
    ``coarse_steps`` + ``fine_steps`` (walker), or None with the epochs (staticflow)."""
    if isinstance(train_sizes, Mapping):
        if "coarse_steps" in train_sizes:
            return int(train_sizes["coarse_steps"]) + int(train_sizes["fine_steps"]), ""
        if "steps" in train_sizes:
            steps = train_sizes["steps"]
            return int(steps[variant] if isinstance(steps, Mapping) else steps), ""
        if "epochs" in train_sizes:
            epochs = train_sizes["epochs"]
            return None, f"{epochs[variant] if isinstance(epochs, Mapping) else epochs} epochs"
        for value in train_sizes.values():
            found = training_steps(value, variant)
            if found != (None, ""):
                return found
    return None, ""


def training_plan(config: Mapping[str, Any], sizes: Mapping[str, Any]) -> pd.DataFrame:
    """Per model: steps from the preset, measured seconds per step and the schedule's hours when known."""
    sources = {name: d.get("source", "off") for name, d in config["datasets"].items()}
    results = Path(config["results_root"])
    rows = []
    for paper in config["papers"]:
        for dataset, variant in papers.models(paper, sources, sizes[paper]):
            train_sizes = papers.spec(paper).training_sizes(sizes[paper], dataset, variant)
            steps, note = training_steps(train_sizes, variant)
            speed = measured_speed(results / "models" / paper / dataset / variant / "log.csv")
            row = {"paper": paper, "dataset": dataset, "variant": variant, "steps": steps,
                   "s_per_step": None, "hours": None, "note": note}
            if speed is not None:
                row["s_per_step"] = speed[0]
                if steps:
                    row["hours"] = speed[0] * steps / 3600
                    finished = (results / "models" / paper / dataset / variant / "model.pt").is_file()
                    if finished and speed[1] != steps:
                        row["note"] = f"speed from a run of {speed[1]} steps (other sizes)"
            rows.append(row)
    frame = pd.DataFrame(rows, columns=["paper", "dataset", "variant", "steps", "s_per_step", "hours", "note"])
    return frame.astype({"steps": "Int64", "s_per_step": "float64", "hours": "float64"})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.papers.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", action="append", default=[], help="as snakemake's (default config.yaml)")
    parser.add_argument("--config", nargs="*", default=[], help="key=value overrides, as snakemake's")
    parser.add_argument("--directory", default=".", help="the project folder the run would use")
    args = parser.parse_args(argv)
    workdir = Path(args.directory).resolve()
    configfiles = args.configfile or [str(REPO / "config.yaml")]
    config = load_config(configfiles, args.config)
    if not Path(config["data_root"]).is_absolute():
        config["data_root"] = str(workdir / config["data_root"])
    if not Path(config["results_root"]).is_absolute():
        config["results_root"] = str(workdir / config["results_root"])
    sizes = papers.sizes(config["scale"], config.get("overrides"))
    snakemake_args = [a for f in configfiles for a in ("--configfile", str(Path(f).resolve()))]
    jobs, _ = planned_jobs([*snakemake_args, *(["--config", *args.config] if args.config else [])], workdir)
    disk, unlisted = disk_per_stage(config, sizes)
    models = training_plan(config, sizes)
    with pd.option_context("display.width", 160, "display.max_rows", None, "display.max_colwidth", 60):
        print(f"Plan: scale={config['scale']}, papers={','.join(config['papers'])}, results in {config['results_root']}\n")
        print(f"Jobs still to run, per rule (snakemake -n): {sum(jobs.values())}")
        print(pd.Series(jobs, name="jobs").sort_values(ascending=False).to_string() if jobs else "  nothing to do")
        if unlisted:
            print(f"  + the clip, stabilization, flow and trajectory jobs of {', '.join(unlisted)}: known once listed "
                  "(snakemake --until data_list, then plan again)")
        print("\nDisk per stage (uncompressed upper bound, from the manifests):")
        if len(disk):
            print(disk.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
            print(disk.groupby("stage", sort=False)["GB"].sum().to_string(float_format=lambda v: f"{v:.3g}"))
            print(f"total {disk['GB'].sum():.3g} GB")
        else:
            print("  no manifest yet")
        print("\nTraining (steps from the preset; speed measured from this folder's log.csv when present):")
        print(models.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.3g}"))
        known = models["hours"].dropna()
        if len(known):
            print(f"hours of the {len(known)} models with a measured speed: {known.sum():.3g} "
                  f"(of {len(models)} models; the measuring device's hours: GPU-hours when trained on a GPU)")


if __name__ == "__main__":
    main()
