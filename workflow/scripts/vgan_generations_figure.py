from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.figures import (
    generations_figure,
    generations_gif,
    real_frames,
)

with logging_to(snakemake.log[0]):
    samples = {v: Path(snakemake.input[v]) for v in snakemake.params.variants}
    n = int(snakemake.params.n)
    real = real_frames(Path(snakemake.input.summary), snakemake.params.sizes["data"], n)
    generations_figure(samples, real, Path(snakemake.output.figure), n)
    generations_gif(samples, real, Path(snakemake.output.gif), min(n, 2))
