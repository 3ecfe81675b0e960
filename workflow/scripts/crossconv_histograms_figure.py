from pipeline.logs import logging_to
from pipeline.papers.crossconv.figures import motion_histograms_figure

with logging_to(snakemake.log[0]):
    motion_histograms_figure(dict(zip(snakemake.params.names, snakemake.input)), snakemake.output[0])
