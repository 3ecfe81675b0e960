# Stage: crossconv (cross convolutional network, Xue et al.). The Shapes KL table (Fig. 5) from
# the two networks' samples and three baselines measured by the same code, Table 1 (sparsity of
# z), samples and z statistics figures. The networks train through the generic train_model rule
# (train.smk) with pipeline/papers/crossconv/ (sizes in its spec.py).
include: "common/crossconv.smk"


rule crossconv_kl:
    input:
        unpack(crossconv_kl_inputs),
    output:
        json=CC_EVAL / "{seeddir}kl_{predictor}.json",
        motion=CC_EVAL / "{seeddir}motion_{predictor}.csv",
    wildcard_constraints:
        predictor="|".join(crossconv_spec.PREDICTORS),
    params:
        sizes={"eval": CROSSCONV["eval"]},
        seed=run_seed,
        flow={"method": config["preprocess"]["flow"], "dis_preset": config["preprocess"]["dis_preset"]},
    threads: 1
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "crossconv_kl" / "{seeddir}{predictor}.log",
    benchmark:
        BENCHMARKS / "crossconv_kl" / "{seeddir}{predictor}.tsv",
    script:
        "../scripts/crossconv_kl.py"


rule crossconv_kl_table:
    input:
        scores=expand(CC_EVAL / "{{seeddir}}kl_{predictor}.json", predictor=crossconv_spec.PREDICTORS),
        sources=CC_SOURCES,
    output:
        table=report(RESULTS / "tables" / "{seeddir}shapes_kl.csv", caption="../report/crossconv/shapes_kl.rst",
                     category="crossconv"),
        provenance=RESULTS / "tables" / "{seeddir}shapes_kl.provenance.json",
    params:
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_tables" / "{seeddir}shapes_kl.log",
    benchmark:
        BENCHMARKS / "crossconv_kl_table" / "{seeddir}shapes_kl.tsv",
    script:
        "../scripts/crossconv_kl_table.py"


rule crossconv_kl_differences:
    input:
        scores=expand(CC_EVAL / "{{seeddir}}kl_{predictor}.json", predictor=crossconv_spec.PREDICTORS),
        sources=CC_SOURCES,
    output:
        table=report(RESULTS / "tables" / "{seeddir}shapes_kl_differences.csv",
                     caption="../report/crossconv/shapes_kl_differences.rst", category="crossconv"),
        provenance=RESULTS / "tables" / "{seeddir}shapes_kl_differences.provenance.json",
    params:
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_tables" / "{seeddir}shapes_kl_differences.log",
    benchmark:
        BENCHMARKS / "crossconv_kl_differences" / "{seeddir}shapes_kl_differences.tsv",
    script:
        "../scripts/crossconv_kl_differences.py"


rule crossconv_latent:
    input:
        model=crossconv_model("{variant}", "{seeddir}", "{dataset}"),
        train=lambda w: crossconv_spec.pair_split(DATA, w.dataset, "train"),
    output:
        stats=RESULTS / "eval" / "crossconv" / "{dataset}" / "{seeddir}z_statistics_{variant}.csv",
        summary=RESULTS / "eval" / "crossconv" / "{dataset}" / "{seeddir}z_summary_{variant}.json",
    wildcard_constraints:
        variant="|".join(["ours", *crossconv_spec.ABLATION_VARIANTS]),
        dataset="|".join(crossconv_spec.DATASETS),
    params:
        sizes={"eval": CROSSCONV["eval"]},
        seed=run_seed,
    threads: 1
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "crossconv_latent" / "{seeddir}{dataset}_{variant}.log",
    benchmark:
        BENCHMARKS / "crossconv_latent" / "{seeddir}{dataset}_{variant}.tsv",
    script:
        "../scripts/crossconv_latent.py"


rule crossconv_ablation_table:
    input:
        stats=crossconv_ablation_summaries,
        sources=CC_SOURCES,
    output:
        table=report(RESULTS / "tables" / "{seeddir}{table}.csv", caption="../report/crossconv/ablation.rst",
                     category="crossconv"),
        provenance=RESULTS / "tables" / "{seeddir}{table}.provenance.json",
    wildcard_constraints:
        table="|".join(crossconv_spec.ABLATION_TABLES.values()),
    params:
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_tables" / "{seeddir}{table}.log",
    benchmark:
        BENCHMARKS / "crossconv_ablation_table" / "{seeddir}{table}.tsv",
    script:
        "../scripts/crossconv_ablation_table.py"


rule crossconv_sparsity_table:
    input:
        stats=crossconv_sparsity_summaries,
        sources=CC_SOURCES,
    output:
        table=report(RESULTS / "tables" / "{seeddir}latent_sparsity.csv",
                     caption="../report/crossconv/latent_sparsity.rst", category="crossconv"),
        provenance=RESULTS / "tables" / "{seeddir}latent_sparsity.provenance.json",
    params:
        config=seeded_config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_tables" / "{seeddir}latent_sparsity.log",
    benchmark:
        BENCHMARKS / "crossconv_sparsity_table" / "{seeddir}latent_sparsity.tsv",
    script:
        "../scripts/crossconv_sparsity_table.py"


