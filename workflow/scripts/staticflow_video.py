from pathlib import Path

from pipeline.evaluation.staticflow_run import flow_video
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    flow_video(Path(snakemake.input.model), dict(snakemake.input.items()), snakemake.params.sizes,
               Path(snakemake.output.video), Path(snakemake.output.strip))
