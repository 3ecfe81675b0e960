from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.figures import action_data_figure

with logging_to(snakemake.log[0]):
    action_data_figure(Path(snakemake.input[0]), Path(snakemake.input[1]), Path(snakemake.output[0]))
