from pathlib import Path

from pipeline.logs import logging_to
from pipeline.seed_spread import write_seed_spread

with logging_to(snakemake.log[0]):
    write_seed_spread({s: snakemake.input[f"seed{s}"] for s in snakemake.params.seeds}, Path(snakemake.output[0]),
                      snakemake.params.config)
