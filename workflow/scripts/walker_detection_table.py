from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.detection.evaluate import write_detection_table

with logging_to(snakemake.log[0]) as log:
    n = len(snakemake.params.seeds)
    detections = list(map(Path, snakemake.input.detections))
    models = list(map(Path, snakemake.input.models))
    by_init = {init: detections[k * n : (k + 1) * n] for k, init in enumerate(snakemake.params.inits)}
    models_by_init = {init: models[k * n : (k + 1) * n] for k, init in enumerate(snakemake.params.inits)}
    table = write_detection_table(by_init, models_by_init, Path(snakemake.input.train), Path(snakemake.input.val),
                                  snakemake.params.sizes, snakemake.params.config, snakemake.input.sources,
                                  Path(snakemake.output.table))
    log.info("\n%s", table.to_string())
