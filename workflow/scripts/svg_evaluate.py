from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.evaluate import evaluate
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
variant = snakemake.wildcards.get("variant") or snakemake.wildcards.baseline
with logging_to(snakemake.log[0]):
    evaluate(
        dataset=snakemake.wildcards.dataset,
        variant=variant,
        model_path=snakemake.input.get("model"),
        data={k: v for k, v in snakemake.input.items() if k != "model"},
        out_dir=Path(snakemake.output.curves).parent,
        sizes=snakemake.params.sizes,
        seed=snakemake.params.seed,
        device=snakemake.params.device,
    )
