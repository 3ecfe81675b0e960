from pathlib import Path

from pipeline.flow import staticflow_shard
from pipeline.logs import logging_to
from pipeline.papers.staticflow.geometry import allconv_output_size

with logging_to(snakemake.log[0]) as log:
    # the label grid is the all-convolutional net's output grid (20x20 at the paper's 200x200)
    grid = allconv_output_size(snakemake.params.size)
    kept, dropped = staticflow_shard(Path(snakemake.input[0]), Path(snakemake.output[0]), grid,
                                     snakemake.params.method, snakemake.params.dis_preset)
    log.info("flow for %d clips on a %dx%d grid", kept, grid, grid)
