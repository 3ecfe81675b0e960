"""Send a stage's log to the file Snakemake names, and to the terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def logging_to(path: str | Path) -> Iterator[logging.Logger]:
    """Log to ``path`` (and stderr) for the duration of a job; a failure's traceback lands in the file.

    Snakemake keeps a failed job's log, so the reason a job died is read there, not scrolled past.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.FileHandler(path, mode="w"), logging.StreamHandler(sys.stderr)]
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield logging.getLogger("pipeline")
    except Exception:
        logging.getLogger("pipeline").exception("job failed")
        raise
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
