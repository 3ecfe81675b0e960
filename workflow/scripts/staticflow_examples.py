from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.evaluate import net_examples

with logging_to(snakemake.log[0]):
    net_examples(Path(snakemake.input.model), dict(snakemake.input.items()), snakemake.params.sizes,
                 snakemake.params.device, Path(snakemake.output[0]))
