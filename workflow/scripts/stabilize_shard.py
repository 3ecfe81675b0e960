from pathlib import Path

from pipeline.logs import logging_to
from pipeline.stabilize import StabilizeConfig, stabilize_shard

with logging_to(snakemake.log[0]) as log:
    kept, dropped = stabilize_shard(Path(snakemake.input[0]), Path(snakemake.output[0]),
                                    StabilizeConfig(detector=snakemake.params.keypoints))
    log.info("kept %d clips, dropped %d", kept, dropped)
