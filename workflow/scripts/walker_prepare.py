from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.data import prepare

with logging_to(snakemake.log[0]):
    out = {key: Path(snakemake.output[key]) for key in ("mean_image", "split", "flow_codebook")}
    prepare(Path(snakemake.input[0]), out, snakemake.params.sizes, snakemake.params.seed)
