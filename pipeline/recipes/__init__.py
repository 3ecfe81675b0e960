"""Training recipes: how each paper's models are built, fed and trained by the one loop.

A recipe module ``pipeline.recipes.<paper>`` provides:

* ``models(datasets: Mapping[str, str]) -> list[tuple[str, str]]``: the (dataset, variant) pairs
  to train, given each dataset's configured source (cheap: called when Snakemake builds the DAG);
* ``inputs(dataset: str, variant: str, data_root: Path) -> dict[str, str | list[str]]``: the files
  a training job reads (cheap, DAG time; may use the clip indexes of ``pipeline.clips``);
* ``training_sizes(sizes, dataset, variant) -> dict``: the part of the paper's sizes that
  ``train`` reads for this model (Snakemake's params, so a change elsewhere never retrains it);
* ``train(dataset, variant, inputs, out_dir, sizes, seed, device) -> Path``: build the model from
  ``sizes`` (``training_sizes`` of the paper's section of the preset), run
  ``pipeline.training.fit``, return model.pt.
"""

from __future__ import annotations

import importlib
from types import ModuleType

PAPERS: tuple[str, ...] = ("walker", "staticflow", "crossconv", "vgan", "svg")


def recipe(paper: str) -> ModuleType:
    """The recipe module of ``paper``, with an error naming what exists when it does not."""
    if paper not in PAPERS:
        raise KeyError(f"no paper {paper!r}; known: {', '.join(PAPERS)}")
    try:
        return importlib.import_module(f"pipeline.recipes.{paper}")
    except ModuleNotFoundError as error:
        if error.name != f"pipeline.recipes.{paper}":
            raise
        raise KeyError(f"paper {paper!r} has no training recipe yet (pipeline/recipes/{paper}.py)") from error


def available() -> tuple[str, ...]:
    """Papers whose recipe exists."""
    found = []
    for paper in PAPERS:
        try:
            recipe(paper)
        except KeyError:
            continue
        found.append(paper)
    return tuple(found)
