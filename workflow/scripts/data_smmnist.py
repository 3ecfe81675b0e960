from pathlib import Path

from pipeline.data import write_smmnist_test_set
from pipeline.logs import logging_to

with logging_to(snakemake.log[0]):
    write_smmnist_test_set(
        out=Path(snakemake.output[0]),
        dataset_config=snakemake.params.dataset_config,
        sizes=snakemake.params.sizes,
        data_root=Path(snakemake.params.data_root),
        seed=snakemake.params.seed,
    )
