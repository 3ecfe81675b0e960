from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.evaluate import write_samples
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    write_samples(snakemake.wildcards.variant, Path(snakemake.input.model), snakemake.params.sizes,
                  snakemake.params.seed, Path(snakemake.output[0]))
