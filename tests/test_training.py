"""The one training loop: resume is bit-identical, checkpoints live only while a run is unfinished
and only for the inputs, sizes and code that made them, the log is complete, a GAN plugs in."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from pipeline.provenance import models_summary
from pipeline.saved_models import load_model, model_provenance
from pipeline.training import Evaluation, Minimize, TrainConfig, TrainingJob, atomic_torch_save, fit, minimize


class NoisyRegressor(nn.Module):
    """Draws from the global torch RNG (dropout, noise) so resume must restore RNG state too."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.Linear(4, width), nn.Dropout(0.3), nn.Tanh(), nn.Linear(width, 1))
        self.seen: list[float] = []

    def losses(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        device = next(self.parameters()).device
        x, y = (t.to(device) for t in batch)
        pred = self.net(x).squeeze(-1)  # (B,)
        loss = ((pred - y - 0.01 * torch.randn_like(y)) ** 2).mean()
        self.seen.append(float(loss.detach()))
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


def job(out_dir: Path, **changes) -> TrainingJob:
    fields = {"paper": "toy", "dataset": "lines", "variant": "noisy", "out_dir": out_dir,
              "sizes": {"steps": 10}, "inputs": {}, "seed": 5, "device": "cpu"}
    return TrainingJob(**{**fields, **changes})


def train(out_dir: Path, steps: int, fail_at: int | None = None, evaluations=(), **changes) -> NoisyRegressor:
    model = build(CONFIG)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    cfg = TrainConfig(steps=steps, checkpoint_every=3, log_every=2)
    fit(Minimize(model, optimizer, scheduler), lambda s: batches(s, fail_at), cfg, job(out_dir, **changes), CONFIG,
        evaluations)
    return model


def read_log(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_resume_after_kill_gives_identical_weights_and_log(tmp_path: Path, caplog) -> None:
    reference = train(tmp_path / "straight", steps=10)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "killed", steps=10, fail_at=7)  # dies after the step-6 checkpoint
    assert (tmp_path / "killed" / "checkpoint.pt").exists() and not (tmp_path / "killed" / "model.pt").exists()
    with caplog.at_level(logging.INFO, logger="pipeline.training"):
        resumed = train(tmp_path / "killed", steps=10)
    assert f"resumed at step 6 of 10 from {tmp_path / 'killed' / 'checkpoint.pt'}" in caplog.text
    assert_same_weights(reference, resumed)
    assert resumed.seen[0] == reference.seen[6]  # resumed at step 6, same batch and RNG draw

    ref_log, res_log = read_log(tmp_path / "straight" / "log.csv"), read_log(tmp_path / "killed" / "log.csv")
    assert [r["step"] for r in res_log] == ["2", "4", "6", "8", "10"]  # no duplicated rows
    assert [r["loss"] for r in res_log] == [r["loss"] for r in ref_log]
    assert [r["abs_err"] for r in res_log] == [r["abs_err"] for r in ref_log]
    events = EventAccumulator(str(tmp_path / "killed" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("loss/loss")] == [2, 4, 6, 8, 10]  # the killed run's tail purged


def test_finished_run_leaves_no_checkpoint_and_a_forced_rerun_trains_from_step_0(tmp_path: Path, caplog) -> None:
    first = train(tmp_path / "run", steps=6)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["log.csv", "model.pt", "tensorboard"]
    (tmp_path / "run" / "model.pt").unlink()  # what snakemake --forcerun does
    with caplog.at_level(logging.INFO, logger="pipeline.training"):
        again = train(tmp_path / "run", steps=6)
    assert "training from step 0 of 6" in caplog.text and "resumed" not in caplog.text
    assert len(again.seen) == 6  # really trained every step
    assert len(list((tmp_path / "run" / "tensorboard").glob("events.*"))) == 1  # the old run's curves are gone
    assert_same_weights(first, again)  # deterministic on CPU


@pytest.mark.parametrize(("change", "named"), [({"sizes": {"steps": 12}}, "sizes"), ({"seed": 6}, "seed"),
                                               ({"precision": "bf16"}, "precision")])
def test_checkpoint_from_other_sizes_or_seed_is_not_resumed(tmp_path: Path, caplog, change, named) -> None:
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "run", steps=10, fail_at=7)
    with caplog.at_level(logging.INFO, logger="pipeline.training"):
        model = train(tmp_path / "run", steps=10, **change)
    assert f"made from other {named}; training from step 0" in caplog.text
    assert len(model.seen) == 10


@pytest.fixture
def restore_torch_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_a_job_trains_on_its_own_threads_and_a_checkpoint_of_another_count_is_not_resumed(
        tmp_path: Path, caplog, restore_torch_threads) -> None:
    other = torch.get_num_threads() + 1
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "run", steps=10, fail_at=7)  # on the process's thread count
    with caplog.at_level(logging.INFO, logger="pipeline.training"):
        model = train(tmp_path / "run", steps=10, threads=other)
    assert "made from other threads; training from step 0" in caplog.text and len(model.seen) == 10
    assert torch.get_num_threads() == other
    assert model_provenance(tmp_path / "run" / "model.pt")["machine"]["threads"] == other


