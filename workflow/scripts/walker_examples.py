from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.examples import cvae_examples

with logging_to(snakemake.log[0]):
    cvae_examples(Path(snakemake.input.model), Path(snakemake.input.mean_image), Path(snakemake.input.test_summary),
                  snakemake.params.sizes, snakemake.params.seed, snakemake.params.device, Path(snakemake.output[0]))
