import json

import pandas as pd

from pipeline.papers.walker.spec import REFERENCE
from pipeline.tables import write_table


def test_table_puts_paper_value_beside_ours_and_keeps_unmeasured_rows(tmp_path):
    path = tmp_path / "thumos_nll.csv"
    ours = [{"row": "Ours (CVAE)", "column": "nll", "ours": 123.0}]
    frame = write_table(path, "thumos_nll", ours, {"scale": "smoke"}, REFERENCE["thumos_nll"])
    written = pd.read_csv(path)
    assert list(written.columns[:4]) == ["row", "column", "ours", "paper"]
    cvae = written.set_index("row").loc["Ours (CVAE)"]
    assert cvae["ours"] == 123.0 and cvae["paper"] == REFERENCE["thumos_nll"]["Ours (CVAE)"]["nll"]
    assert set(written["row"]) == set(REFERENCE["thumos_nll"])  # unmeasured rows kept, ours empty
    assert written.set_index("row").loc["Regressor", "ours"] != written.set_index("row").loc["Regressor", "ours"]
    sidecar = json.loads(path.with_suffix(".provenance.json").read_text())
    assert sidecar["scale"] == "smoke" and sidecar["reference_table"] == "thumos_nll"
    assert "code_version" in sidecar and len(frame) == 3
