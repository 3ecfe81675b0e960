from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.action_eval import evaluate_actions
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    classifiers = dict(zip(snakemake.params.names, map(Path, snakemake.input.classifiers), strict=True))
    evaluate_actions(classifiers, Path(snakemake.input.discriminator), Path(snakemake.input.summary),
                     snakemake.params.sizes, snakemake.params.seed, Path(snakemake.output[0]))
