from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.tables import write_tables

with logging_to(snakemake.log[0]):
    scene_judges = dict(zip(snakemake.params.scenes, map(Path, snakemake.input.scene_judges), strict=True))
    write_tables(Path(snakemake.input.judge), Path(snakemake.output.preference), Path(snakemake.output.statistics),
                 snakemake.params.config, snakemake.input.sources, scene_judges)
