from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.figures import min_euclidean_figure

with logging_to(snakemake.log[0]):
    min_euclidean_figure(dict(zip(snakemake.params.variants, map(Path, snakemake.input))), Path(snakemake.output[0]))
