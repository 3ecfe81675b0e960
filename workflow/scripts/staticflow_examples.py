from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.evaluate import net_examples
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    net_examples(Path(snakemake.input.model), dict(snakemake.input.items()), snakemake.params.sizes,
                 snakemake.params.device, Path(snakemake.output[0]))
