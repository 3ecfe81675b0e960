import json
from pathlib import Path

from pipeline.data import fetch_dataset
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    record = fetch_dataset(
        dataset=snakemake.wildcards.dataset,
        dataset_config=snakemake.params.dataset_config,
        data_root=Path(snakemake.params.data_root),
        standin_sizes=snakemake.params.standin,
        seed=snakemake.params.seed,
        workers=snakemake.threads,
    )
    Path(snakemake.output[0]).write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
