from pipeline.logs import logging_to
from pipeline.papers.svg.figures import velocity_figure

with logging_to(snakemake.log[0]):
    velocity_figure(csv_path=snakemake.input[0], out_path=snakemake.output[0])
