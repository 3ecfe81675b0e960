from pathlib import Path

from pipeline.logs import logging_to
from pipeline.plots import trajectories_figure_from_shard

with logging_to(snakemake.log[0]):
    trajectories_figure_from_shard([Path(p) for p in snakemake.input], Path(snakemake.output[0]))
