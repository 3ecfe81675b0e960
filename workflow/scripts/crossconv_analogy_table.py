from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.crossconv.analogy import write_analogy_table
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    write_analogy_table(Path(snakemake.input.model), snakemake.input.source, Path(snakemake.output.table),
                        snakemake.params.config, seed=snakemake.params.seed)
