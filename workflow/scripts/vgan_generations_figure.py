from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.figures import generations_from_files

with logging_to(snakemake.log[0]):
    samples = {v: Path(snakemake.input[v]) for v in snakemake.params.variants}
    generations_from_files(samples, Path(snakemake.input.summary), snakemake.params.sizes["data"],
                           Path(snakemake.output[0]), int(snakemake.params.n))