def test_bf16_runs_the_steps_forward_in_bfloat16_and_keeps_float32_weights(tmp_path: Path, monkeypatch) -> None:
    dtypes: list[torch.dtype] = []
    original = NoisyRegressor.losses

    def losses(self, batch):  # what the first layer computes in, inside the loop's step
        if not dtypes:
            self.net[0].register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
        return original(self, batch)

    monkeypatch.setattr(NoisyRegressor, "losses", losses)
    bf16 = train(tmp_path / "bf16", steps=4, precision="bf16")
    assert set(dtypes) == {torch.bfloat16} and len(dtypes) == 4
    assert {p.dtype for p in bf16.parameters()} == {torch.float32}
    dtypes.clear()
    fp32 = train(tmp_path / "fp32", steps=4)
    assert set(dtypes) == {torch.float32}
    assert not torch.equal(bf16.net[0].weight, fp32.net[0].weight)  # other numerics, other weights
    assert model_provenance(tmp_path / "bf16" / "model.pt")["precision"] == "bf16"
    with pytest.raises(ValueError, match="precision: 'fp16' is not one of fp32, bf16"):
        train(tmp_path / "fp16", steps=2, precision="fp16")


def test_checkpoint_from_other_inputs_is_not_resumed(tmp_path: Path, caplog) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "run", steps=10, fail_at=7, inputs={"table": str(data)})
    data.write_text("a\n2\n")  # the input was regenerated
    with caplog.at_level(logging.INFO, logger="pipeline.training"):
        model = train(tmp_path / "run", steps=10, inputs={"table": str(data)})
    assert "made from other inputs; training from step 0" in caplog.text and len(model.seen) == 10


def test_log_rows_average_each_interval(tmp_path: Path) -> None:
    model = train(tmp_path / "run", steps=5)
    rows = read_log(tmp_path / "run" / "log.csv")
    assert list(rows[0]) == ["step", "wall_seconds", "loss", "abs_err"]  # non-scalars not logged
    assert [int(r["step"]) for r in rows] == [2, 4, 5]  # every log_every steps and the last one
    expected = [np.mean(model.seen[0:2]), np.mean(model.seen[2:4]), model.seen[4]]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], expected, rtol=1e-6)
    walls = [float(r["wall_seconds"]) for r in rows]
    assert walls == sorted(walls) and walls[0] >= 0


def test_tensorboard_has_every_loss_the_learning_rate_and_step_time(tmp_path: Path) -> None:
    train(tmp_path / "run", steps=5)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss/loss", "loss/abs_err", "lr/model", "time/steps_per_second"} <= tags
    assert [e.step for e in events.Scalars("loss/loss")] == [2, 4, 5]
    lrs = [e.value for e in events.Scalars("lr/model")]
    assert lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(5e-3)  # StepLR halved it at step 4


def test_evaluations_are_written_beside_the_log_and_truncated_on_resume(tmp_path: Path) -> None:
    def holdout(step: int) -> list[dict[str, float]]:
        return [{"set": "val", "score": float(step) ** 2}]

    at_even = [Evaluation("val_log.csv", at=lambda s: s % 2 == 0, run=holdout)]
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "run", steps=10, fail_at=8, evaluations=at_even)  # scored at 2, 4, 6; checkpoint at 6
    train(tmp_path / "run", steps=10, evaluations=at_even)
    rows = read_log(tmp_path / "run" / "val_log.csv")
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10]
    assert [float(r["score"]) for r in rows] == [4.0, 16.0, 36.0, 64.0, 100.0]
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("val_log/val/score")][-2:] == [(8, 64.0), (10, 100.0)]


