from pipeline.logs import logging_to
from pipeline.report_views import write_page

with logging_to(snakemake.log[0]) as log:
    log.info("page of %s -> %s", snakemake.input[0], write_page(snakemake.input[0], snakemake.output[0], snakemake.params.paper_column))
