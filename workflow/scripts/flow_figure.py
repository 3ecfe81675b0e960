from pathlib import Path

from pipeline.logs import logging_to
from pipeline.plots import flow_figure_from_shard

with logging_to(snakemake.log[0]):
    flow_figure_from_shard([Path(p) for p in snakemake.input], Path(snakemake.output[0]))
