# Paths, sizes and input functions of walker_detection.smk (Snakemake's lint: functions apart from rules).
from pipeline.papers.walker.detection import spec as detection_spec

DETECTION = {**WALKER["detection"], "width": WALKER["model"]["width"]}  # the tower's width is the CVAE's
VOC = detection_spec.DATASET
VOC_PREPARED = DATA / "prepared" / "walker" / VOC
VOC_MODELS = RESULTS / "models" / "walker_detection" / VOC
VOC_EVAL = RESULTS / "eval" / "walker" / VOC
VOC_SEEDS = detection_spec.seeds(SIZES["walker"], config["seed"])


def detection_train_inputs(wildcards):
    """The prepared train split, and the CVAE's model.pt for the CVAE initialisation."""
    inputs = {"train": VOC_PREPARED / "train.npz"}
    if wildcards.init == "cvae":
        inputs["cvae"] = walker_model("cvae")
    return inputs
