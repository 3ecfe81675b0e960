from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.evaluate import write_motion_table
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    samples = {v: Path(snakemake.input[v]) for v in snakemake.params.variants}
    write_motion_table(samples, Path(snakemake.input.summary), snakemake.params.sizes["data"],
                       Path(snakemake.output.table), snakemake.params.config, snakemake.input.sources)
