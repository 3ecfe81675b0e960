from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.futures import write_futures
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    write_futures(Path(snakemake.input.model), Path(snakemake.input.summary), snakemake.params.sizes["data"],
                  int(snakemake.params.sizes["eval"]["batch_size"]), Path(snakemake.output[0]))
