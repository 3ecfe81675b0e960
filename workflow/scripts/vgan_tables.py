from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.evaluate import write_tables

with logging_to(snakemake.log[0]):
    write_tables(Path(snakemake.input.judge), Path(snakemake.output.preference), Path(snakemake.output.statistics),
                 snakemake.params.config, snakemake.input.sources)
