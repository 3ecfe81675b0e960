from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.evaluate import prior_sigma
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    prior_sigma(
        model_path=Path(snakemake.input.model),
        synchronized=Path(snakemake.input.synchronized),
        out_sigma=Path(snakemake.output.sigma),
        out_collisions=Path(snakemake.output.collisions),
        out_summary=Path(snakemake.output.summary),
        sizes=snakemake.params.sizes,
        device=snakemake.params.device,
    )
