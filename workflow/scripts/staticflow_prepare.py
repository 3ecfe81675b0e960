from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.data import prepare

with logging_to(snakemake.log[0]):
    out = {key: Path(snakemake.output[key]) for key in ("codebook", "mean_image", "split")}
    prepare(Path(snakemake.input[0]), out, snakemake.params.sizes, snakemake.params.seed)
