from pathlib import Path

from pipeline.data import write_shapes_split
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    write_shapes_split(
        out=Path(snakemake.output[0]),
        variant=snakemake.wildcards.variant,
        split=snakemake.wildcards.split,
        sizes=snakemake.params.sizes,
        seed=snakemake.params.seed,
    )
