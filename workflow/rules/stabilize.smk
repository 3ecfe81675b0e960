# Stage: stabilize. Each clip warped to its first frame: robust (background KLT + MAGSAC++, shot
# cuts, implausible warps refused; the default) or paper (SIFT/ORB + RANSAC, failing clips dropped).


rule stabilize_shard:
    input:
        DATA / "clips" / "{dataset}" / "{protocol}" / "shard-{shard}.zarr",
    output:
        directory(DATA / "stabilized" / "{dataset}" / "{protocol}" / "shard-{shard}.zarr"),
    wildcard_constraints:
        protocol="walker|vgan",
    params:
        mode=config["preprocess"]["stabilization"],
        keypoints=config["preprocess"]["keypoints"],
    priority: PRIORITY["shard"]
    resources:
        **job_resources("shard"),
    log:
        LOGS / "stabilize" / "{dataset}" / "{protocol}" / "{shard}.log",
    benchmark:
        BENCHMARKS / "stabilize_shard" / "{dataset}" / "{protocol}" / "{shard}.tsv",
    script:
        "../scripts/stabilize_shard.py"


rule stabilize_summary:
    input:
        stage_shards("stabilized"),
    output:
        DATA / "stabilized" / "{dataset}" / "{protocol}" / "summary.csv",
    wildcard_constraints:
        protocol="walker|vgan",
    priority: PRIORITY["shard"]  # a gather step training waits for (PRIORITY in common.smk)
    resources:
        **job_resources("light"),
    log:
        LOGS / "stabilize" / "{dataset}" / "{protocol}" / "summary.log",
    benchmark:
        BENCHMARKS / "stabilize_summary" / "{dataset}" / "{protocol}" / "summary.tsv",
    script:
        "../scripts/stabilize_summary.py"


rule stabilize_figure:
    input:
        clips=clip_shards,  # the figure picks a clip worth showing among them
        stabilized=stage_shards("stabilized"),
    output:
        report(
            RESULTS / "figures" / "preprocessing" / "{dataset}_{protocol}_stabilization.png",
            caption="../report/preprocessing/stabilization.rst",
            category="preprocessing",
        ),
    resources:
        **job_resources("light"),
    log:
        LOGS / "figures" / "{dataset}_{protocol}_stabilization.log",
    benchmark:
        BENCHMARKS / "stabilize_figure" / "{dataset}_{protocol}_stabilization.tsv",
    script:
        "../scripts/stabilize_figure.py"
