from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.crossconv.evaluate import evaluate_predictor
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    evaluate_predictor(snakemake.wildcards.predictor, dict(snakemake.input.items()), snakemake.params.sizes,
                       snakemake.params.seed, Path(snakemake.output.json), Path(snakemake.output.motion),
                       flow=snakemake.params.flow)
