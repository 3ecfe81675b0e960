from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.crossconv.tables import write_kl_differences

with logging_to(snakemake.log[0]):
    write_kl_differences(snakemake.input.scores, Path(snakemake.output.table), snakemake.params.config,
                         snakemake.input.sources)
