from pathlib import Path

from pipeline.logs import logging_to
from pipeline.plots import stabilization_figure_from_shards

with logging_to(snakemake.log[0]):
    stabilization_figure_from_shards([Path(p) for p in snakemake.input.clips],
                                     [Path(p) for p in snakemake.input.stabilized], Path(snakemake.output[0]))
