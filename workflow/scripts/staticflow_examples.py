from pathlib import Path

from pipeline.evaluation.staticflow_run import net_examples
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    net_examples(Path(snakemake.input.model), dict(snakemake.input.items()), snakemake.params.sizes,
                 snakemake.params.device, Path(snakemake.output[0]))
