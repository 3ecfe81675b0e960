# Stage: trajectories (walker). Dense tracks of every first-frame pixel over the stabilized second, as DCT.


rule trajectories_walker:
    input:
        DATA / "stabilized" / "{dataset}" / "walker" / "shard-{shard}.zarr",
    output:
        directory(DATA / "trajectories" / "{dataset}" / "walker" / "shard-{shard}.zarr"),
    params:
        method=config["preprocess"]["flow"],
        dis_preset=config["preprocess"]["dis_preset"],
        sizes=SIZES["trajectories"],
    priority: PRIORITY["shard"]
    resources:
        **job_resources("shard"),
    log:
        LOGS / "trajectories" / "{dataset}" / "{shard}.log",
    benchmark:
        BENCHMARKS / "trajectories_walker" / "{dataset}" / "{shard}.tsv",
    script:
        "../scripts/trajectories_walker.py"


rule trajectories_summary:
    input:
        stage_shards("trajectories", protocol="walker"),
    output:
        DATA / "trajectories" / "{dataset}" / "walker" / "summary.csv",
    priority: PRIORITY["shard"]  # a gather step training waits for (PRIORITY in common.smk)
    resources:
        **job_resources("light"),
    log:
        LOGS / "trajectories" / "{dataset}" / "summary.log",
    benchmark:
        BENCHMARKS / "trajectories_summary" / "{dataset}" / "summary.tsv",
    script:
        "../scripts/summarize_shards.py"


rule trajectories_figure:
    input:
        stage_shards("trajectories", protocol="walker"),  # the figure picks a clip worth showing among them
    output:
        report(
            RESULTS / "figures" / "preprocessing" / "{dataset}_trajectories.png",
            caption="../report/preprocessing/trajectories.rst",
            category="preprocessing",
        ),
    resources:
        **job_resources("light"),
    log:
        LOGS / "figures" / "{dataset}_trajectories.log",
    benchmark:
        BENCHMARKS / "trajectories_figure" / "{dataset}_trajectories.tsv",
    script:
        "../scripts/trajectories_figure.py"
