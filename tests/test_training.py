"""The shared training loop: resume is bit-identical, checkpoints are atomic, the log is complete."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.training import TrainConfig, atomic_torch_save, fit, load_model


class NoisyRegressor(nn.Module):
    """Draws from the global torch RNG (dropout, noise) so resume must restore RNG state too."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.Linear(4, width), nn.Dropout(0.3), nn.Tanh(), nn.Linear(width, 1))
        self.losses: list[float] = []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        device = next(self.parameters()).device
        x, y = (t.to(device) for t in batch)
        pred = self.net(x).squeeze(-1)  # (B,)
        loss = ((pred - y - 0.01 * torch.randn_like(y)) ** 2).mean()
        self.losses.append(float(loss.detach()))
        return {"loss": loss, "abs_err": (pred - y).abs().mean().detach(), "per_item": pred.detach()}


def build(config: dict) -> NoisyRegressor:
    torch.manual_seed(config["init_seed"])
    return NoisyRegressor(config["width"])


CONFIG = {"width": 8, "init_seed": 3}


def batches(start_step: int, fail_at: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batch k depends only on k; optionally dies when asked for batch ``fail_at``."""
    step = start_step
    while True:
        if step == fail_at:
            raise KeyboardInterrupt(f"simulated kill before step {step}")
        rng = np.random.default_rng(np.random.SeedSequence([11, step]))
        x = rng.normal(size=(16, 4)).astype(np.float32)
        y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)).astype(np.float32)
        yield torch.from_numpy(x), torch.from_numpy(y)
        step += 1


def train(out_dir: Path, steps: int, fail_at: int | None = None) -> NoisyRegressor:
    model = build(CONFIG)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    cfg = TrainConfig(steps=steps, checkpoint_every=3, log_every=2, seed=5, device="cpu")
    fit(model, optimizer, lambda s: batches(s, fail_at), cfg, out_dir, CONFIG, scheduler)
    return model


def read_log(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_resume_after_kill_gives_identical_weights_and_log(tmp_path: Path) -> None:
    reference = train(tmp_path / "straight", steps=10)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "killed", steps=10, fail_at=7)  # dies after the step-6 checkpoint
    resumed = train(tmp_path / "killed", steps=10)
    assert_same_weights(reference, resumed)
    assert resumed.losses[0] == reference.losses[6]  # resumed at step 6, same batch and RNG draw

    ref_log, res_log = read_log(tmp_path / "straight" / "log.csv"), read_log(tmp_path / "killed" / "log.csv")
    assert [r["step"] for r in res_log] == ["2", "4", "6", "8", "10"]  # no duplicated rows
    assert [r["loss"] for r in res_log] == [r["loss"] for r in ref_log]
    assert [r["abs_err"] for r in res_log] == [r["abs_err"] for r in ref_log]


def test_fit_in_two_calls_equals_one_call(tmp_path: Path) -> None:
    reference = train(tmp_path / "straight", steps=10)
    train(tmp_path / "split", steps=4)
    extended = train(tmp_path / "split", steps=10)
    assert_same_weights(reference, extended)


def test_log_rows_average_each_interval(tmp_path: Path) -> None:
    model = train(tmp_path / "run", steps=5)
    rows = read_log(tmp_path / "run" / "log.csv")
    assert list(rows[0]) == ["step", "wall_seconds", "loss", "abs_err"]  # non-scalars not logged
    assert [int(r["step"]) for r in rows] == [2, 4, 5]  # every log_every steps and the last one
    expected = [np.mean(model.losses[0:2]), np.mean(model.losses[2:4]), model.losses[4]]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], expected, rtol=1e-6)
    walls = [float(r["wall_seconds"]) for r in rows]
    assert walls == sorted(walls) and walls[0] >= 0


def test_model_file_rebuilds_the_trained_model(tmp_path: Path) -> None:
    trained = train(tmp_path / "run", steps=3)
    loaded = load_model(tmp_path / "run" / "model.pt", build)
    assert_same_weights(trained, loaded)
    assert not loaded.training
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert saved["model_config"] == CONFIG


def test_checkpoint_write_is_atomic(tmp_path: Path) -> None:
    train(tmp_path / "run", steps=3)
    path = tmp_path / "run" / "checkpoint.pt"
    before = path.read_bytes()
    with pytest.raises(Exception):
        atomic_torch_save({"unpicklable": lambda: None}, path)  # fails while serialising
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt", "log.csv", "model.pt"]
    assert torch.load(path, weights_only=True)["step"] == 3


def test_resume_with_other_model_config_is_refused(tmp_path: Path) -> None:
    train(tmp_path / "run", steps=3)
    model = build(CONFIG)
    optimizer = torch.optim.Adam(model.parameters())
    cfg = TrainConfig(steps=6, checkpoint_every=3, log_every=2, seed=5, device="cpu")
    with pytest.raises(ValueError, match="model_config"):
        fit(model, optimizer, batches, cfg, tmp_path / "run", {**CONFIG, "width": 9})


def test_short_data_iterator_is_reported(tmp_path: Path) -> None:
    model = build(CONFIG)
    optimizer = torch.optim.Adam(model.parameters())
    cfg = TrainConfig(steps=5, checkpoint_every=3, log_every=2, seed=5, device="cpu")

    def two_batches(start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return (b for _, b in zip(range(2), batches(start)))

    with pytest.raises(RuntimeError, match="ended at step 2"):
        fit(model, optimizer, two_batches, cfg, tmp_path / "run", CONFIG)
