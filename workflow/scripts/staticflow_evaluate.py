from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.evaluate import evaluate_predictor
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    model = Path(snakemake.input.model) if "model" in snakemake.input.keys() else None
    evaluate_predictor(snakemake.wildcards.predictor, dict(snakemake.input.items()), snakemake.params.sizes,
                       snakemake.params.device, Path(snakemake.output[0]), model_path=model)
