from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.evaluate import judge_samples
from pipeline.torch_setup import configure_torch

configure_torch(snakemake.threads)
with logging_to(snakemake.log[0]):
    samples = {v: Path(snakemake.input[v]) for v in snakemake.params.variants}
    feature_net = snakemake.input.get("feature_net")
    judge_samples(samples, Path(snakemake.input.summary), snakemake.params.sizes, snakemake.params.seed,
                  Path(snakemake.output[0]), Path(feature_net) if feature_net else None)
