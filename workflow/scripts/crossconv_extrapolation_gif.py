from pipeline.logs import logging_to
from pipeline.papers.crossconv.figures import extrapolation_gif

with logging_to(snakemake.log[0]):
    extrapolation_gif(snakemake.input[0], snakemake.output[0])
