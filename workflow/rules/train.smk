# Stage: train. One job per (paper, dataset, variant); every model trains through the one loop
# (pipeline/training.py) via its paper's pipeline/papers/<paper>/train.py.
include: "common/train.smk"


rule train_model:
    input:
        unpack(training_inputs),
    output:
        RESULTS / "models" / "{paper}" / "{dataset}" / "{variant}" / "{seeddir}model.pt",
    wildcard_constraints:
        paper="|".join(papers.PAPERS),
    params:
        sizes=training_sizes,
        seed=run_seed,
        device=config["device"],
        precision=config["precision"],
        threads=training_threads,
    priority: PRIORITY["train"]
    resources:
        **job_resources("train", training_progress),
        gpu=0 if config["device"] == "cpu" else 1,
    threads: training_cpus
    log:
        LOGS / "train" / "{paper}" / "{dataset}" / "{seeddir}{variant}.log",
    benchmark:
        BENCHMARKS / "train_model" / "{paper}" / "{dataset}" / "{seeddir}{variant}.tsv",
    script:
        "../scripts/train_model.py"
