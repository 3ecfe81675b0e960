from pathlib import Path

from pipeline.atomic import read_json
from pipeline.logs import logging_to
from pipeline.papers.walker.detection.data import prepare_split

with logging_to(snakemake.log[0]):
    root = read_json(snakemake.input[0])["root"]
    prepare_split(root, snakemake.wildcards.split, snakemake.params.sizes, Path(snakemake.output[0]),
                  workers=snakemake.threads)
