# No rules here: config validation, scale sizes, wildcard constraints and input functions.
import functools
from pathlib import Path

from snakemake.utils import validate

from pipeline import clips as clip_protocols
from pipeline import cluster
from pipeline import papers
from pipeline import report_views
from pipeline.fetch import check_path_sources
from pipeline.flow import configured_method as configured_flow
from pipeline.manifest import read_manifest

validate(config, "../schemas/config.schema.yaml")
papers.check_names(config["papers"])
check_path_sources(config["datasets"])  # a missing `source: path` folder: refused at once, named

SIZES = papers.sizes(config["scale"], config.get("overrides"))
config["preprocess"]["flow"] = configured_flow(config["preprocess"]["flow"], config["scale"])  # auto: by scale
DATA = Path(config["data_root"])
RESULTS = Path(config["results_root"])
LOGS = RESULTS / "logs"
BENCHMARKS = RESULTS / "benchmarks"
"""Every job's Snakemake benchmark (wall, CPU time, max RSS): benchmarks/<rule>/<wildcards>.tsv."""


wildcard_constraints:
    paper="[a-z]+",
    variant="[a-z0-9_]+(-[A-Za-z0-9_]+)?",  # <variant>-<scene>: vgan's per-scene models
    dataset="[a-z0-9]+",
    protocol="[a-z]+",
    shard="[0-9]{5}",
    seeddir="(seed[0-9]+/)?",


SEEDS = list(dict.fromkeys([config["seed"], *map(int, config["seeds"])]))
"""Training seeds: the main one (``seed``, whose outputs are the tables everyone reads) first."""


SEEDS_INSIDE = {"voc2012_detection"}
"""Tables that train their models over several seeds themselves and report the spread in their own rows."""


def seed_dir(seed):
    """Where one seed's models, evaluations and tables go, under their usual folders: '' for the main seed."""
    return "" if seed == config["seed"] else f"seed{seed}/"


def run_seed(wildcards):
    """The training / evaluation seed of a job whose output paths carry ``{seeddir}``."""
    return int(wildcards.seeddir[len("seed"):-1]) if wildcards.seeddir else config["seed"]


def seeded_config(wildcards):
    """The config as one seed's tables record it: ``seed`` is the seed their models trained with.

    Without ``seeds``: asking for more seeds never makes the main seed's tables out of date.
    """
    return {**{k: v for k, v in config.items() if k != "seeds"}, "seed": run_seed(wildcards)}


def job_resources(kind, training=None):
    """A rule's mem_mb and runtime, callables of the attempt (a retry asks for more), from the kind
    of job and the scale (pipeline/cluster.py); ``training(wildcards) -> (log.csv, steps)`` lets a
    paper-scale training job ask for its measured time left."""
    return cluster.resources(kind, config["scale"], training)


PRIORITY = {"data": 2, "shard": 2, "train": 1}
"""Which ready job Snakemake starts first when cores are short (``priority:``, higher first), by the
kind of job of ``job_resources``. Data and per-shard stages first: what the ``data_list`` checkpoint
unlocks is unknown to the scheduler until the listing has run, so without this a dataset fetched last
started its whole chain last (a walker + staticflow run from nothing: hmdb51 fetched at 644 s of 961,
its two nets then training on one core while the other idled; with this order 68 idle core-seconds
against 160, though the wall time stayed 16-16.5 minutes). Training next: the longest jobs, so
that no model is left training alone at the end while evaluations, tables and figures (priority 0,
short) wait for nothing. A stage's gather step (``clips_index``, the stabilization, flow and trajectory
summaries) is a per-shard kind: at priority 0 it waited behind every training job, so in a five-paper run
the Exercise clips, cut at 9 s, were indexed at 3,325 s and their VAE trained alone at the end (stop 44;
``tests/test_workflow.py`` checks all that a training job waits for). The order changes no result:
every job's output depends on its inputs only."""


