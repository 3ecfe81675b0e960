from pipeline.logs import logging_to
from pipeline.papers.crossconv.data import write_clip_pairs

with logging_to(snakemake.log[0]):
    write_clip_pairs(snakemake.input.index, {"train": snakemake.output.train, "test": snakemake.output.test})
