"""The registry: the only list of the papers, and how the graph asks each one what it needs.

Each paper is one folder, ``pipeline/papers/<paper>/``, read top to bottom:

* ``spec.py`` (imports no torch, so building the DAG stays fast): ``PAPER``, ``SIZES`` (scale
  -> its sizes), ``CLIP_SETS`` (the (video dataset, clip protocol) pairs it reads),
  ``REFERENCE`` (the paper's numbers, table -> row -> column: the ``paper`` column of our
  tables and nothing else), and, for a paper with models, ``models(sources)``,
  ``inputs(dataset, variant, data_root)``, ``training_sizes(sizes, dataset, variant)``,
  ``targets(sources, results, sizes)``; optionally ``data_targets(sources, data_root)`` for
  generated data it alone reads;
* ``model.py`` (networks and their config dataclasses), ``data.py`` (shards -> training and test
  items), ``train.py`` (``train(job: TrainingJob) -> Path``, through ``pipeline.training.fit``),
  ``evaluate.py``, ``figures.py``;
* its rules in ``workflow/rules/<paper>.smk``.

Adding a paper is one folder here, one rule file (included by the Snakefile) and one line in
:data:`PAPERS`. Shared modules never import this package; papers import shared modules; the one
paper-to-paper import is walker using staticflow's flow network, through that package's names.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pipeline import presets

if TYPE_CHECKING:
    from pipeline.training import TrainingJob

PAPERS: tuple[str, ...] = ("walker", "staticflow", "svg", "crossconv", "vgan")
"""Every paper of the project, by its key (the ``papers:`` config values)."""


def spec(paper: str) -> ModuleType:
    """The ``spec`` module of ``paper``, with an error naming the known papers when there is none."""
    check_names([paper])
    return importlib.import_module(f"pipeline.papers.{paper}.spec")


def check_names(names: Iterable[str], where: str = "papers") -> None:
    """Refuse a paper key that is not registered, naming it and the known ones."""
    unknown = [n for n in names if n not in PAPERS]
    if unknown:
        raise KeyError(f"{where}: no paper {', '.join(map(repr, unknown))}; known: {', '.join(PAPERS)}")


TRAIN_THREADS = {"smoke": 1, "demo": 1, "paper": 2}
"""CPU threads of a paper's training jobs, per preset, where its ``SIZES`` give no ``train_threads``.

One at smoke and demo, so that on 2 cores two models train at once: the demo's models are small
enough that a second thread adds less than a second job does (benchmarked alone: two one-thread
processes make 1.46x the steps of one two-thread process on SVG's SM-MNIST model, 1.75x on KTH, 1.14x
on crossconv's VAE; in the graph each svg model took about the time one two-thread job had taken, and
walker with staticflow 15:47 instead of 21:44). Two at the paper preset, as before: there a job
trains alone on a GPU node or a CPU with more cores, where ``overrides.<paper>.train_threads`` raises it.
"""


def sizes(scale: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The preset ``scale`` with every paper's sizes under its key and the user's overrides applied.

    Every paper's sizes hold ``train_threads``, torch's CPU threads in each of its training jobs (the
    job asks the scheduler for these plus its data workers): its own value, else the preset's
    :data:`TRAIN_THREADS`.
    """
    defaults = {paper: {name: {"train_threads": TRAIN_THREADS[name], **preset} for name, preset in spec(paper).SIZES.items()}
                for paper in PAPERS}
    return presets.resolve(scale, overrides, defaults)


def train_threads(paper: str, all_sizes: Mapping[str, Any]) -> int:
    """CPU threads of each of ``paper``'s training jobs (``sizes`` puts them under every paper's key)."""
    threads = int(all_sizes[paper]["train_threads"])
    if threads < 1:
        raise ValueError(f"overrides.{paper}.train_threads: {threads} is not a thread count (>= 1)")
    return threads


def models(paper: str, sources: Mapping[str, str], sizes: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    """(dataset, variant) pairs ``paper`` trains given the datasets' sources and its resolved sizes
    (which can leave a model out, e.g. svg's ``fig5.model``; none for a data-only paper)."""
    module = spec(paper)
    return module.models(sources, sizes) if hasattr(module, "models") else []


def clip_sets(papers: Iterable[str], sources: Mapping[str, str]) -> list[tuple[str, str]]:
    """(dataset, protocol) pairs the chosen papers read, from datasets whose source is not off."""
    pairs: list[tuple[str, str]] = []
    for paper in papers:
        for dataset, protocol in spec(paper).CLIP_SETS:
            if sources.get(dataset, "off") != "off" and (dataset, protocol) not in pairs:
                pairs.append((dataset, protocol))
    return pairs


def targets(papers: Iterable[str], sources: Mapping[str, str], results: Path,
            all_sizes: Mapping[str, Any]) -> list[Path]:
    """Every table and figure the chosen papers produce."""
    out: list[Path] = []
    for paper in papers:
        module = spec(paper)
        if hasattr(module, "targets"):
            out += module.targets(sources, Path(results), all_sizes.get(paper, {}))
    return out


def data_targets(papers: Iterable[str], sources: Mapping[str, str], data_root: Path) -> list[Path]:
    """Generated data sets the chosen papers alone read (SM-MNIST test set, Shapes pairs)."""
    out: list[Path] = []
    for paper in papers:
        module = spec(paper)
        if hasattr(module, "data_targets"):
            out += module.data_targets(sources, Path(data_root))
    return out


def train(job: TrainingJob) -> Path:
    """Train the model ``job`` names with its paper's ``train.train``; returns its model.pt."""
    check_names([job.paper])
    return importlib.import_module(f"pipeline.papers.{job.paper}.train").train(job)