def half_the_cores(wanted):
    """Threads for a data job that can use ``wanted`` processes: at most half of ``--cores``. Snakemake
    starts a job only when all its threads are free at once, so on 2 cores a job asking for both
    waits as long as single-thread jobs keep taking the core freed first: a run of all five papers
    left every video dataset's fetch (4 render processes, scaled to 2) waiting behind 13 minutes of
    training. Half the cores runs one such job beside anything else; a node of many cores keeps them."""
    return max(1, min(wanted, workflow.cores // 2))


def dataset_source(name):
    """The configured source kind of a dataset ('off' when not configured)."""
    return config["datasets"].get(name, {}).get("source", "off")


SOURCES = {name: dataset_source(name) for name in config["datasets"]}
"""dataset -> its configured source kind (url, path, synthetic, off)."""


def paper_clip_sets():
    """(dataset, protocol) pairs the chosen papers read, from datasets that are not off."""
    return papers.clip_sets(config["papers"], SOURCES)


def clip_protocol(name, dataset=None):
    return clip_protocols.protocol(name, SIZES["clips"][name], dataset)


@functools.lru_cache(maxsize=None)
def _shard_count(manifest, mtime_ns, size, protocol, dataset):
    """Clip shards of a manifest as it is on disk (its mtime and size are part of the key: a manifest
    rewritten during the run is read again). Without it every job whose input lists the shards
    re-read and re-filtered the manifest: 14 s of a 13,320-video dry run (benchmarks/bench_dry_run.py)."""
    return clip_protocols.shard_count(read_manifest(manifest), clip_protocol(protocol, dataset))


def clip_shards_of(dataset, protocol):
    """Shard paths of one (dataset, protocol), known once the manifest exists (checkpoint)."""
    manifest = Path(checkpoints.data_list.get(dataset=dataset).output.manifest)
    stat = manifest.stat()
    n = _shard_count(str(manifest), stat.st_mtime_ns, stat.st_size, protocol, dataset)
    folder = DATA / "clips" / dataset / protocol
    return [folder / f"shard-{k:05d}.zarr" for k in range(n)]


def clip_shards(wildcards):
    return clip_shards_of(wildcards.dataset, wildcards.protocol)


def stage_shards(stage, protocol=None):
    """Input function: the shards of ``stage`` (stabilized, flow, trajectories), one per clip shard."""

    def shards(wildcards):
        proto = protocol or wildcards.protocol
        clip_paths = clip_shards_of(wildcards.dataset, proto)
        return [DATA / stage / wildcards.dataset / proto / p.name for p in clip_paths]

    return shards


PREPROCESSING = {
    # protocol -> the summaries and figures of its preprocessing stages
    "walker": ("stabilized/{d}/walker/summary.csv", "trajectories/{d}/walker/summary.csv",
               "figures/preprocessing/{d}_walker_stabilization.png", "figures/preprocessing/{d}_trajectories.png"),
    "vgan": ("stabilized/{d}/vgan/summary.csv", "figures/preprocessing/{d}_vgan_stabilization.png"),
    "staticflow": ("flow/{d}/staticflow/summary.csv", "figures/preprocessing/{d}_flow.png"),
}


def preprocessing_targets():
    """Preprocessing outputs of every (dataset, protocol) the chosen papers read."""
    targets = []
    for dataset, protocol in paper_clip_sets():
        for pattern in PREPROCESSING.get(protocol, ()):
            root = RESULTS if pattern.startswith("figures") else DATA
            targets.append(root / pattern.format(d=dataset))
    return targets


def training_inputs(wildcards):
    """The files one training job reads, as its paper's spec names them."""
    return papers.spec(wildcards.paper).inputs(wildcards.dataset, wildcards.variant, DATA)


def all_targets():
    """Everything `snakemake` builds by default for the configured papers (+ the seed spread when asked)."""
    results = papers.targets(config["papers"], SOURCES, RESULTS, SIZES)
    if len(SEEDS) > 1:  # the further seeds' tables too, so the report shows each of them as a page
        main = set(results)
        results += [p for paths in seeded_tables(results).values() for p in paths if p not in main]
        results.append(RESULTS / "tables" / "seed_spread.csv")
    return results + report_pages(results) + clip_targets() + preprocessing_targets()


def report_pages(results):
    """The report pages (workflow/rules/report.smk) of the results the report can only offer as downloads."""
    return [report_views.page_path(p, RESULTS) for p in results if report_views.needs_page(p)]


def seeded_tables(targets=None):
    """Every result table of the chosen papers, per seed: {seed: [paths]} (the main seed's at their usual place).
    ``targets``: the papers' targets when the caller has them already (they are not listed twice)."""
    if targets is None:
        targets = papers.targets(config["papers"], SOURCES, RESULTS, SIZES)
    tables = [p for p in targets if p.suffix == ".csv" and p.stem not in SEEDS_INSIDE]
    return {s: [p.parent / seed_dir(s) / p.name for p in tables] for s in SEEDS}


def clip_targets():
    """Every manifest's clip shards (through their indexes) and the generated sets."""
    targets = [DATA / "clips" / d / p / "index.csv" for d, p in paper_clip_sets()]
    return targets + papers.data_targets(config["papers"], SOURCES, DATA)
