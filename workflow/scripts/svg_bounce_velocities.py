from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.evaluate import bounce_velocities
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    bounce_velocities(
        model_path=Path(snakemake.input.model),
        shared_start=Path(snakemake.input.shared_start),
        test_set=Path(snakemake.input.test_set),
        out_table=Path(snakemake.output.table),
        out_distance=Path(snakemake.output.distance),
        sizes=snakemake.params.sizes,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
    )
