# Stage: staticflow (optical flow from a static frame). Training-set statistics (hold-out, mean frame,
# flow codebook), scores of the two nets and two constant predictors, Tables 3-4, Figs. 6-11 and the
# generated video. The nets train through the generic train_model rule (train.smk) with
# pipeline/papers/staticflow/ (sizes in its spec.py).
include: "common/staticflow.smk"


rule staticflow_prepare:
    input:
        staticflow_spec.flow_summary(DATA, "{dataset}"),
    output:
        **staticflow_spec.prepared_files(DATA, "{dataset}"),
    params:
        sizes={"data": STATICFLOW["data"], "model": {"n_clusters": STATICFLOW["model"]["n_clusters"]}},
        seed=config["seed"],
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "staticflow_prepare" / "{dataset}.log",
    benchmark:
        BENCHMARKS / "staticflow_prepare" / "{dataset}.tsv",
    script:
        "../scripts/staticflow_prepare.py"


rule staticflow_evaluate:
    input:
        unpack(staticflow_eval_inputs),
    output:
        SF_EVAL / "{seeddir}{predictor}.json",
    wildcard_constraints:
        predictor="|".join(STATICFLOW_PREDICTORS),
    params:
        sizes={"eval": {"batch_size": STATICFLOW["eval"]["batch_size"]}},
        device=config["device"],
    resources:
        **job_resources("evaluate"),
        gpu=0 if config["device"] == "cpu" else 1,
    log:
        LOGS / "staticflow_evaluate" / "{seeddir}{predictor}.log",
    benchmark:
        BENCHMARKS / "staticflow_evaluate" / "{seeddir}{predictor}.tsv",
    script:
        "../scripts/staticflow_evaluate.py"


rule staticflow_examples:
    input:
        model=staticflow_model("{arch}"),
        **staticflow_data_inputs(),
    output:
        directory(SF_EVAL / "{arch}_examples.zarr"),
    wildcard_constraints:
        arch="|".join(STATICFLOW_NETS),
    params:
        sizes={"eval": {k: STATICFLOW["eval"][k] for k in ("batch_size", "examples")}},
        device=config["device"],
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "staticflow_examples" / "{arch}.log",
    benchmark:
        BENCHMARKS / "staticflow_examples" / "{arch}.tsv",
    script:
        "../scripts/staticflow_examples.py"


rule staticflow_tables:
    input:
        scores=expand(SF_EVAL / "{{seeddir}}{predictor}.json", predictor=STATICFLOW_PREDICTORS),
        sources=[DATA / "sources" / f"{SF_DATASET}.json"],
    output:
        validation=report(RESULTS / "tables" / "{seeddir}hmdb51_flow_validation.csv",
                          caption="../report/staticflow/validation.rst", category="staticflow"),
        test=report(RESULTS / "tables" / "{seeddir}hmdb51_flow_test.csv", caption="../report/staticflow/test.rst",
                    category="staticflow"),
        provenance=[RESULTS / "tables" / f"{{seeddir}}hmdb51_flow_{s}.provenance.json" for s in ("validation", "test")],
    params:
        predictors=list(STATICFLOW_PREDICTORS),
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "staticflow_tables" / "{seeddir}hmdb51.log",
    benchmark:
        BENCHMARKS / "staticflow_tables" / "{seeddir}hmdb51.tsv",
    script:
        "../scripts/staticflow_tables.py"


rule staticflow_training_figure:
    input:
        [staticflow_model(a) for a in STATICFLOW_NETS],
    output:
        report(SF_FIGURES / "hmdb51_flow_training.png", caption="../report/staticflow/training.rst",
               category="staticflow"),
    params:
        archs=list(STATICFLOW_NETS),
    resources:
        **job_resources("light"),
    log:
        LOGS / "staticflow_figures" / "training.log",
    benchmark:
        BENCHMARKS / "staticflow_training_figure" / "training.tsv",
    script:
        "../scripts/staticflow_training_figure.py"


rule staticflow_confusion_figure:
    input:
        [SF_EVAL / f"{a}.json" for a in STATICFLOW_NETS],
    output:
        report(SF_FIGURES / "hmdb51_flow_confusion.png", caption="../report/staticflow/confusion.rst",
               category="staticflow"),
    params:
        names=list(STATICFLOW_NETS),
    resources:
        **job_resources("light"),
    log:
        LOGS / "staticflow_figures" / "confusion.log",
    benchmark:
        BENCHMARKS / "staticflow_confusion_figure" / "confusion.tsv",
    script:
        "../scripts/staticflow_confusion_figure.py"


rule staticflow_pixel_accuracy_figure:
    input:
        [SF_EVAL / f"{p}.json" for p in (*STATICFLOW_NETS, "nomotion")],
    output:
        report(SF_FIGURES / "hmdb51_flow_pixel_accuracy.png", caption="../report/staticflow/pixel_accuracy.rst",
               category="staticflow"),
    params:
        names=[*STATICFLOW_NETS, "nomotion"],
    resources:
        **job_resources("light"),
    log:
        LOGS / "staticflow_figures" / "pixel_accuracy.log",
    benchmark:
        BENCHMARKS / "staticflow_pixel_accuracy_figure" / "pixel_accuracy.tsv",
    script:
        "../scripts/staticflow_pixel_accuracy_figure.py"


rule staticflow_examples_figure:
    input:
        [SF_EVAL / f"{a}_examples.zarr" for a in STATICFLOW_NETS],
    output:
        report(SF_FIGURES / "hmdb51_flow_examples.png", caption="../report/staticflow/examples.rst",
               category="staticflow"),
    params:
        names=list(STATICFLOW_NETS),
    resources:
        **job_resources("light"),
    log:
        LOGS / "staticflow_figures" / "examples.log",
    benchmark:
        BENCHMARKS / "staticflow_examples_figure" / "examples.tsv",
    script:
        "../scripts/staticflow_examples_figure.py"


rule staticflow_video:
    input:
        model=staticflow_model(STATICFLOW["eval"]["video"]["arch"]),
        **staticflow_data_inputs(),
    output:
        video=report(SF_FIGURES / "hmdb51_flow_video.mp4", caption="../report/staticflow/video.rst",
                     category="staticflow"),
        strip=report(SF_FIGURES / "hmdb51_flow_video.png", caption="../report/staticflow/video.rst",
                     category="staticflow"),
    params:
        sizes={"eval": {"video": STATICFLOW["eval"]["video"]}},
    resources:
        **job_resources("light"),
    log:
        LOGS / "staticflow_video" / "hmdb51.log",
    benchmark:
        BENCHMARKS / "staticflow_video" / "hmdb51.tsv",
    script:
        "../scripts/staticflow_video.py"
