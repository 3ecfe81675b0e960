from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.crossconv.latent import latent_statistics
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    latent_statistics(Path(snakemake.input.model), Path(snakemake.input.train), snakemake.params.sizes,
                      snakemake.params.seed, Path(snakemake.output.stats), Path(snakemake.output.summary),
                      dataset=snakemake.wildcards.dataset, variant=snakemake.wildcards.variant)
