from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.evaluate import evaluate_variant

with logging_to(snakemake.log[0]):
    train_inputs = {k.removeprefix("train_"): v for k, v in snakemake.input.items() if k.startswith("train_")}
    evaluate_variant(snakemake.wildcards.variant, Path(snakemake.input.model), train_inputs,
                     Path(snakemake.input.test_summary), snakemake.params.sizes, snakemake.params.seed,
                     snakemake.params.device, Path(snakemake.output[0]))
