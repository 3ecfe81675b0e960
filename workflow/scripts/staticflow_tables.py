from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.tables import write_tables

with logging_to(snakemake.log[0]):
    scores = dict(zip(snakemake.params.predictors, map(Path, snakemake.input.scores)))
    write_tables(scores, Path(snakemake.output.validation), Path(snakemake.output.test), snakemake.params.config,
                 snakemake.input.sources)
