# Paths, sizes and input functions of vgan.smk (Snakemake's lint: functions apart from rules).
from pipeline.papers.vgan import spec as vgan_spec

VGAN = SIZES["vgan"]
VGAN_DATASET = vgan_spec.DATASET
VGAN_VARIANTS = vgan_spec.VARIANTS
VGAN_EVAL = RESULTS / "eval" / "vgan" / VGAN_DATASET
VGAN_SUMMARY = vgan_spec.stabilized_summary(DATA, VGAN_DATASET)


def vgan_model(variant, seeddir=""):
    return RESULTS / "models" / "vgan" / VGAN_DATASET / variant / f"{seeddir}model.pt"


def vgan_samples(variants=VGAN_VARIANTS, seeddir=""):
    return {v: VGAN_EVAL / f"{seeddir}{v}_samples.zarr" for v in variants}
