from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.figures import futures_figure, futures_gif

with logging_to(snakemake.log[0]):
    futures_figure(Path(snakemake.input[0]), Path(snakemake.output.figure), int(snakemake.params.n))
    futures_gif(Path(snakemake.input[0]), Path(snakemake.output.gif), min(int(snakemake.params.n), 2))
