from pathlib import Path

import torch

from pipeline.logs import logging_to
from pipeline.papers.crossconv.evaluate import evaluate_predictor

torch.set_num_threads(snakemake.threads)
with logging_to(snakemake.log[0]):
    evaluate_predictor(snakemake.wildcards.predictor, dict(snakemake.input.items()), snakemake.params.sizes,
                       snakemake.params.seed, Path(snakemake.output.json), Path(snakemake.output.motion),
                       flow=snakemake.params.flow)
