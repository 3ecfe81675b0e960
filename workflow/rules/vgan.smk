# Stage: vgan (generating videos with scene dynamics). Samples of the three models of Table 1, the
# automatic judge (a real-vs-generated classifier standing in for the paper's human raters), its
# preference table and clip statistics, and the figures. The models train through the generic
# train_model rule (train.smk) with pipeline/papers/vgan/ (sizes in its spec.py).
include: "common/vgan.smk"


rule vgan_samples:
    input:
        model=vgan_model("{variant}", "{seeddir}"),
    output:
        directory(vgan_spec.samples_path(VGAN_EVAL, "{variant}", "{seeddir}")),
    wildcard_constraints:
        variant="|".join(VGAN_MODEL_NAMES),
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
        unpack(vgan_feature_net),
        unpack(vgan_judge_inputs),
        summary=VGAN_SUMMARY,
    output:
        VGAN_EVAL / "{seeddir}judge{scene}.json",
    wildcard_constraints:
        scene=f"(-{vgan_spec.SCENE_NAME})?",  # judge.json: every video; judge-<scene>.json: one scene's models
    params:
        sizes=lambda w: vgan_spec.judge_sizes(VGAN, w.scene.lstrip("-")),
        variants=list(VGAN_VARIANTS),
        seed=run_seed,
    priority: PRIORITY["train"]
    resources:
        **job_resources("train"),
    log:
        LOGS / "vgan_judge" / f"{{seeddir}}{VGAN_DATASET}{{scene}}.log",
    benchmark:
        BENCHMARKS / "vgan_judge" / f"{{seeddir}}{VGAN_DATASET}{{scene}}.tsv",
    script:
        "../scripts/vgan_judge.py"


rule vgan_tables:
    input:
        judge=VGAN_EVAL / "{seeddir}judge.json",
        scene_judges=lambda w: list(vgan_scene_judges(w.seeddir).values()),
        sources=[DATA / "sources" / f"{VGAN_DATASET}.json"],
    output:
        preference=report(RESULTS / "tables" / "{seeddir}vgan_preference.csv", caption="../report/vgan/preference.rst",
                          category="vgan"),
        statistics=report(RESULTS / "tables" / "{seeddir}vgan_statistics.csv", caption="../report/vgan/statistics.rst",
                          category="vgan"),
        provenance=[RESULTS / "tables" / f"{{seeddir}}vgan_{t}.provenance.json" for t in ("preference", "statistics")],
    params:
        config=seeded_config,
        scenes=VGAN_SCENES,
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
        **vgan_scene_samples(),
        summary=VGAN_SUMMARY,
    output:
        figure=report(RESULTS / "figures" / "vgan_generations.png", caption="../report/vgan/generations.rst",
                      category="vgan"),
        gif=report(RESULTS / "figures" / "vgan_generations.gif", caption="../report/vgan/generations_gif.rst",
                   category="vgan"),
        # one figure per scene of datasets.flickr.scenes: its own models and real clips
        scene_figures=[report(RESULTS / "figures" / f"vgan_generations_{s}.png", caption="../report/vgan/generations.rst",
                              category="vgan") for s in VGAN_SCENES],
    params:
        sizes={"data": VGAN["data"]},
        scene_sizes={s: {"data": vgan_spec.data_sizes(VGAN, s)} for s in VGAN_SCENES},
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
        vgan_spec.samples_path(VGAN_EVAL, "twostream"),
    output:
        figure=report(RESULTS / "figures" / "vgan_streams.png", caption="../report/vgan/streams.rst", category="vgan"),
        gif=report(RESULTS / "figures" / "vgan_streams.gif", caption="../report/vgan/streams_gif.rst", category="vgan"),
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


rule vgan_futures:
    input:
        model=vgan_model(vgan_spec.FUTURE, "{seeddir}"),
        summary=VGAN_SUMMARY,
    output:
        directory(vgan_spec.samples_path(VGAN_EVAL, vgan_spec.FUTURE, "{seeddir}")),
    params:
        sizes={"data": VGAN["data"], "eval": {"batch_size": VGAN["eval"]["batch_size"]}},
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "vgan_futures" / f"{{seeddir}}{VGAN_DATASET}.log",
    benchmark:
        BENCHMARKS / "vgan_futures" / f"{{seeddir}}{VGAN_DATASET}.tsv",
    script:
        "../scripts/vgan_futures.py"


rule vgan_futures_figure:
    input:
        vgan_spec.samples_path(VGAN_EVAL, vgan_spec.FUTURE),
    output:
        figure=report(RESULTS / "figures" / "vgan_futures.png", caption="../report/vgan/futures.rst", category="vgan"),
        gif=report(RESULTS / "figures" / "vgan_futures.gif", caption="../report/vgan/futures_gif.rst", category="vgan"),
    params:
        n=VGAN["eval"]["figure_samples"],
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_figures" / "futures.log",
    benchmark:
        BENCHMARKS / "vgan_futures_figure" / "futures.tsv",
    script:
        "../scripts/vgan_futures_figure.py"


