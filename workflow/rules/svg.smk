# Stage: svg (Denton & Fergus 2018). Evaluation, tables and figures of the svg paper, and the data
# only it reads (Fig. 5/6 SM-MNIST sets, BAIR TFRecords -> shards). Its models train through the
# generic train_model rule (train.smk) with pipeline/papers/svg/ (sizes in its spec.py).
include: "common/svg.smk"


rule svg_smmnist_set:
    input:
        test_set=DATA / "clips" / "smmnist" / "svg" / "test.zarr",
    output:
        directory(DATA / "clips" / "smmnist" / "svg" / "{kind}.zarr"),
    wildcard_constraints:
        kind="|".join(svg_spec.SMMNIST_SETS),
    params:
        sizes=lambda w: {FIGURE_OF_SET[w.kind]: SVG[FIGURE_OF_SET[w.kind]]},
        seed=config["seed"],
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "svg_smmnist_set" / "{kind}.log",
    benchmark:
        BENCHMARKS / "svg_smmnist_set" / "{kind}.tsv",
    script:
        "../scripts/svg_smmnist_set.py"


rule svg_bair_shards:
    input:
        source=DATA / "sources" / "bair.json",
    output:
        directory(DATA / "clips" / "bair" / "svg"),
    params:
        sizes=SVG["bair_shards"],
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "svg_bair_shards" / "bair.log",
    benchmark:
        BENCHMARKS / "svg_bair_shards" / "bair.tsv",
    script:
        "../scripts/svg_bair_shards.py"


rule svg_evaluate:
    input:
        unpack(svg_eval_inputs),
    output:
        curves=SVG_EVAL / "{dataset}" / "{variant}" / "{seeddir}curves.csv",
        scores=directory(SVG_EVAL / "{dataset}" / "{variant}" / "{seeddir}scores.zarr"),
        examples=directory(SVG_EVAL / "{dataset}" / "{variant}" / "{seeddir}examples.zarr"),
    wildcard_constraints:
        dataset="|".join(svg_spec.DATASETS),
        variant="|".join(svg_spec.EVALUATED),
    params:
        sizes=lambda w: {w.dataset: {"eval": SVG[w.dataset]["eval"]}, "conventions": SVG["conventions"]},
        seed=run_seed,
        device=config["device"],
    resources:
        **job_resources("evaluate"),
        gpu=0 if config["device"] == "cpu" else 1,
    threads: 2
    log:
        LOGS / "svg_evaluate" / "{dataset}" / "{seeddir}{variant}.log",
    benchmark:
        BENCHMARKS / "svg_evaluate" / "{dataset}" / "{seeddir}{variant}.tsv",
    script:
        "../scripts/svg_evaluate.py"


rule svg_baseline:
    input:
        unpack(lambda w: svg_spec.data_inputs(w.dataset, DATA)),
    output:
        curves=SVG_EVAL / "{dataset}" / "{baseline}" / "{seeddir}curves.csv",
        scores=directory(SVG_EVAL / "{dataset}" / "{baseline}" / "{seeddir}scores.zarr"),
        examples=directory(SVG_EVAL / "{dataset}" / "{baseline}" / "{seeddir}examples.zarr"),
    wildcard_constraints:
        dataset="|".join(svg_spec.DATASETS),
        baseline="|".join(svg_spec.BASELINES),
    params:
        sizes=lambda w: {w.dataset: {k: SVG[w.dataset][k] for k in ("eval", "model")},
                         "conventions": SVG["conventions"]},
        seed=run_seed,
        device=config["device"],
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "svg_baseline" / "{dataset}" / "{seeddir}{baseline}.log",
    benchmark:
        BENCHMARKS / "svg_baseline" / "{dataset}" / "{seeddir}{baseline}.tsv",
    script:
        "../scripts/svg_evaluate.py"


rule svg_ordering:
    input:
        scores=lambda w: [SVG_EVAL / w.dataset / v / f"{w.seeddir}scores.zarr"
                          for v in (*svg_spec.EVALUATED, *svg_spec.BASELINES)],
        # SM-MNIST's bounces (the frames after each sequence's first wall hit)
        test_set=lambda w: [DATA / "clips" / "smmnist" / "svg" / "test.zarr"] if w.dataset == "smmnist" else [],
    output:
        report(RESULTS / "tables" / "{seeddir}{dataset}_ordering.csv", caption="../report/svg/ordering.rst",
               category="svg"),
    wildcard_constraints:
        dataset="|".join(svg_spec.ORDERING_DATASETS),
    params:
        models=[*svg_spec.EVALUATED, *svg_spec.BASELINES],
        config=seeded_config,
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "svg_ordering" / "{seeddir}{dataset}.log",
    benchmark:
        BENCHMARKS / "svg_ordering" / "{seeddir}{dataset}.tsv",
    script:
        "../scripts/svg_ordering.py"


rule svg_bounce_velocities:
    input:
        model=svg_model("smmnist", SVG_FIG5_MODEL),
        shared_start=DATA / "clips" / "smmnist" / "svg" / "sharedstart.zarr",
        test_set=svg_spec.data_inputs("smmnist", DATA)["test_set"],  # companions' digits (batch statistics)
    output:
        table=SVG_EVAL / "smmnist" / SVG_FIG5_MODEL / "velocities.csv",
        distance=SVG_EVAL / "smmnist" / SVG_FIG5_MODEL / "velocity_distance.csv",
    params:
        sizes={"fig5": SVG["fig5"], "smmnist": {"eval": SVG["smmnist"]["eval"]}, "conventions": SVG["conventions"]},
        seed=config["seed"],
        device=config["device"],
    threads: 2
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "svg_bounce_velocities" / "smmnist.log",
    benchmark:
        BENCHMARKS / "svg_bounce_velocities" / "smmnist.tsv",
    script:
        "../scripts/svg_bounce_velocities.py"


