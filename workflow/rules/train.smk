# Stage: train. One job per (paper, dataset, variant); every model trains through the one loop
# (pipeline/training.py) via its paper's recipe (pipeline/recipes/<paper>.py).


rule train_model:
    input:
        unpack(training_inputs),
    output:
        RESULTS / "models" / "{paper}" / "{dataset}" / "{variant}" / "model.pt",
    params:
        sizes=lambda w: SIZES[w.paper],
        seed=config["seed"],
        device=config["device"],
    resources:
        gpu=0 if config["device"] == "cpu" else 1,
    threads: 2
    log:
        LOGS / "train" / "{paper}" / "{dataset}" / "{variant}.log",
    script:
        "../scripts/train_model.py"
