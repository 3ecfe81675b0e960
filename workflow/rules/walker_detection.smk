# Stage: walker detection transfer (Walker et al. 2016, Table 2). VOC 2012 (or its stand-in) split
# into train / val with selective-search proposals, Fast R-CNN on the walker image tower from the
# trained CVAE and from scratch (each with the scale calibration), seeds x initialisations, detections
# on val, the table. Logic in pipeline/papers/walker/detection/ (sizes in its spec.py).
include: "common/walker_detection.smk"


rule walker_detection_prepare:
    input:
        DATA / "sources" / f"{VOC}.json",
    output:
        VOC_PREPARED / "{split}.npz",
    wildcard_constraints:
        split="train|val",
    params:
        sizes={"proposals": DETECTION["proposals"]},  # only what it reads: training sizes never rerun it
    threads: half_the_cores(DETECTION["proposals"]["workers"])
    priority: PRIORITY["data"]
    resources:
        **job_resources("data"),
    log:
        LOGS / "walker_detection_prepare" / "{split}.log",
    benchmark:
        BENCHMARKS / "walker_detection_prepare" / "{split}.tsv",
    script:
        "../scripts/walker_detection_prepare.py"


rule walker_detection_train:
    input:
        unpack(detection_train_inputs),
    output:
        VOC_MODELS / "{init}-seed{seed}" / "model.pt",
    wildcard_constraints:
        init="|".join(detection_spec.INITS),
        seed="[0-9]+",
    params:
        sizes={k: DETECTION[k] for k in ("image", "model", "calibration", "train", "width")},
        device=config["device"],
        precision=config["precision"],
    priority: PRIORITY["train"]
    resources:
        **job_resources("train"),
        gpu=0 if config["device"] == "cpu" else 1,
    threads: 1
    log:
        LOGS / "walker_detection_train" / "{init}-seed{seed}.log",
    benchmark:
        BENCHMARKS / "walker_detection_train" / "{init}-seed{seed}.tsv",
    script:
        "../scripts/walker_detection_train.py"


rule walker_detection_evaluate:
    input:
        model=VOC_MODELS / "{init}-seed{seed}" / "model.pt",
        val=VOC_PREPARED / "val.npz",
    output:
        VOC_EVAL / "{init}-seed{seed}.npz",
    params:
        sizes={k: DETECTION[k] for k in ("image", "test")},
    threads: 1
    resources:
        **job_resources("evaluate"),
    log:
        LOGS / "walker_detection_evaluate" / "{init}-seed{seed}.log",
    benchmark:
        BENCHMARKS / "walker_detection_evaluate" / "{init}-seed{seed}.tsv",
    script:
        "../scripts/walker_detection_evaluate.py"


rule walker_detection_table:
    input:
        detections=expand(VOC_EVAL / "{init}-seed{seed}.npz", init=detection_spec.INITS, seed=VOC_SEEDS),
        models=expand(VOC_MODELS / "{init}-seed{seed}" / "model.pt", init=detection_spec.INITS, seed=VOC_SEEDS),
        train=VOC_PREPARED / "train.npz",
        val=VOC_PREPARED / "val.npz",
        sources=[DATA / "sources" / f"{d}.json" for d in (VOC, WALKER_TRAIN)],
    output:
        table=report(RESULTS / "tables" / "voc2012_detection.csv", caption="../report/walker/voc2012_detection.rst",
                     category="walker"),
        provenance=RESULTS / "tables" / "voc2012_detection.provenance.json",
    params:
        inits=detection_spec.INITS,
        seeds=VOC_SEEDS,
        sizes={"test": DETECTION["test"]},
        config=config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "walker_detection_table" / "voc2012_detection.log",
    benchmark:
        BENCHMARKS / "walker_detection_table" / "voc2012_detection.tsv",
    script:
        "../scripts/walker_detection_table.py"
