from pipeline.logs import logging_to
from pipeline.papers.crossconv.figures import feature_maps_figure

with logging_to(snakemake.log[0]):
    feature_maps_figure(snakemake.input[0], snakemake.output[0])
