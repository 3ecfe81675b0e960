"""Table 1 again by judges that learn from other generated clips: does the verdict hang on them?

The graph's judge learns from the judge samples of every model pooled (two GAN clips for every
AE clip). This reruns the judge, on a finished run's samples and real clips, trained on each
pairing's two models in equal numbers and on each model alone, and prints Table 1 for each, so
one sees whether a verdict is the pooled set's mix or a judge blind to a model's faults.
Each judge's record goes to ``<out>/judge-<set>.json`` (FD / KID there are in the judge's own
features, not the action classifier's of the graph's table). Scenes' own models are not covered.

    .venv/bin/python -m pipeline.papers.vgan.judge_sets --configfile config.yaml run.yaml [--config k=v ...] [--out DIR]

The config files and pairs are the run's (same order: later ones win), for its scale, overrides, seed and roots.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from pipeline import papers
from pipeline.papers.plan import load_config
from pipeline.papers.vgan import spec
from pipeline.papers.vgan.evaluate import judge_samples
from pipeline.torch_setup import configure_torch


def training_sets() -> dict[str, tuple[str, ...]]:
    """Name -> the models a judge learns from: all (the graph's), every pair, every model alone."""
    sets = {"pooled": spec.VARIANTS}
    sets.update({"+".join(pair): pair for pair in combinations(spec.VARIANTS, 2)})
    sets.update({f"only {v}": (v,) for v in spec.VARIANTS})
    return sets


def read_config(paths: Sequence[Path], pairs: Sequence[str] = ()) -> dict[str, Any]:
    """The run's config from its files and ``key=value`` pairs, as Snakemake builds it, with the keys this needs."""
    config = load_config(paths, pairs)
    for key in ("scale", "data_root", "results_root"):
        if key not in config:
            raise KeyError(f"{', '.join(map(str, paths))}: no {key!r}")
    return config


def judge_by_training_set(config: Mapping[str, Any], out: Path,
                          sets: Mapping[str, Sequence[str]] | None = None) -> dict[str, dict[str, float]]:
    """Table 1 (percent, each pairing and the control) by a judge trained on each set -> {set: {row: rate}}."""
    sizes = spec.judge_sizes(papers.sizes(str(config["scale"]), config.get("overrides"))["vgan"])
    evaluation = spec.evaluation_dir(Path(config["results_root"]))
    samples = {v: spec.samples_path(evaluation, v) for v in spec.VARIANTS}
    absent = [str(p) for p in samples.values() if not p.is_dir()]
    if absent:
        raise FileNotFoundError(f"no samples at {', '.join(absent)}: run the graph's vgan part first "
                                f"(e.g. snakemake ... results/tables/vgan_preference.csv)")
    summary = Path(spec.stabilized_summary(Path(config["data_root"]), spec.DATASET))
    tables: dict[str, dict[str, float]] = {}
    for name, trained_on in (sets or training_sets()).items():
        record = judge_samples(samples, summary, sizes, int(config.get("seed", 0)),
                               out / f"judge-{name.replace(' ', '-')}.json", trained_on=trained_on)
        tables[name] = {row["row"]: 100 * row["rate"] for row in record["preference"]}
        shown = "; ".join(f"{row['row']} {100 * row['rate']:.1f} [{100 * row['low']:.1f}, {100 * row['high']:.1f}]"
                          for row in record["preference"])
        print(f"judge trained on {name}: {shown}", flush=True)
    return tables


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", nargs="+", type=Path, required=True, help="the run's config files, in its order")
    parser.add_argument("--config", nargs="*", default=[], help="the run's key=value overrides, as snakemake's")
    parser.add_argument("--out", type=Path, help="folder of the judges' records (default <results_root>/eval/vgan/judge_sets)")
    args = parser.parse_args(argv)
    config = read_config(args.configfile, args.config)
    configure_torch(1)
    judge_by_training_set(config, args.out or Path(config["results_root"]) / "eval" / spec.PAPER / "judge_sets")


if __name__ == "__main__":
    main()
