# Paths, sizes and input functions of svg.smk (Snakemake's lint: functions apart from rules).
from pipeline.papers.svg import spec as svg_spec

SVG = SIZES["svg"]
SVG_EVAL = RESULTS / "eval" / "svg"
SVG_DATASETS = [d for d in svg_spec.DATASETS if dataset_source(d) != "off"]
SVG_TABLE_DATASET = {name: d for d, (name, _) in svg_spec.TABLES.items()}
FIGURE_OF_SET = {"synchronized": "fig6", "sharedstart": "fig5"}  # whose sizes each SM-MNIST set reads
SVG_FIG5_MODEL = svg_spec.fig5_model(SVG)  # the SVG-LP whose samples Fig. 5 shows


def svg_model(dataset, variant, seeddir=""):
    return RESULTS / "models" / "svg" / dataset / variant / f"{seeddir}model.pt"


def svg_eval_inputs(wildcards):
    """The trained model and the dataset's test data (the files its training read)."""
    return {"model": svg_model(wildcards.dataset, wildcards.variant, wildcards.seeddir),
            **svg_spec.data_inputs(wildcards.dataset, DATA)}


def svg_table_inputs(wildcards):
    dataset = SVG_TABLE_DATASET[wildcards.table]
    data = svg_spec.data_inputs(dataset, DATA)
    models = [*svg_spec.EVALUATED, *svg_spec.BASELINES]
    return {"curves": [SVG_EVAL / dataset / v / f"{wildcards.seeddir}curves.csv" for v in models],
            "sources": [DATA / "sources" / f"{dataset}.json"] if dataset != "smmnist" else [],
            **({"test_set": data["test_set"]} if "test_set" in data else {})}


def svg_gifs(dataset, variant):
    return svg_spec.gifs(RESULTS, dataset, variant, SVG)
