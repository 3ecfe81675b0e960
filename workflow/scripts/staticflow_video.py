from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.evaluate import flow_video
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    flow_video(Path(snakemake.input.model), dict(snakemake.input.items()), snakemake.params.sizes,
               Path(snakemake.output.video), Path(snakemake.output.strip))
