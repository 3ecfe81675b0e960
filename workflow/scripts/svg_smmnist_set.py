from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.data import write_smmnist_set

with logging_to(snakemake.log[0]):
    write_smmnist_set(
        kind=snakemake.wildcards.kind,
        test_set=Path(snakemake.input.test_set),
        out=Path(snakemake.output[0]),
        sizes=snakemake.params.sizes,
        seed=snakemake.params.seed,
    )
