from pipeline.logs import logging_to
from pipeline.papers.crossconv.figures import samples_figure

with logging_to(snakemake.log[0]):
    samples_figure(snakemake.input[0], snakemake.output[0])
