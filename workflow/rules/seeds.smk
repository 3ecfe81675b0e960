# Stage: seed spread. With `seeds: [...]` in the config, every model also trains and evaluates with
# each further seed (the `{seeddir}` part of the model, evaluation and table paths); this compares
# every table's numbers over all seeds (pipeline/seed_spread.py).


rule seed_spread:
    input:
        # a function: the table lists are only built when the spread is asked for (not at every parse)
        unpack(lambda wildcards: {f"seed{s}": paths for s, paths in seeded_tables().items()}),
    output:
        report(RESULTS / "tables" / "seed_spread.csv", caption="../report/seed_spread.rst", category="seeds"),
    params:
        seeds=SEEDS,
        config=config,
    resources:
        **job_resources("light"),
    log:
        LOGS / "seed_spread.log",
    benchmark:
        BENCHMARKS / "seed_spread" / "seed_spread.tsv",
    script:
        "../scripts/seed_spread.py"
