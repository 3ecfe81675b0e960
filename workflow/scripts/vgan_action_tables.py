from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.tables import write_action_tables

with logging_to(snakemake.log[0]):
    write_action_tables(Path(snakemake.input.evaluation), Path(snakemake.output.accuracy), Path(snakemake.output.data),
                        snakemake.params.config, snakemake.input.sources)
