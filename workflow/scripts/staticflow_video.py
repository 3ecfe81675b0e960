from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.staticflow.evaluate import flow_video

with logging_to(snakemake.log[0]):
    flow_video(Path(snakemake.input.model), dict(snakemake.input.items()), snakemake.params.sizes,
               Path(snakemake.output.video), Path(snakemake.output.strip))
