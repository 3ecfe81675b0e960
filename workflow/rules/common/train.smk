# Paths, sizes and input functions of train.smk (Snakemake's lint: functions apart from rules).
from pipeline.papers import plan


def training_sizes(wildcards):
    """Only the sizes this model's training reads: another model's schedule never retrains it."""
    return papers.spec(wildcards.paper).training_sizes(SIZES[wildcards.paper], wildcards.dataset, wildcards.variant)


def training_threads(wildcards):
    """The paper's train_threads: torch's threads in the job, whatever --cores says."""
    return papers.train_threads(wildcards.paper, SIZES)


def training_cpus(wildcards):
    """The job's threads for the scheduler (a cluster job's CPUs): torch's threads plus the model's
    data-loading workers (``train.workers``, 4 at the paper preset), each a process of its own that
    the job keeps busy beside them."""
    return training_threads(wildcards) + int(training_sizes(wildcards).get("train", {}).get("workers", 0))


def training_progress(wildcards):
    """(its log.csv, its optimisation steps) of one model: what its cluster time limit is measured from."""
    sizes = training_sizes(wildcards)
    log_csv = RESULTS / "models" / wildcards.paper / wildcards.dataset / wildcards.variant / wildcards.seeddir / "log.csv"
    return log_csv, plan.training_steps(sizes, wildcards.variant)[0]
