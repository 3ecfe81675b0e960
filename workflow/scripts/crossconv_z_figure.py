from pipeline.logs import logging_to
from pipeline.papers.crossconv.figures import z_statistics_figure

with logging_to(snakemake.log[0]):
    z_statistics_figure(snakemake.input[0], snakemake.output[0])