rule svg_prior_sigma:
    input:
        model=svg_model("smmnist", "lp"),
        synchronized=DATA / "clips" / "smmnist" / "svg" / "synchronized.zarr",
    output:
        sigma=SVG_EVAL / "smmnist" / "lp" / "prior_sigma.csv",
        collisions=SVG_EVAL / "smmnist" / "lp" / "collisions.csv",
        summary=SVG_EVAL / "smmnist" / "lp" / "sigma_collisions.csv",
    params:
        sizes={"smmnist": {"eval": SVG["smmnist"]["eval"]}},
        device=config["device"],
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "svg_prior_sigma" / "smmnist.log",
    benchmark:
        BENCHMARKS / "svg_prior_sigma" / "smmnist.tsv",
    script:
        "../scripts/svg_prior_sigma.py"


rule svg_table:
    input:
        unpack(svg_table_inputs),
    output:
        report(RESULTS / "tables" / "{seeddir}{table}.csv", caption="../report/svg/table.rst", category="svg"),
    wildcard_constraints:
        table="|".join(SVG_TABLE_DATASET),
    params:
        dataset=lambda w: SVG_TABLE_DATASET[w.table],
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "svg_table" / "{seeddir}{table}.log",
    benchmark:
        BENCHMARKS / "svg_table" / "{seeddir}{table}.tsv",
    script:
        "../scripts/svg_table.py"


rule svg_curve_figure:
    input:
        RESULTS / "tables" / "{table}.csv",
    output:
        report(RESULTS / "figures" / "{table}.png", caption="../report/svg/curves.rst", category="svg"),
    wildcard_constraints:
        table="|".join(SVG_TABLE_DATASET),
    params:
        dataset=lambda w: SVG_TABLE_DATASET[w.table],
    resources:
        **job_resources("light"),
    log:
        LOGS / "svg_curve_figure" / "{table}.log",
    benchmark:
        BENCHMARKS / "svg_curve_figure" / "{table}.tsv",
    script:
        "../scripts/svg_curve_figure.py"


rule svg_bounce_velocity_figure:
    input:
        SVG_EVAL / "smmnist" / SVG_FIG5_MODEL / "velocities.csv",
    output:
        report(RESULTS / "figures" / "smmnist_bounce_velocity.png", caption="../report/svg/bounce_velocity.rst",
               category="svg"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "svg_bounce_velocity_figure" / "smmnist.log",
    benchmark:
        BENCHMARKS / "svg_bounce_velocity_figure" / "smmnist.tsv",
    script:
        "../scripts/svg_bounce_velocity_figure.py"


rule svg_prior_sigma_figure:
    input:
        sigma=SVG_EVAL / "smmnist" / "lp" / "prior_sigma.csv",
        collisions=SVG_EVAL / "smmnist" / "lp" / "collisions.csv",
    output:
        report(RESULTS / "figures" / "smmnist_prior_sigma.png", caption="../report/svg/prior_sigma.rst",
               category="svg"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "svg_prior_sigma_figure" / "smmnist.log",
    benchmark:
        BENCHMARKS / "svg_prior_sigma_figure" / "smmnist.tsv",
    script:
        "../scripts/svg_prior_sigma_figure.py"


rule svg_gifs:
    input:
        SVG_EVAL / "{dataset}" / "{variant}" / "examples.zarr",
    output:
        [report(gif, caption="../report/svg/samples.rst", category="svg")
         for gif in svg_gifs("{dataset}", "{variant}")],
    wildcard_constraints:
        dataset="|".join(svg_spec.DATASETS),
        variant="|".join(svg_spec.EVALUATED),
    resources:
        **job_resources("light"),
    log:
        LOGS / "svg_gifs" / "{dataset}" / "{variant}.log",
    benchmark:
        BENCHMARKS / "svg_gifs" / "{dataset}" / "{variant}.tsv",
    script:
        "../scripts/svg_gifs.py"


rule svg_rollout:
    input:
        unpack(lambda w: {"model": svg_model(w.dataset, "lp"), **svg_spec.data_inputs(w.dataset, DATA)}),
    output:
        directory(SVG_EVAL / "{dataset}" / "lp" / "rollout.zarr"),
    wildcard_constraints:
        dataset="|".join(svg_spec.ROLLOUT_DATASETS),
    params:
        sizes={"rollout": SVG["rollout"], "conventions": SVG["conventions"]},
        seed=config["seed"],
        device=config["device"],
    resources:
        **job_resources("evaluate"),
        gpu=0 if config["device"] == "cpu" else 1,
    threads: 2
    log:
        LOGS / "svg_rollout" / "{dataset}.log",
    benchmark:
        BENCHMARKS / "svg_rollout" / "{dataset}.tsv",
    script:
        "../scripts/svg_rollout.py"


rule svg_rollout_figure:
    input:
        SVG_EVAL / "{dataset}" / "lp" / "rollout.zarr",
    output:
        png=report(RESULTS / "figures" / "{dataset}_rollout.png", caption="../report/svg/rollout.rst", category="svg"),
        gif=report(RESULTS / "figures" / "svg" / "{dataset}_rollout.gif", caption="../report/svg/rollout.rst",
                   category="svg"),
    wildcard_constraints:
        dataset="|".join(svg_spec.ROLLOUT_DATASETS),
    params:
        every=SVG["rollout"]["every"],
    resources:
        **job_resources("light"),
    log:
        LOGS / "svg_rollout_figure" / "{dataset}.log",
    benchmark:
        BENCHMARKS / "svg_rollout_figure" / "{dataset}.tsv",
    script:
        "../scripts/svg_rollout_figure.py"
