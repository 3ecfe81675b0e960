from pathlib import Path

from pipeline.logs import logging_to
from pipeline.stabilize_stage import stabilize_shard, stage_config

with logging_to(snakemake.log[0]) as log:
    cfg = stage_config(snakemake.params.mode, snakemake.params.keypoints)
    kept, dropped = stabilize_shard(Path(snakemake.input[0]), Path(snakemake.output[0]), cfg)
    log.info("%s mode: kept %d clips, dropped %d", snakemake.params.mode, kept, dropped)
