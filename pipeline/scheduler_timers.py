"""Let Snakemake exit as soon as its last job is done, under ``max-jobs-per-timespan``.

With a job rate limit, every scheduling pass of Snakemake 9 starts a ``threading.Timer`` that
wakes the scheduler again one timespan later (``JobScheduler._schedule_reevalutation``). Those
timers are not daemon threads, so after the last job the interpreter waits for the newest of
them before it exits: under ``profiles/local`` (``max-jobs-per-timespan: 1000/1m``, chosen
because the default 1 s wake-ups took 0.3 of a core) every run ended a minute after its last
job, and regenerating one table took 61 s instead of 3 s. The workflow's ``onsuccess`` and
``onerror`` hooks (``workflow/rules/hooks.smk``) run after the scheduler has returned, when no
pass is left for a timer to start: they cancel the pending ones here.
"""

from __future__ import annotations

import threading

SCHEDULER_WAKEUP = "JobScheduler._schedule_reevalutation"
"""Qualified name (prefix) of the function the scheduler's timers run, as Snakemake 9 spells it."""


def _wakes_the_scheduler(thread: threading.Thread) -> bool:
    function = getattr(thread, "function", None)
    return isinstance(thread, threading.Timer) and getattr(function, "__qualname__", "").startswith(SCHEDULER_WAKEUP)


def cancel_scheduler_wakeups() -> int:
    """Cancel the scheduler's pending wake-up timers (and only those); how many there were."""
    timers = [thread for thread in threading.enumerate() if _wakes_the_scheduler(thread)]
    for timer in timers:
        timer.cancel()
    return len(timers)
