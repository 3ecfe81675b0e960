from pipeline.logs import logging_to
from pipeline.papers.svg.figures import prior_sigma_figure

with logging_to(snakemake.log[0]):
    prior_sigma_figure(
        sigma_csv=snakemake.input.sigma,
        collisions_csv=snakemake.input.collisions,
        out_path=snakemake.output[0],
    )
