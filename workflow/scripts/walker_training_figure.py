from pathlib import Path

from pipeline.figures.walker import training_figure
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    folders = {variant: Path(model).parent for variant, model in zip(snakemake.params.variants, snakemake.input)}
    training_figure(folders, Path(snakemake.output[0]))
