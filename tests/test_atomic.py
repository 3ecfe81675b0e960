"""Atomic publishing: a killed writer's temporary never lingers beside the output once it is rewritten."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from pipeline.atomic import TMP_MARKER, write_csv, write_text


def test_a_writer_killed_mid_write_leaves_only_a_temporary_that_the_next_write_removes(tmp_path: Path) -> None:
    target = tmp_path / "tables" / "t.csv"
    # a writer process killed (SIGKILL) while its temporary is open: no chance to clean up
    code = ("import os, signal, sys; from pipeline.atomic import publishing\n"
            f"with publishing({str(target)!r}) as tmp:\n"
            "    open(tmp, 'w').write('row,half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert killed.returncode == -9
    left = list(target.parent.iterdir())
    assert not target.exists() and len(left) == 1 and TMP_MARKER in left[0].name  # never a truncated t.csv
    write_csv(pd.DataFrame({"a": [1]}), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["t.csv"] and target.read_text() == "a\n1\n"
    write_text(tmp_path / "tables" / "other.txt", "x")  # another output's write leaves t.csv alone
    assert target.read_text() == "a\n1\n"


def test_a_published_file_has_the_mode_a_plain_write_gives(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    published = write_text(tmp_path / "published.txt", "x")
    assert published.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not mkstemp's 0600
