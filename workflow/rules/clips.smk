# Stage: clips. Cut each dataset's videos into clips per paper protocol, one job per shard.


rule clips_cut:
    input:
        manifest=DATA / "manifests" / "{dataset}.csv",
        source=DATA / "sources" / "{dataset}.json",
    output:
        directory(DATA / "clips" / "{dataset}" / "{protocol}" / "shard-{shard}.zarr"),
    params:
        sizes=lambda w: SIZES["clips"][w.protocol],
    priority: PRIORITY["shard"]
    resources:
        **job_resources("shard"),
    log:
        LOGS / "clips_cut" / "{dataset}" / "{protocol}" / "{shard}.log",
    benchmark:
        BENCHMARKS / "clips_cut" / "{dataset}" / "{protocol}" / "{shard}.tsv",
    script:
        "../scripts/clips_cut.py"


rule clips_index:
    input:
        manifest=DATA / "manifests" / "{dataset}.csv",
        shards=clip_shards,
    output:
        DATA / "clips" / "{dataset}" / "{protocol}" / "index.csv",
    params:
        sizes=lambda w: SIZES["clips"][w.protocol],
    priority: PRIORITY["shard"]  # a gather step training waits for (PRIORITY in common.smk)
    resources:
        **job_resources("light"),
    log:
        LOGS / "clips_index" / "{dataset}" / "{protocol}.log",
    benchmark:
        BENCHMARKS / "clips_index" / "{dataset}" / "{protocol}.tsv",
    script:
        "../scripts/clips_index.py"
