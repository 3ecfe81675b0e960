from pathlib import Path

from pipeline import papers
from pipeline.logs import logging_to
from pipeline.torch_setup import configure_torch
from pipeline.training import TrainingJob

configure_torch(snakemake.params.threads)
with logging_to(snakemake.log[0]):
    papers.train(TrainingJob(
        paper=snakemake.wildcards.paper,
        dataset=snakemake.wildcards.dataset,
        variant=snakemake.wildcards.variant,
        out_dir=Path(snakemake.output[0]).parent,
        sizes=snakemake.params.sizes,
        inputs=dict(snakemake.input.items()),
        seed=snakemake.params.seed,
        device=snakemake.params.device,
        precision=snakemake.params.precision,
        threads=snakemake.params.threads,
    ))
