from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.figures import interpolation_figure

with logging_to(snakemake.log[0]):
    interpolation_figure(Path(snakemake.input[0]), Path(snakemake.output[0]))
