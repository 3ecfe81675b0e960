from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.data import write_bair_shards

with logging_to(snakemake.log[0]):
    write_bair_shards(
        source_record=Path(snakemake.input.source),
        out_dir=Path(snakemake.output[0]),
        sequences_per_shard=int(snakemake.params.sizes["sequences_per_shard"]),
        max_sequences=int(snakemake.params.sizes["max_sequences"]),
    )
