from pathlib import Path

from pipeline.logs import logging_to
from pipeline.stabilize_stage import summarize_stabilized

with logging_to(snakemake.log[0]) as log:
    table = summarize_stabilized([Path(p) for p in snakemake.input], Path(snakemake.output[0]))
    log.info("kept %d, dropped %d, shot cuts %d", table["kept"].sum(), table["dropped"].sum(), table["shot_cuts"].sum())
