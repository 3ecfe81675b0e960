from pipeline.logs import logging_to
from pipeline.papers.svg.figures import rollout_figures

with logging_to(snakemake.log[0]):
    rollout_figures(rollout=snakemake.input[0], out_png=snakemake.output.png, out_gif=snakemake.output.gif,
                    every=snakemake.params.every)
