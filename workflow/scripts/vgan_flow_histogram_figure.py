from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.figures import flow_histogram_figure

with logging_to(snakemake.log[0]):
    flow_histogram_figure(Path(snakemake.input[0]), Path(snakemake.output[0]))
