# What runs when the whole run ends, whatever its outcome.
from pipeline.scheduler_timers import cancel_scheduler_wakeups


# After the last job: Snakemake's rate limiter leaves timers that would hold the exit for one
# timespan (a minute under profiles/local); see pipeline/scheduler_timers.py.
onsuccess:
    cancel_scheduler_wakeups()


onerror:
    cancel_scheduler_wakeups()
