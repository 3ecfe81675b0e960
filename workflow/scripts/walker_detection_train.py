from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.walker.detection.train import train_detector
from pipeline.training import TrainingJob

with logging_to(snakemake.log[0]):
    init = snakemake.wildcards.init
    train_detector(TrainingJob(
        paper="walker",
        dataset="voc2012",
        variant=f"detection_{init}",
        out_dir=Path(snakemake.output[0]).parent,
        sizes=snakemake.params.sizes,
        inputs=dict(snakemake.input.items()),
        seed=int(snakemake.wildcards.seed),
        device=snakemake.params.device,
        precision=snakemake.params.precision,
    ), init)
