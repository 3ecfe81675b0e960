from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.evaluate import prior_sigma

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
