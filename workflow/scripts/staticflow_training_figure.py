from pathlib import Path

from pipeline.figures.staticflow import training_curves_figure
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    folders = {arch: Path(model).parent for arch, model in zip(snakemake.params.archs, snakemake.input)}
    training_curves_figure(folders, Path(snakemake.output[0]))
