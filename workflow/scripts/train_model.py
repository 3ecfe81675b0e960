from pathlib import Path

from pipeline.logs import logging_to
from pipeline.recipes import recipe

with logging_to(snakemake.log[0]):
    recipe(snakemake.wildcards.paper).train(
        dataset=snakemake.wildcards.dataset,
        variant=snakemake.wildcards.variant,
        inputs=dict(snakemake.input.items()),
        out_dir=Path(snakemake.output[0]).parent,
        sizes=snakemake.params.sizes,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
    )
