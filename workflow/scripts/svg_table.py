from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.tables import write_curve_table

with logging_to(snakemake.log[0]):
    write_curve_table(
        dataset=snakemake.params.dataset,
        curve_paths=list(snakemake.input.curves),
        out=Path(snakemake.output[0]),
        config=snakemake.params.config,
        source_records=[Path(p) for p in snakemake.input.sources],
        test_set=snakemake.input.get("test_set"),
    )
