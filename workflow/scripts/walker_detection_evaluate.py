from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.detection.evaluate import evaluate_model
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    evaluate_model(Path(snakemake.input.model), Path(snakemake.input.val), snakemake.params.sizes,
                   Path(snakemake.output[0]))
