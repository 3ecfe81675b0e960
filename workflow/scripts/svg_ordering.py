from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.svg.tables import write_ordering

with logging_to(snakemake.log[0]):
    write_ordering(
        dataset=snakemake.wildcards.dataset,
        score_paths=dict(zip(snakemake.params.models, snakemake.input.scores)),
        test_set=snakemake.input.test_set[0] if snakemake.input.test_set else None,
        out=Path(snakemake.output[0]),
        config=snakemake.params.config,
    )
