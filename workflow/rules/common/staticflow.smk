# Paths, sizes and input functions of staticflow.smk (Snakemake's lint: functions apart from rules).
from pipeline.papers.staticflow import spec as staticflow_spec

STATICFLOW_NETS = staticflow_spec.ARCHS
STATICFLOW_PREDICTORS = staticflow_spec.PREDICTORS

STATICFLOW = SIZES["staticflow"]
SF_DATASET = "hmdb51"
SF_EVAL = RESULTS / "eval" / "staticflow" / SF_DATASET
SF_FIGURES = RESULTS / "figures"


def staticflow_model(arch, seeddir=""):
    return RESULTS / "models" / "staticflow" / SF_DATASET / arch / f"{seeddir}model.pt"


def staticflow_data_inputs():
    """What every staticflow job after training reads: the flow shards' summary and the prepared files."""
    return {"summary": staticflow_spec.flow_summary(DATA, SF_DATASET),
            **staticflow_spec.prepared_files(DATA, SF_DATASET)}


def staticflow_eval_inputs(wildcards):
    nets = STATICFLOW_NETS
    model = {"model": staticflow_model(wildcards.predictor, wildcards.seeddir)} if wildcards.predictor in nets else {}
    return {**staticflow_data_inputs(), **model}
