from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.figures import streams_figure

with logging_to(snakemake.log[0]):
    streams_figure(Path(snakemake.input[0]), Path(snakemake.output[0]), int(snakemake.params.n))
