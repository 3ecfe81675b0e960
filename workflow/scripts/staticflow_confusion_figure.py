from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.figures import confusion_figure

with logging_to(snakemake.log[0]):
    confusion_figure(dict(zip(snakemake.params.names, map(Path, snakemake.input))), Path(snakemake.output[0]))
