# Stage: walker (Walker et al. 2016). Training-set statistics, evaluation (Parzen NLL, min-Euclidean,
# clustered samples, latent interpolation), Table 1 and Figs. 3-6. The three models (cvae, regressor, flownet) train through
# the generic train_model rule (train.smk) with pipeline/papers/walker/ (sizes in its spec.py).
include: "common/walker.smk"


rule walker_prepare:
    input:
        walker_spec.trajectory_summary(DATA, "{dataset}"),
    output:
        **walker_spec.prepared_files(DATA, "{dataset}"),
    params:
        sizes=walker_spec.prepare_sizes(WALKER),  # only what it reads: other sizes never rerun it
        seed=config["seed"],
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "walker_prepare" / "{dataset}.log",
    benchmark:
        BENCHMARKS / "walker_prepare" / "{dataset}.tsv",
    script:
        "../scripts/walker_prepare.py"


rule walker_evaluate:
    input:
        unpack(walker_eval_inputs),
    output:
        WALKER_EVAL / "{seeddir}{variant}.json",
    wildcard_constraints:
        variant="|".join(WALKER_PREDICTORS),
    params:
        sizes={k: WALKER[k] for k in ("eval", "model")},
        seed=run_seed,
        device=config["device"],
    resources:
        **job_resources("evaluate"),
        gpu=0 if config["device"] == "cpu" else 1,
    threads: 2
    log:
        LOGS / "walker_evaluate" / "{seeddir}{variant}.log",
    benchmark:
        BENCHMARKS / "walker_evaluate" / "{seeddir}{variant}.tsv",
    script:
        "../scripts/walker_evaluate.py"


rule walker_examples:
    input:
        model=walker_model("cvae"),
        mean_image=walker_spec.prepared_files(DATA, WALKER_TRAIN)["mean_image"],
        test_summary=walker_spec.trajectory_summary(DATA, WALKER_TEST),
    output:
        directory(WALKER_EVAL / "examples.zarr"),
    params:
        sizes={"examples": WALKER["examples"]},
        seed=config["seed"],
        device=config["device"],
    threads: 2
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "walker_examples" / "cvae.log",
    benchmark:
        BENCHMARKS / "walker_examples" / "cvae.tsv",
    script:
        "../scripts/walker_examples.py"


rule walker_table:
    input:
        scores=expand(WALKER_EVAL / "{{seeddir}}{variant}.json", variant=WALKER_PREDICTORS),
        sources=[DATA / "sources" / f"{d}.json" for d in (WALKER_TRAIN, WALKER_TEST)],
        # Not read: asking for the headline table (`snakemake results/tables/thumos_nll.csv`) also
        # draws its curve, from the same saved scores; the figure alone still reruns only its rule.
        # (The main seed's only: further seeds' tables have no figures.)
        figure=lambda w: [] if w.seeddir else [RESULTS / "figures" / "thumos_min_euclidean.png"],
    output:
        table=report(RESULTS / "tables" / "{seeddir}thumos_nll.csv", caption="../report/walker/thumos_nll.rst",
                     category="walker"),
        provenance=RESULTS / "tables" / "{seeddir}thumos_nll.provenance.json",
    params:
        variants=WALKER_PREDICTORS,
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "walker_table" / "{seeddir}thumos_nll.log",
    benchmark:
        BENCHMARKS / "walker_table" / "{seeddir}thumos_nll.tsv",
    script:
        "../scripts/walker_table.py"


rule walker_min_euclidean_figure:
    input:
        expand(WALKER_EVAL / "{variant}.json", variant=WALKER_PREDICTORS),
    output:
        report(RESULTS / "figures" / "thumos_min_euclidean.png", caption="../report/walker/min_euclidean.rst",
               category="walker"),
    params:
        variants=WALKER_PREDICTORS,
    resources:
        **job_resources("light"),
    log:
        LOGS / "walker_figures" / "min_euclidean.log",
    benchmark:
        BENCHMARKS / "walker_min_euclidean_figure" / "min_euclidean.tsv",
    script:
        "../scripts/walker_min_euclidean_figure.py"


rule walker_samples_figure:
    input:
        WALKER_EVAL / "examples.zarr",
    output:
        report(RESULTS / "figures" / "thumos_trajectory_samples.png", caption="../report/walker/samples.rst",
               category="walker"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "walker_figures" / "samples.log",
    benchmark:
        BENCHMARKS / "walker_samples_figure" / "samples.tsv",
    script:
        "../scripts/walker_samples_figure.py"


rule walker_interpolation_figure:
    input:
        WALKER_EVAL / "examples.zarr",
    output:
        report(RESULTS / "figures" / "thumos_latent_interpolation.png", caption="../report/walker/interpolation.rst",
               category="walker"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "walker_figures" / "interpolation.log",
    benchmark:
        BENCHMARKS / "walker_interpolation_figure" / "interpolation.tsv",
    script:
        "../scripts/walker_interpolation_figure.py"


rule walker_training_figure:
    input:
        [walker_model(v) for v in WALKER_VARIANTS],
    output:
        report(RESULTS / "figures" / "walker_training.png", caption="../report/walker/training.rst", category="walker"),
    params:
        variants=WALKER_VARIANTS,
    resources:
        **job_resources("light"),
    log:
        LOGS / "walker_figures" / "training.log",
    benchmark:
        BENCHMARKS / "walker_training_figure" / "training.tsv",
    script:
        "../scripts/walker_training_figure.py"
