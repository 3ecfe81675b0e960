# Stage: data. Fetch (download, link or synthesize) each dataset, then list it in a manifest.
from pipeline.fetch import path_source_state
from pipeline.synthetic.shapes import shapes_split_sizes


rule data_fetch:
    output:
        DATA / "sources" / "{dataset}.json",
    params:
        dataset_config=lambda w: config["datasets"][w.dataset],
        # a `path` folder's listing (names, sizes, mtimes): files added or changed there rerun the fetch and list
        folder_state=lambda w: path_source_state(config["datasets"][w.dataset]),
        standin=lambda w: SIZES["standin"].get(w.dataset),
        data_root=DATA,
        seed=config["seed"],
    threads: lambda w: half_the_cores(4 if config["datasets"][w.dataset]["source"] == "synthetic" else 1)  # render processes
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "data_fetch" / "{dataset}.log",
    benchmark:
        BENCHMARKS / "data_fetch" / "{dataset}.tsv",
    script:
        "../scripts/data_fetch.py"


checkpoint data_list:
    input:
        source=DATA / "sources" / "{dataset}.json",
    output:
        manifest=DATA / "manifests" / "{dataset}.csv",
    params:
        split=lambda w: config["datasets"][w.dataset].get("split", 1),
    threads: half_the_cores(4)
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "data_list" / "{dataset}.log",
    benchmark:
        BENCHMARKS / "data_list" / "{dataset}.tsv",
    script:
        "../scripts/data_list.py"


rule data_smmnist:
    output:
        directory(DATA / "clips" / "smmnist" / "svg" / "test.zarr"),
    params:
        dataset_config=config["datasets"].get("smmnist", {}),
        sizes=SIZES["smmnist"],
        data_root=DATA,
        seed=config["seed"],
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "data_smmnist" / "test.log",
    benchmark:
        BENCHMARKS / "data_smmnist" / "test.tsv",
    script:
        "../scripts/data_smmnist.py"


rule data_shapes:
    output:
        directory(DATA / "clips" / "{variant}" / "crossconv" / "{split}.zarr"),
    wildcard_constraints:
        variant="shapes|shapestexture",
        split="train|test",
    params:
        sizes=lambda w: shapes_split_sizes(SIZES["shapes"], w.split),
        seed=config["seed"],
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "data_shapes" / "{variant}_{split}.log",
    benchmark:
        BENCHMARKS / "data_shapes" / "{variant}_{split}.tsv",
    script:
        "../scripts/data_shapes.py"
