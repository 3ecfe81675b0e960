# Stage: vgan (generating videos with scene dynamics). Samples of the three models of Table 1, the
# automatic judge (a real-vs-generated classifier standing in for the paper's human raters), its
# preference table and clip statistics, and the figures. The models train through the generic
# train_model rule (train.smk) with pipeline/papers/vgan/ (sizes in its spec.py).
include: "common/vgan.smk"


rule vgan_samples:
    input:
        model=vgan_model("{variant}", "{seeddir}"),
    output:
        directory(VGAN_EVAL / "{seeddir}{variant}_samples.zarr"),
    wildcard_constraints:
        variant="|".join(VGAN_VARIANTS),
    params:
        sizes={"eval": {k: VGAN["eval"][k] for k in ("samples", "judge_samples", "batch_size")}},
        seed=run_seed,
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "vgan_samples" / "{seeddir}{variant}.log",
    benchmark:
        BENCHMARKS / "vgan_samples" / "{seeddir}{variant}.tsv",
    script:
        "../scripts/vgan_samples.py"


rule vgan_judge:
    input:
        **vgan_samples(seeddir="{seeddir}"),
        summary=VGAN_SUMMARY,
    output:
        VGAN_EVAL / "{seeddir}judge.json",
    params:
        sizes={"data": VGAN["data"], "eval": VGAN["eval"]},
        variants=list(VGAN_VARIANTS),
        seed=run_seed,
    resources:
        **job_resources("train"),
    log:
        LOGS / "vgan_judge" / f"{{seeddir}}{VGAN_DATASET}.log",
    benchmark:
        BENCHMARKS / "vgan_judge" / f"{{seeddir}}{VGAN_DATASET}.tsv",
    script:
        "../scripts/vgan_judge.py"


rule vgan_tables:
    input:
        judge=VGAN_EVAL / "{seeddir}judge.json",
        sources=[DATA / "sources" / f"{VGAN_DATASET}.json"],
    output:
        preference=report(RESULTS / "tables" / "{seeddir}vgan_preference.csv", caption="../report/vgan/preference.rst",
                          category="vgan"),
        statistics=report(RESULTS / "tables" / "{seeddir}vgan_statistics.csv", caption="../report/vgan/statistics.rst",
                          category="vgan"),
        provenance=[RESULTS / "tables" / f"{{seeddir}}vgan_{t}.provenance.json" for t in ("preference", "statistics")],
    params:
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_tables" / f"{{seeddir}}{VGAN_DATASET}.log",
    benchmark:
        BENCHMARKS / "vgan_tables" / f"{{seeddir}}{VGAN_DATASET}.tsv",
    script:
        "../scripts/vgan_tables.py"


rule vgan_generations_figure:
    input:
        **vgan_samples(),
        summary=VGAN_SUMMARY,
    output:
        report(RESULTS / "figures" / "vgan_generations.png", caption="../report/vgan/generations.rst",
               category="vgan"),
    params:
        sizes={"data": VGAN["data"]},
        n=VGAN["eval"]["figure_samples"],
        variants=list(VGAN_VARIANTS),
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_figures" / "generations.log",
    benchmark:
        BENCHMARKS / "vgan_generations_figure" / "generations.tsv",
    script:
        "../scripts/vgan_generations_figure.py"


rule vgan_streams_figure:
    input:
        VGAN_EVAL / "twostream_samples.zarr",
    output:
        report(RESULTS / "figures" / "vgan_streams.png", caption="../report/vgan/streams.rst", category="vgan"),
    params:
        n=VGAN["eval"]["figure_samples"],
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_figures" / "streams.log",
    benchmark:
        BENCHMARKS / "vgan_streams_figure" / "streams.tsv",
    script:
        "../scripts/vgan_streams_figure.py"


rule vgan_training_figure:
    input:
        [vgan_model(v) for v in VGAN_VARIANTS],
    output:
        report(RESULTS / "figures" / "vgan_training.png", caption="../report/vgan/training.rst", category="vgan"),
    params:
        variants=list(VGAN_VARIANTS),
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_figures" / "training.log",
    benchmark:
        BENCHMARKS / "vgan_training_figure" / "training.tsv",
    script:
        "../scripts/vgan_training_figure.py"
