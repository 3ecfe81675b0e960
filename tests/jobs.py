"""Training jobs as the train_model rule runs them, and a job killed right after a checkpoint."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipeline import papers, training


def train(paper: str, dataset: str, variant: str, inputs: Mapping[str, Any], out_dir: Path,
          paper_sizes: Mapping[str, Any], seed: int = 0) -> Path:
    """What ``snakemake ... model.pt`` does: the job reads only its ``training_sizes``."""
    sizes = papers.spec(paper).training_sizes(paper_sizes, dataset, variant)
    job = training.TrainingJob(paper=paper, dataset=dataset, variant=variant, out_dir=Path(out_dir), sizes=sizes,
                               inputs=dict(inputs), seed=seed, device="cpu")
    return papers.train(job)


@contextmanager
def killed_after_checkpoint(step: int) -> Iterator[None]:
    """The job dies (KeyboardInterrupt, as on SIGINT) right after writing its step-``step`` checkpoint."""
    save = training.atomic_torch_save

    def save_then_die(obj: Any, path: Path) -> None:
        save(obj, path)
        if Path(path).name == training.CHECKPOINT_NAME and obj["step"] == step:
            raise KeyboardInterrupt(f"killed after the step-{step} checkpoint")

    training.atomic_torch_save = save_then_die
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        training.atomic_torch_save = save