rule vgan_motion:
    input:
        **vgan_samples(seeddir="{seeddir}"),
        future=vgan_spec.samples_path(VGAN_EVAL, vgan_spec.FUTURE, "{seeddir}"),
        summary=VGAN_SUMMARY,
        sources=[DATA / "sources" / f"{VGAN_DATASET}.json"],
    output:
        table=report(RESULTS / "tables" / "{seeddir}vgan_flow_magnitudes.csv",
                     caption="../report/vgan/flow_magnitudes.rst", category="vgan"),
        provenance=RESULTS / "tables" / "{seeddir}vgan_flow_magnitudes.provenance.json",
    params:
        sizes={"data": VGAN["data"]},
        variants=[*VGAN_VARIANTS, vgan_spec.FUTURE],
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_motion" / f"{{seeddir}}{VGAN_DATASET}.log",
    benchmark:
        BENCHMARKS / "vgan_motion" / f"{{seeddir}}{VGAN_DATASET}.tsv",
    script:
        "../scripts/vgan_motion.py"


rule vgan_flow_histogram_figure:
    input:
        RESULTS / "tables" / "vgan_flow_magnitudes.csv",
    output:
        report(RESULTS / "figures" / "vgan_flow_histograms.png", caption="../report/vgan/flow_histograms.rst",
               category="vgan"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_figures" / "flow_histograms.log",
    benchmark:
        BENCHMARKS / "vgan_flow_histogram_figure" / "flow_histograms.tsv",
    script:
        "../scripts/vgan_flow_histogram_figure.py"


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


# Representation learning (Sec. 3.3, Fig. 4): D's trunk as an action classifier on the action clips,
# from random initialisation or from the two-stream GAN's D, on shares of the labelled videos.
rule vgan_action_train:
    input:
        unpack(vgan_action_train_inputs),
    output:
        VGAN_ACTION_MODELS / "{classifier}" / "{seeddir}model.pt",
    wildcard_constraints:
        classifier="|".join(VGAN_CLASSIFIERS),
    params:
        sizes=vgan_spec.action_sizes(VGAN),
        seed=run_seed,
        device=config["device"],
        precision=config["precision"],
        threads=VGAN_ACTION_THREADS,
    priority: PRIORITY["train"]
    resources:
        **job_resources("train"),
        gpu=0 if config["device"] == "cpu" else 1,
    threads: VGAN_ACTION_THREADS + int(VGAN["action"]["workers"])
    log:
        LOGS / "vgan_action_train" / "{seeddir}{classifier}.log",
    benchmark:
        BENCHMARKS / "vgan_action_train" / "{seeddir}{classifier}.tsv",
    script:
        "../scripts/vgan_action_train.py"


rule vgan_action_evaluate:
    input:
        classifiers=[vgan_classifier(c, "{seeddir}") for c in VGAN_CLASSIFIERS],
        discriminator=vgan_model("twostream", "{seeddir}"),
        summary=VGAN_ACTION_SUMMARY,
    output:
        VGAN_EVAL / f"{{seeddir}}{VGAN_ACTION}_actions.json",
    params:
        sizes=vgan_spec.action_sizes(VGAN),
        names=VGAN_CLASSIFIERS,
        seed=run_seed,
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "vgan_action_evaluate" / f"{{seeddir}}{VGAN_ACTION}.log",
    benchmark:
        BENCHMARKS / "vgan_action_evaluate" / f"{{seeddir}}{VGAN_ACTION}.tsv",
    script:
        "../scripts/vgan_action_evaluate.py"


rule vgan_action_tables:
    input:
        evaluation=VGAN_EVAL / f"{{seeddir}}{VGAN_ACTION}_actions.json",
        sources=[DATA / "sources" / f"{d}.json" for d in (VGAN_ACTION, VGAN_DATASET)],
    output:
        accuracy=report(RESULTS / "tables" / f"{{seeddir}}{VGAN_ACTION}_action_accuracy.csv",
                        caption="../report/vgan/action_accuracy.rst", category="vgan"),
        data=report(RESULTS / "tables" / f"{{seeddir}}{VGAN_ACTION}_action_data.csv",
                    caption="../report/vgan/action_data.rst", category="vgan"),
        provenance=[RESULTS / "tables" / f"{{seeddir}}{VGAN_ACTION}_action_{t}.provenance.json"
                    for t in ("accuracy", "data")],
    params:
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_action_tables" / f"{{seeddir}}{VGAN_ACTION}.log",
    benchmark:
        BENCHMARKS / "vgan_action_tables" / f"{{seeddir}}{VGAN_ACTION}.tsv",
    script:
        "../scripts/vgan_action_tables.py"


rule vgan_action_figure:
    input:
        RESULTS / "tables" / f"{VGAN_ACTION}_action_data.csv",
        RESULTS / "tables" / f"{VGAN_ACTION}_action_accuracy.csv",
    output:
        report(RESULTS / "figures" / "vgan_action_data.png", caption="../report/vgan/action_data_figure.rst",
               category="vgan"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "vgan_figures" / "action_data.log",
    benchmark:
        BENCHMARKS / "vgan_action_figure" / "action_data.tsv",
    script:
        "../scripts/vgan_action_figure.py"
