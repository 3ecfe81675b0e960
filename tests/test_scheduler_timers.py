"""Cancelling Snakemake's rate-limiter wake-ups: those timers and no others."""

import threading
from types import SimpleNamespace

from snakemake.scheduling.job_scheduler import JobScheduler

from pipeline.scheduler_timers import cancel_scheduler_wakeups


def test_cancels_the_schedulers_pending_wakeups_and_leaves_other_timers():
    """The scheduler's own method starts the timer, so a Snakemake that renames it fails here."""
    wakeups = threading.Semaphore(0)
    scheduler = SimpleNamespace(_open_jobs=wakeups)
    JobScheduler._schedule_reevalutation(scheduler, 3600)
    JobScheduler._schedule_reevalutation(scheduler, 3600)
    other = threading.Timer(3600, lambda: None)
    other.start()
    try:
        assert cancel_scheduler_wakeups() == 2
        for thread in threading.enumerate():
            if isinstance(thread, threading.Timer) and thread is not other:
                thread.join(timeout=10)
                assert not thread.is_alive()
        assert not wakeups.acquire(blocking=False)  # cancelled before waking anything
        assert other.is_alive()
        assert cancel_scheduler_wakeups() == 0
    finally:
        other.cancel()
