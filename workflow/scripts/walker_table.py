from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.table import write_nll_table

with logging_to(snakemake.log[0]) as log:
    scores = dict(zip(snakemake.params.variants, map(Path, snakemake.input.scores)))
    table = write_nll_table(scores, Path(snakemake.output.table), snakemake.params.config, snakemake.input.sources,
                             figure=snakemake.input.figure)
    log.info("\n%s", table.to_string())