rule crossconv_examples:
    input:
        model=crossconv_model("ours"),
        **CC_SPLITS,
    output:
        directory(CC_EVAL / "examples.zarr"),
    params:
        sizes={"eval": CROSSCONV["eval"]},
        seed=config["seed"],
    threads: 1
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "crossconv_examples" / "shapes.log",
    benchmark:
        BENCHMARKS / "crossconv_examples" / "shapes.tsv",
    script:
        "../scripts/crossconv_examples.py"


rule crossconv_samples_figure:
    input:
        CC_EVAL / "examples.zarr",
    output:
        report(RESULTS / "figures" / "shapes_samples.png", caption="../report/crossconv/samples.rst",
               category="crossconv"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_figures" / "samples.log",
    benchmark:
        BENCHMARKS / "crossconv_samples_figure" / "samples.tsv",
    script:
        "../scripts/crossconv_samples_figure.py"


rule crossconv_feature_maps_figure:
    input:
        CC_EVAL / "examples.zarr",
    output:
        report(RESULTS / "figures" / "shapes_feature_maps.png", caption="../report/crossconv/feature_maps.rst",
               category="crossconv"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_figures" / "feature_maps.log",
    benchmark:
        BENCHMARKS / "crossconv_feature_maps_figure" / "feature_maps.tsv",
    script:
        "../scripts/crossconv_feature_maps_figure.py"


rule crossconv_extrapolation_gif:
    input:
        CC_EVAL / "examples.zarr",
    output:
        report(RESULTS / "figures" / "shapes_extrapolation.gif", caption="../report/crossconv/extrapolation.rst",
               category="crossconv"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_figures" / "extrapolation.log",
    benchmark:
        BENCHMARKS / "crossconv_extrapolation_gif" / "extrapolation.tsv",
    script:
        "../scripts/crossconv_extrapolation_gif.py"


rule crossconv_z_figure:
    input:
        CC_EVAL / "z_statistics_ours.csv",
    output:
        report(RESULTS / "figures" / "shapes_z_statistics.png", caption="../report/crossconv/z_statistics.rst",
               category="crossconv"),
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_figures" / "z_statistics.log",
    benchmark:
        BENCHMARKS / "crossconv_z_figure" / "z_statistics.tsv",
    script:
        "../scripts/crossconv_z_figure.py"


rule crossconv_histograms_figure:
    input:
        [CC_EVAL / f"motion_{p}.csv" for p in ("truth", "ours", "ae", "flow")],
    output:
        report(RESULTS / "figures" / "shapes_motion_histograms.png",
               caption="../report/crossconv/motion_histograms.rst", category="crossconv"),
    params:
        names=[crossconv_spec.PREDICTORS[p] for p in ("truth", "ours", "ae", "flow")],
    resources:
        **job_resources("light"),
    log:
        LOGS / "crossconv_figures" / "motion_histograms.log",
    benchmark:
        BENCHMARKS / "crossconv_histograms_figure" / "motion_histograms.tsv",
    script:
        "../scripts/crossconv_histograms_figure.py"


rule crossconv_sprites_pairs:
    input:
        source=DATA / "sources" / "sprites.json",
    output:
        train=directory(crossconv_spec.pair_split(DATA, "sprites", "train")),
        test=directory(crossconv_spec.pair_split(DATA, "sprites", "test")),
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "crossconv_sprites_pairs" / "sprites.log",
    benchmark:
        BENCHMARKS / "crossconv_sprites_pairs" / "sprites.tsv",
    script:
        "../scripts/crossconv_sprites_pairs.py"


rule crossconv_analogy_table:
    input:
        model=crossconv_model("ours", "{seeddir}", "sprites"),
        source=DATA / "sources" / "sprites.json",
    output:
        table=report(RESULTS / "tables" / "{seeddir}sprites_analogy_mse.csv",
                     caption="../report/crossconv/analogy.rst", category="crossconv"),
        provenance=RESULTS / "tables" / "{seeddir}sprites_analogy_mse.provenance.json",
    params:
        config=seeded_config,
        seed=run_seed,
    threads: 1
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "crossconv_tables" / "{seeddir}sprites_analogy_mse.log",
    benchmark:
        BENCHMARKS / "crossconv_analogy_table" / "{seeddir}sprites_analogy_mse.tsv",
    script:
        "../scripts/crossconv_analogy_table.py"


rule crossconv_clip_pairs:
    input:
        index=DATA / "clips" / "{dataset}" / "crossconv" / "index.csv",
    output:
        train=directory(DATA / "pairs" / "{dataset}" / "crossconv" / "train.zarr"),
        test=directory(DATA / "pairs" / "{dataset}" / "crossconv" / "test.zarr"),
    wildcard_constraints:
        dataset="|".join(crossconv_spec.CLIP_PAIRS),
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "crossconv_clip_pairs" / "{dataset}.log",
    benchmark:
        BENCHMARKS / "crossconv_clip_pairs" / "{dataset}.tsv",
    script:
        "../scripts/crossconv_clip_pairs.py"
