from pathlib import Path

import torch

from pipeline.logs import logging_to
from pipeline.papers.crossconv.latent import sample_examples

torch.set_num_threads(snakemake.threads)
with logging_to(snakemake.log[0]):
    sample_examples(Path(snakemake.input.model), dict(snakemake.input.items()), snakemake.params.sizes,
                    snakemake.params.seed, Path(snakemake.output[0]))
