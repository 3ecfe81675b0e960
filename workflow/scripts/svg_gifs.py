from pipeline.logs import logging_to
from pipeline.papers.svg.figures import write_gifs

with logging_to(snakemake.log[0]):
    write_gifs(examples=snakemake.input[0], outs=list(snakemake.output))
