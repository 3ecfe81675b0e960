from pathlib import Path

from pipeline.figures.walker import samples_figure
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    samples_figure(Path(snakemake.input[0]), Path(snakemake.output[0]))
