from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.figures import streams_figure, streams_gif

with logging_to(snakemake.log[0]):
    streams_figure(Path(snakemake.input[0]), Path(snakemake.output.figure), int(snakemake.params.n))
    streams_gif(Path(snakemake.input[0]), Path(snakemake.output.gif), min(int(snakemake.params.n), 2))
