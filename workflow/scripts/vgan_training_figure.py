from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.figures import training_figure

with logging_to(snakemake.log[0]):
    folders = {v: Path(p).parent for v, p in zip(snakemake.params.variants, snakemake.input, strict=True)}
    training_figure(folders, Path(snakemake.output[0]))
