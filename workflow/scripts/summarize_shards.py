from pathlib import Path

from pipeline.logs import logging_to
from pipeline.shards import summarize_shards

with logging_to(snakemake.log[0]) as log:
    table = summarize_shards([Path(p) for p in snakemake.input], Path(snakemake.output[0]))
    log.info("kept %d, dropped %d", table["kept"].sum(), table["dropped"].sum())