def test_model_file_rebuilds_the_trained_model_and_says_what_made_it(tmp_path: Path) -> None:
    trained = train(tmp_path / "run", steps=3)
    loaded = load_model(tmp_path / "run" / "model.pt", build)
    assert_same_weights(trained, loaded)
    assert not loaded.training
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert saved["model_config"] == CONFIG
    record = model_provenance(tmp_path / "run" / "model.pt")
    assert (record["paper"], record["dataset"], record["variant"], record["seed"]) == ("toy", "lines", "noisy", 5)
    assert record["steps"] == 3 and record["sizes"] == {"steps": 10} and record["model_config"] == CONFIG
    assert record["machine"]["torch"] == torch.__version__ and record["machine"]["threads"] >= 1
    assert record["machine"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert len(record["code_version"]["package_sha256"]) == 16


def test_models_trained_under_other_cpu_kernels_are_flagged_as_mixed_machines() -> None:
    """Cloud CPUs share a model name; the kernel family torch dispatches to tells them apart."""
    same = {"cpu": "Intel(R) Xeon(R) Processor", "gpu": None, "threads": 2, "torch": "2.13.0+cpu"}
    records = [{"machine": {**same, "cpu_capability": "AVX512"}}, {"machine": {**same, "cpu_capability": "AVX512"}}]
    assert not models_summary(records)["mixed_machines"]
    records[1]["machine"]["cpu_capability"] = "AVX2"
    summary = models_summary(records)
    assert summary["mixed_machines"] and {m["cpu_capability"] for m in summary["machines"]} == {"AVX512", "AVX2"}


def test_checkpoint_write_is_atomic(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "run", steps=10, fail_at=4)  # checkpoint at step 3
    path = tmp_path / "run" / "checkpoint.pt"
    before = path.read_bytes()
    with pytest.raises(Exception):
        atomic_torch_save({"unpicklable": lambda: None}, path)  # fails while serialising
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt", "log.csv", "tensorboard"]
    assert torch.load(path, weights_only=True)["step"] == 3


def test_short_data_iterator_is_reported(tmp_path: Path) -> None:
    model = build(CONFIG)
    trainable = Minimize(model, torch.optim.Adam(model.parameters()))

    def two_batches(start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return (b for _, b in zip(range(2), batches(start)))

    with pytest.raises(RuntimeError, match="ended at step 2"):
        fit(trainable, two_batches, TrainConfig(steps=5, checkpoint_every=3, log_every=2), job(tmp_path / "run"), CONFIG)


def test_non_finite_loss_stops_the_job_naming_the_step(tmp_path: Path) -> None:
    model = build(CONFIG)
    trainable = Minimize(model, torch.optim.Adam(model.parameters()))

    def poisoned(start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for step, (x, y) in enumerate(batches(start), start):
            yield x, (y * float("nan") if step == 3 else y)

    with pytest.raises(FloatingPointError, match="at step 3"):
        fit(trainable, poisoned, TrainConfig(steps=5, checkpoint_every=3, log_every=2), job(tmp_path / "run"), CONFIG)


class TinyGAN:
    """Two networks, two named optimizers, alternating steps: the GAN shape of a Trainable."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.generator = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        self.discriminator = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
        self.opts = {"generator": torch.optim.Adam(self.generator.parameters(), lr=1e-2, betas=(0.5, 0.999)),
                     "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=1e-2, betas=(0.5, 0.999))}

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.opts

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        real = batch[0][:, :2]
        bce = nn.functional.binary_cross_entropy_with_logits
        fake = self.generator(torch.randn(len(real), 2))  # draws from the global RNG: resume must restore it
        d_real, d_fake = self.discriminator(real), self.discriminator(fake.detach())
        d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        minimize(self.opts["discriminator"], d_loss)
        g_loss = bce(self.discriminator(fake), torch.ones_like(d_fake))
        minimize(self.opts["generator"], g_loss)
        return {"loss": g_loss + d_loss, "g_loss": g_loss, "d_loss": d_loss}


def train_gan(out_dir: Path, fail_at: int | None = None) -> TinyGAN:
    gan = TinyGAN()
    fit(gan, lambda s: batches(s, fail_at), TrainConfig(steps=8, checkpoint_every=3, log_every=2), job(out_dir), {})
    return gan


def test_a_gan_with_two_named_optimizers_resumes_to_the_same_weights(tmp_path: Path) -> None:
    reference = train_gan(tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        train_gan(tmp_path / "killed", fail_at=5)  # checkpoint at step 3
    resumed = train_gan(tmp_path / "killed")
    for name in ("generator", "discriminator"):
        assert_same_weights(reference.modules()[name], resumed.modules()[name])
    saved = torch.load(tmp_path / "killed" / "model.pt", weights_only=True)
    assert sorted(saved["state_dicts"]) == ["discriminator", "generator"]
    assert list(read_log(tmp_path / "killed" / "log.csv")[0]) == ["step", "wall_seconds", "loss", "d_loss", "g_loss"]
