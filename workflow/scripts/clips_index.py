from pathlib import Path

from pipeline.clips import protocol, write_clip_index
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]) as log:
    table = write_clip_index(
        manifest_path=Path(snakemake.input.manifest),
        shard_paths=[Path(p) for p in snakemake.input.shards],
        proto=protocol(snakemake.wildcards.protocol, snakemake.params.sizes, snakemake.wildcards.dataset),
        out_csv=Path(snakemake.output[0]),
    )
    log.info("%s", table["status"].value_counts().to_dict())
