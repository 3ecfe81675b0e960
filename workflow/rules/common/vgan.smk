# Paths, sizes and input functions of vgan.smk (Snakemake's lint: functions apart from rules).
from pipeline.papers.vgan import spec as vgan_spec

VGAN = SIZES["vgan"]
VGAN_DATASET = vgan_spec.DATASET
VGAN_VARIANTS = vgan_spec.VARIANTS
VGAN_EVAL = vgan_spec.evaluation_dir(RESULTS)
VGAN_SUMMARY = vgan_spec.stabilized_summary(DATA, VGAN_DATASET)
VGAN_SCENES = vgan_spec.scenes(config["datasets"].get(VGAN_DATASET, {}))
VGAN_MODEL_NAMES = [*VGAN_VARIANTS, *(v for _, v in vgan_spec.scene_models(VGAN_SCENES))]
"""Table 1's models over every video and, per scene of datasets.flickr.scenes, the scene's own."""


def vgan_model(variant, seeddir=""):
    return RESULTS / "models" / "vgan" / VGAN_DATASET / variant / f"{seeddir}model.pt"


def vgan_samples(variants=VGAN_VARIANTS, seeddir="", scene=None):
    """Samples of Table 1's models by variant: the models over every video, or ``scene``'s own."""
    return {v: vgan_spec.samples_path(VGAN_EVAL, v, seeddir, scene) for v in variants}


def vgan_judge_inputs(wildcards):
    """The samples a judge compares: the models over every video (scene "") or one scene's."""
    return vgan_samples(seeddir=wildcards.seeddir, scene=wildcards.scene.lstrip("-"))


def vgan_scene_judges(seeddir=""):
    """Each scene's judge record, by scene."""
    return {s: VGAN_EVAL / f"{seeddir}judge-{s}.json" for s in VGAN_SCENES}


def vgan_scene_samples():
    """Every scene's samples of Table 1's models, named <variant>_<scene> (the generations figure's inputs)."""
    return {f"{v}_{s}": path for s in VGAN_SCENES for v, path in vgan_samples(scene=s).items()}


VGAN_ACTION = vgan_spec.ACTION_DATASET
VGAN_ACTION_ON = SOURCES.get(VGAN_ACTION, "off") != "off"
VGAN_ACTION_SUMMARY = vgan_spec.stabilized_summary(DATA, VGAN_ACTION)
VGAN_ACTION_MODELS = RESULTS / "models" / "vgan_action" / VGAN_ACTION
VGAN_CLASSIFIERS = vgan_spec.action_classifiers(VGAN)
VGAN_ACTION_THREADS = papers.train_threads("vgan", SIZES)
"""torch's threads in an action classifier's job: vgan's train_threads, as its GANs (1 on the demo: two
classifiers train at once on 2 cores)."""


def vgan_classifier(name, seeddir=""):
    return VGAN_ACTION_MODELS / name / f"{seeddir}model.pt"


def vgan_action_train_inputs(wildcards):
    """The action clips, and the trained two-stream GAN (same seed) whose D a fine-tuned classifier starts from."""
    inputs = {"summary": VGAN_ACTION_SUMMARY}
    if wildcards.classifier.startswith("finetune-"):
        inputs["discriminator"] = vgan_model("twostream", wildcards.seeddir)
    return inputs


def vgan_feature_net(wildcards):
    """FD / KID's 3D CNN trained on the action data (none when the action dataset is off: the judge's own)."""
    return {"feature_net": vgan_classifier(vgan_spec.FEATURE_NET, wildcards.seeddir)} if VGAN_ACTION_ON else {}
