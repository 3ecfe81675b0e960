"""The seed spread: the same table under several training seeds, compared number by number."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from smoke_graph import run_paper

from pipeline.seed_spread import compare_seeds, seed_spread_table


def _table(path, ours, low=None, high=None):
    rows = {"row": ["Ours", "Ours", "No motion", "No motion"], "column": ["a", "b", "a", "b"], "ours": ours,
            "paper": [1.0, 2.0, None, None]}
    if low is not None:
        rows |= {"ci_low": low, "ci_high": high}
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_spread_coverage_and_ordering_against_hand_computed_values(tmp_path):
    main = _table(tmp_path / "t0.csv", [1.0, 5.0, 2.0, 4.0], low=[0.5, 4.5, 1.5, 3.9], high=[1.5, 5.5, 2.5, 4.1])
    other = _table(tmp_path / "t1.csv", [1.4, 3.0, 2.0, 4.0])
    third = _table(tmp_path / "t2.csv", [1.2, 5.2, 2.1, 3.95])
    reference = pd.DataFrame({"row": ["[11]"], "column": ["a"], "ours": [None], "paper": [0.9]})
    for path in (main, other, third):  # a paper-only reference row: nothing to compare
        pd.concat([pd.read_csv(path), reference]).to_csv(path, index=False)
    out = compare_seeds({0: main, 1: other, 2: third}, "t").set_index(["row", "column"])
    assert "[11]" not in out.index.get_level_values("row")
    ours_a = out.loc[("Ours", "a")]
    assert ours_a["seed_0"] == 1.0 and ours_a["seed_1"] == 1.4 and ours_a["seed_2"] == 1.2
    assert ours_a["spread"] == pytest.approx(0.4) and ours_a["mean"] == pytest.approx(1.2)
    assert ours_a["sd"] == pytest.approx(np.std([1.0, 1.4, 1.2], ddof=1))
    assert ours_a["interval_covers_seeds"]
    # seed 1 puts Ours (3.0) below No motion (4.0) in column b where seeds 0 and 2 put it above:
    assert not out.loc[("Ours", "b"), "interval_covers_seeds"]
    assert not out.loc[("Ours", "b"), "order_same_all_seeds"]
    assert out.loc[("Ours", "b"), "order_flips_with"] == "No motion"
    assert out.loc[("No motion", "b"), "order_flips_with"] == "Ours"
    assert out.loc[("No motion", "b"), "interval_covers_seeds"]  # 4.0, 4.0, 3.95 all in [3.9, 4.1]
    assert out.loc[("Ours", "a"), "order_same_all_seeds"] and out.loc[("No motion", "a"), "order_same_all_seeds"]


def test_tables_that_do_not_match_are_refused_by_name(tmp_path):
    a = _table(tmp_path / "a.csv", [1.0, 2.0, 3.0, 4.0])
    (tmp_path / "s1").mkdir()
    b = _table(tmp_path / "s1" / "b.csv", [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="not the same table"):
        seed_spread_table({0: [a], 1: [b]})
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "odd.csv", index=False)
    with pytest.raises(ValueError, match="odd.csv"):
        compare_seeds({0: tmp_path / "odd.csv", 1: tmp_path / "odd.csv"}, "odd")
    with pytest.raises(ValueError, match="at least two seeds"):
        compare_seeds({0: a}, "a")


def test_seeds_key_trains_again_per_seed_and_leaves_the_main_tables_alone(tmp_path):
    """crossconv at smoke scale with ``seeds: [1]``: both seeds' models and tables, and their comparison."""
    page = "results/report/tables/seed_spread.csv.html"  # the report's page of it: no paper column there
    run = run_paper(tmp_path, "crossconv", "results/tables/seed_spread.csv", page, config=("seeds=[1]",))
    assert run.returncode == 0, run.stderr[-4000:]
    assert "no paper reports these" in (tmp_path / page).read_text()
    tables = tmp_path / "results" / "tables"
    spread = pd.read_csv(tables / "seed_spread.csv")
    assert set(spread["table"]) == {"shapes_kl", "shapes_kl_differences", "latent_sparsity", "sprites_analogy_mse"}
    for name in ("shapes_kl", "latent_sparsity"):
        main, seeded = pd.read_csv(tables / f"{name}.csv"), pd.read_csv(tables / "seed1" / f"{name}.csv")
        main, seeded = main[main["ours"].notna()], seeded[seeded["ours"].notna()]  # not the paper-only rows
        part = spread[spread["table"] == name].merge(main, on=["row", "column"]).merge(
            seeded, on=["row", "column"], suffixes=("", "_s1"))
        assert len(part) == len(main) == len(seeded)
        np.testing.assert_array_equal(part["seed_0"], part["ours"])
        np.testing.assert_array_equal(part["seed_1"], part["ours_s1"])
    models = tmp_path / "results" / "models" / "crossconv" / "shapes"
    for variant in ("ours", "ae"):
        main = torch.load(models / variant / "model.pt", weights_only=False)
        seeded = torch.load(models / variant / "seed1" / "model.pt", weights_only=False)
        assert main["provenance"]["seed"] == 0 and seeded["provenance"]["seed"] == 1
        first = next(iter(main["state_dicts"]["model"].values()))
        assert not torch.equal(first, next(iter(seeded["state_dicts"]["model"].values())))
    record = json.loads((tables / "seed1" / "shapes_kl.provenance.json").read_text())
    assert record["seed"] == 1
    # dropping the extra seed leaves the main seed's outputs up to date
    again = run_paper(tmp_path, "crossconv", "-n", *(f"results/tables/{n}.csv" for n in ("shapes_kl", "latent_sparsity")))
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stdout[-2000:]


def test_a_difference_table_reports_whether_every_seed_agrees_on_the_sign(tmp_path):
    def ordering(path, diffs):
        pd.DataFrame({"metric": ["ssim", "ssim"], "scope": ["all", "all"], "better": ["lp", "fp"],
                      "worse": ["fp", "deterministic"], "mean_difference": diffs, "ci_low": [d - 0.01 for d in diffs],
                      "ci_high": [d + 0.01 for d in diffs]}).to_csv(path, index=False)
        return path

    out = compare_seeds({0: ordering(tmp_path / "a.csv", [0.02, 0.05]),
                         1: ordering(tmp_path / "b.csv", [-0.01, 0.04])}, "o").set_index(["better", "worse"])
    assert not out.loc[("lp", "fp"), "sign_same_all_seeds"] and out.loc[("fp", "deterministic"), "sign_same_all_seeds"]
    assert out.loc[("fp", "deterministic"), "spread"] == pytest.approx(0.01)
