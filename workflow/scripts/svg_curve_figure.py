from pipeline.logs import logging_to
from pipeline.papers.svg.figures import curve_figure

with logging_to(snakemake.log[0]):
    curve_figure(dataset=snakemake.params.dataset, table=snakemake.input[0], out=snakemake.output[0])
