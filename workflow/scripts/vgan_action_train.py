from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.action import train_classifier
from pipeline.papers.vgan.spec import classifier_seed, parse_classifier
from pipeline.torch_setup import configure_torch
from pipeline.training import TrainingJob

configure_torch(snakemake.params.threads)
with logging_to(snakemake.log[0]):
    init, share, run = parse_classifier(snakemake.wildcards.classifier)
    train_classifier(TrainingJob(
        paper="vgan",
        dataset="ucf101",
        variant=f"action_{snakemake.wildcards.classifier}",
        out_dir=Path(snakemake.output[0]).parent,
        sizes=snakemake.params.sizes,
        inputs=dict(snakemake.input.items()),
        seed=classifier_seed(snakemake.params.seed, run),
        device=snakemake.params.device,
        threads=snakemake.params.threads,
        precision=snakemake.params.precision,
    ), init, share)
