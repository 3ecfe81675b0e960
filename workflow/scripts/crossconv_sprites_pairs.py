from pipeline.logs import logging_to
from pipeline.papers.crossconv.sprites import write_pair_splits

with logging_to(snakemake.log[0]):
    write_pair_splits(snakemake.input.source, {"train": snakemake.output.train, "test": snakemake.output.test})
