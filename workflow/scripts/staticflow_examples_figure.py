from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.figures import flow_examples_figure

with logging_to(snakemake.log[0]):
    flow_examples_figure(dict(zip(snakemake.params.names, map(Path, snakemake.input))), Path(snakemake.output[0]))
