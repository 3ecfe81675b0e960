from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.crossconv.tables import write_sparsity_table

with logging_to(snakemake.log[0]):
    write_sparsity_table(snakemake.input.stats, Path(snakemake.output.table), snakemake.params.config,
                         snakemake.input.sources)
