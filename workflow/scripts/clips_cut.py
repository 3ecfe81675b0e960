from pathlib import Path

from pipeline.clips import cut_shard, protocol
from pipeline.data import read_source_record
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    source = read_source_record(Path(snakemake.input.source))
    cut_shard(
        manifest_path=Path(snakemake.input.manifest),
        raw_dir=Path(source["root"]),
        proto=protocol(snakemake.wildcards.protocol, snakemake.params.sizes, snakemake.wildcards.dataset),
        shard=int(snakemake.wildcards.shard),
        out_path=Path(snakemake.output[0]),
        provenance={"dataset": snakemake.wildcards.dataset, "source": source["source"]},
    )
