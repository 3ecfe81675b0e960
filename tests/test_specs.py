"""The spec contract: each training job depends on its own sizes only (Snakemake params)."""

from __future__ import annotations

import copy

import pytest

from pipeline import papers

# (paper, the model, a size only some other model reads, a size this model reads)
CASES = [
    ("svg", ("smmnist", "lp"), ("kth", "train", "steps"), ("smmnist", "train", "steps")),
    ("staticflow", ("hmdb51", "alexnet"), ("train", "epochs", "allconv"), ("train", "epochs", "alexnet")),
    ("walker", ("ucf101", "flownet"), ("model", "width"), ("flownet", "epochs")),
    ("walker", ("ucf101", "cvae"), ("flownet", "epochs"), ("model", "width")),
    ("crossconv", ("shapes", "ours"), ("train", "steps", "ae"), ("train", "steps", "ours")),
    ("vgan", ("flickr", "twostream"), ("train", "steps", "onestream"), ("train", "steps", "twostream")),
    ("vgan", ("flickr", "twostream"), ("gmm", "components"), ("model", "z_dim")),
    ("vgan", ("flickr", "ae"), ("eval", "samples"), ("gmm", "components")),
]


def _bumped(sizes: dict, path: tuple[str, ...]) -> dict:
    changed = copy.deepcopy(sizes)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = node[path[-1]] * 2 + 1
    return changed


@pytest.mark.parametrize(("paper", "model", "elsewhere", "own"), CASES)
def test_training_sizes_change_only_with_the_models_own_sizes(paper, model, elsewhere, own) -> None:
    sizes = papers.sizes("demo")[paper]
    training_sizes = papers.spec(paper).training_sizes
    before = training_sizes(sizes, *model)
    assert training_sizes(_bumped(sizes, elsewhere), *model) == before
    assert training_sizes(_bumped(sizes, own), *model) != before


def test_walker_refuses_thumos_by_url_at_once_since_it_has_no_test_videos(tmp_path):
    from pipeline.papers.walker import spec as walker_spec

    sources = {"ucf101": "synthetic", "thumos": "synthetic"}
    assert walker_spec.targets(sources, tmp_path, {})  # the stand-in has a test split
    with pytest.raises(ValueError, match=r"datasets\.thumos\.source: url.*source: path"):
        walker_spec.targets({**sources, "thumos": "url"}, tmp_path, {})


def test_every_paper_has_train_threads_and_a_bad_count_is_refused_naming_the_key() -> None:
    sizes = papers.sizes("demo")
    assert {p: papers.train_threads(p, sizes) for p in papers.PAPERS} == {
        "walker": 1, "staticflow": 1, "svg": 1, "crossconv": 1, "vgan": 1}
    assert papers.train_threads("walker", papers.sizes("demo", {"walker": {"train_threads": 2}})) == 2
    assert {papers.train_threads(p, papers.sizes("paper")) for p in papers.PAPERS} == {2}
    with pytest.raises(ValueError, match="overrides.vgan.train_threads: 0"):
        papers.train_threads("vgan", papers.sizes("demo", {"vgan": {"train_threads": 0}}))
