from pathlib import Path

from pipeline.logs import logging_to
from pipeline.papers.vgan.data import real_frames
from pipeline.papers.vgan.figures import generations_figure, generations_gif

with logging_to(snakemake.log[0]):
    variants, n = snakemake.params.variants, int(snakemake.params.n)
    samples = {v: Path(snakemake.input[v]) for v in variants}
    real = real_frames(Path(snakemake.input.summary), snakemake.params.sizes["data"], n)
    generations_figure(samples, real, Path(snakemake.output.figure), n)
    generations_gif(samples, real, Path(snakemake.output.gif), min(n, 2))
    # each scene's models beside its real clips (inputs named <variant>_<scene>)
    for (scene, sizes), figure in zip(snakemake.params.scene_sizes.items(), snakemake.output.scene_figures, strict=True):
        samples = {v: Path(snakemake.input[f"{v}_{scene}"]) for v in variants}
        generations_figure(samples, real_frames(Path(snakemake.input.summary), sizes["data"], n), Path(figure), n,
                           scene=scene)
