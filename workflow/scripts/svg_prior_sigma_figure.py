from pipeline.figures.svg import prior_sigma_figure
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    prior_sigma_figure(
        sigma_csv=snakemake.input.sigma,
        collisions_csv=snakemake.input.collisions,
        out_path=snakemake.output[0],
    )
