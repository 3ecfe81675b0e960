from pathlib import Path

from pipeline.logs import logging_to
from pipeline.trajectories import TrajectoryConfig, trajectory_shard

with logging_to(snakemake.log[0]) as log:
    cfg = TrajectoryConfig(flow_method=snakemake.params.method, dis_preset=snakemake.params.dis_preset,
                           n_scales=int(snakemake.params.sizes["n_scales"]))
    kept, _ = trajectory_shard(Path(snakemake.input[0]), Path(snakemake.output[0]), cfg)
    log.info("trajectories for %d clips", kept)
