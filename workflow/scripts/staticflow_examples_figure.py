from pathlib import Path

from pipeline.figures.staticflow import flow_examples_figure
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    flow_examples_figure(dict(zip(snakemake.params.names, map(Path, snakemake.input))), Path(snakemake.output[0]))
