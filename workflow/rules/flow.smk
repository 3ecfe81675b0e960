# Stage: optical flow. staticflow's targets: flow averaged over the next three frames, and its label grid.


rule flow_staticflow:
    input:
        DATA / "clips" / "{dataset}" / "staticflow" / "shard-{shard}.zarr",
    output:
        directory(DATA / "flow" / "{dataset}" / "staticflow" / "shard-{shard}.zarr"),
    params:
        method=config["preprocess"]["flow"],
        dis_preset=config["preprocess"]["dis_preset"],
        size=SIZES["clips"]["staticflow"]["size"],
    priority: PRIORITY["shard"]
    resources:
        **job_resources("shard"),
    log:
        LOGS / "flow" / "{dataset}" / "{shard}.log",
    benchmark:
        BENCHMARKS / "flow_staticflow" / "{dataset}" / "{shard}.tsv",
    script:
        "../scripts/flow_staticflow.py"


rule flow_summary:
    input:
        stage_shards("flow", protocol="staticflow"),
    output:
        DATA / "flow" / "{dataset}" / "staticflow" / "summary.csv",
    priority: PRIORITY["shard"]  # a gather step training waits for (PRIORITY in common.smk)
    resources:
        **job_resources("light"),
    log:
        LOGS / "flow" / "{dataset}" / "summary.log",
    benchmark:
        BENCHMARKS / "flow_summary" / "{dataset}" / "summary.tsv",
    script:
        "../scripts/summarize_shards.py"


rule flow_figure:
    input:
        stage_shards("flow", protocol="staticflow"),  # the figure picks a clip worth showing among them
    output:
        report(
            RESULTS / "figures" / "preprocessing" / "{dataset}_flow.png",
            caption="../report/preprocessing/flow.rst",
            category="preprocessing",
        ),
    resources:
        **job_resources("light"),
    log:
        LOGS / "figures" / "{dataset}_flow.log",
    benchmark:
        BENCHMARKS / "flow_figure" / "{dataset}_flow.tsv",
    script:
        "../scripts/flow_figure.py"
