from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.figures import training_figure

with logging_to(snakemake.log[0]):
    folders = {variant: Path(model).parent for variant, model in zip(snakemake.params.variants, snakemake.input)}
    training_figure(folders, Path(snakemake.output[0]))
