from pathlib import Path

from pipeline.evaluation.walker import cvae_examples
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    cvae_examples(Path(snakemake.input.model), Path(snakemake.input.mean_image), Path(snakemake.input.test_summary),
                  snakemake.params.sizes, snakemake.params.seed, snakemake.params.device, Path(snakemake.output[0]))
