"""Shared test setup: one thread per library so the suite behaves on a 2-core machine; the smoke
chains more than one test module reads."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def staticflow_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """staticflow's part of the graph at smoke scale, run once: its pipeline tests and the report test read it."""
    from smoke_graph import STATICFLOW_CHAIN, run_paper

    workdir = tmp_path_factory.mktemp("staticflow_chain")
    run = run_paper(workdir, "staticflow", *STATICFLOW_CHAIN)
    assert run.returncode == 0, run.stderr[-4000:]
    return workdir
