from pathlib import Path

from pipeline.figures.preprocessing import trajectories_figure_from_shard
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    trajectories_figure_from_shard(Path(snakemake.input[0]), Path(snakemake.output[0]))
