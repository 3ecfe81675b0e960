# Paths, sizes and input functions of walker.smk (Snakemake's lint: functions apart from rules).
from pipeline.papers.walker import spec as walker_spec

WALKER = SIZES["walker"]
WALKER_TRAIN, WALKER_TEST = walker_spec.DATASETS[0], walker_spec.TEST_DATASET
WALKER_EVAL = RESULTS / "eval" / "walker" / WALKER_TEST
WALKER_VARIANTS = walker_spec.VARIANTS
WALKER_PREDICTORS = walker_spec.PREDICTORS


def walker_model(variant, seeddir=""):
    return RESULTS / "models" / "walker" / WALKER_TRAIN / variant / f"{seeddir}model.pt"


def walker_eval_inputs(wildcards):
    """The model (none for a baseline), the files its training read (prepared UCF101 statistics and
    trajectories) and the THUMOS trajectories."""
    variant = wildcards.variant
    trained = variant in WALKER_VARIANTS
    train = walker_spec.inputs(WALKER_TRAIN, variant if trained else "cvae", DATA)
    model = {"model": walker_model(variant, wildcards.seeddir)} if trained else {}
    return {**model, "test_summary": walker_spec.trajectory_summary(DATA, WALKER_TEST),
            **{f"train_{k}": v for k, v in train.items()}}
