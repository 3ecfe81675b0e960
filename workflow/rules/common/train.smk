# Paths, sizes and input functions of train.smk (Snakemake's lint: functions apart from rules).
def training_sizes(wildcards):
    """Only the sizes this model's training reads: another model's schedule never retrains it."""
    return papers.spec(wildcards.paper).training_sizes(SIZES[wildcards.paper], wildcards.dataset, wildcards.variant)
