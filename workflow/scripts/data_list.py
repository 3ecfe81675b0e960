from pathlib import Path

from pipeline.data import list_source, read_source_record
from pipeline.logs import logging_to
from pipeline.manifest import write_manifest

with logging_to(snakemake.log[0]) as log:
    record = read_source_record(Path(snakemake.input.source))
    manifest = list_source(record, split_index=snakemake.params.split, workers=snakemake.threads)
    write_manifest(manifest, Path(snakemake.output.manifest))
    log.info("listed %d files: %s", len(manifest), manifest["status"].value_counts().to_dict())
