from pathlib import Path

from pipeline.figures.preprocessing import stabilization_figure_from_shards
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    stabilization_figure_from_shards(Path(snakemake.input.clips), Path(snakemake.input.stabilized), Path(snakemake.output[0]))
