from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.evaluate import rollout
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    rollout(
        dataset=snakemake.wildcards.dataset,
        model_path=snakemake.input.model,
        data={k: v for k, v in snakemake.input.items() if k != "model"},
        out=Path(snakemake.output[0]),
        sizes=snakemake.params.sizes,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
    )
