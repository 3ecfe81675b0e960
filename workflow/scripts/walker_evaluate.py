from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.evaluate import evaluate_variant
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    train_inputs = {k.removeprefix("train_"): v for k, v in snakemake.input.items() if k.startswith("train_")}
    model = Path(snakemake.input.model) if "model" in snakemake.input.keys() else None  # baselines have none
    evaluate_variant(snakemake.wildcards.variant, model, train_inputs,
                     Path(snakemake.input.test_summary), snakemake.params.sizes, snakemake.params.seed,
                     snakemake.params.device, Path(snakemake.output[0]))
