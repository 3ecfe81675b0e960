from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.figures import training_curves_figure

with logging_to(snakemake.log[0]):
    folders = {arch: Path(model).parent for arch, model in zip(snakemake.params.archs, snakemake.input)}
    training_curves_figure(folders, Path(snakemake.output[0]))
