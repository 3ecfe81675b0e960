"""The one training loop every model of the project trains through.

What plugs in is a :class:`Trainable`: named modules (saved by name), named optimizers, and a
``training_step(batch, step)`` that takes one optimisation step and returns the scalars to log.
A VAE or a classifier is wrapped in :class:`Minimize` (one optimizer, minimise the network's
``losses(batch)["loss"]``); a GAN implements ``training_step`` itself and chooses which of its
optimizers steps. The loop owns what every long GPU job needs and no model should
re-implement:

* the precision of a step (float32, or bfloat16 autocast for speed on GPUs and bfloat16 CPUs);
* seeding, and resuming a killed job from an atomically written checkpoint so that the resumed
  run ends with the *same* weights as an uninterrupted one;
* a checkpoint lifecycle a researcher can trust: a checkpoint exists only while a run is
  unfinished and is resumed only when it was made from the same inputs, sizes, seed and code
  (:class:`TrainingJob`); otherwise the run starts at step 0 and the log says why;
* ``model.pt`` carrying what made it (``pipeline.provenance``);
* ``log.csv``, TensorBoard event files and a progress line with steps/s and time left;
* periodic evaluations (hold-out losses, per-epoch scores) written beside the log and truncated
  with it on resume.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch.utils.tensorboard import SummaryWriter

from pipeline import provenance
from pipeline.atomic import publishing, write_csv
from pipeline.rng import rng_state, seed_everything, set_rng_state
from pipeline.torch_setup import configure_torch

log = logging.getLogger(__name__)

PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
"""How a training step computes: ``fp32`` as the papers' code; ``bf16`` under ``torch.autocast``
(convolutions, matrix products and LSTMs in bfloat16; weights, optimizer state and reductions in
float32): up to two to three times as fast on GPUs and on CPUs with bfloat16 units (AMX,
AVX512-BF16), slower where the CPU lacks fast bfloat16 kernels. Another precision trains other
weights: a checkpoint of one is never resumed by the other."""

CHECKPOINT_NAME = "checkpoint.pt"
MODEL_NAME = "model.pt"
LOG_NAME = "log.csv"
TENSORBOARD_DIR = "tensorboard"


@dataclass
class TrainConfig:
    steps: int  # total optimisation steps
    checkpoint_every: int  # steps between checkpoints
    log_every: int  # steps between log rows (and progress lines)
    preview_every: int = 0  # steps between sample images in TensorBoard (0: at the end only)

    def __post_init__(self) -> None:
        for name in ("steps", "checkpoint_every", "log_every", "preview_every"):
            value = getattr(self, name)
            if value < (1 if name in ("checkpoint_every", "log_every") else 0):
                raise ValueError(f"TrainConfig.{name} must be positive, got {value}")


@dataclass(frozen=True)
class TrainingJob:
    """One training job of the graph: which model, from which files and sizes, where it goes.

    Its :meth:`identity` is what a checkpoint must have been made from to be resumed.
    """

    paper: str
    dataset: str
    variant: str
    out_dir: Path
    sizes: Mapping[str, Any] = field(default_factory=dict)  # the part of the paper's sizes it reads
    inputs: Mapping[str, Any] = field(default_factory=dict)  # name -> file or folder it reads
    seed: int = 0
    device: str = "auto"  # "auto" -> cuda when available, else cpu
    threads: int | None = None  # CPU threads of its kernels (None: torch's, from OMP_NUM_THREADS)
    precision: str = "fp32"  # PRECISIONS: the forward passes of a training step in float32 or bfloat16 autocast

    def identity(self, model_config: Mapping[str, Any]) -> dict[str, Any]:
        # The thread count is part of it: CPU kernels split their sums by thread, so a checkpoint made
        # with another count would resume into weights neither count gives.
        return {
            "paper": self.paper, "dataset": self.dataset, "variant": self.variant, "seed": int(self.seed),
            "threads": int(self.threads or torch.get_num_threads()), "precision": self.precision,
            "sizes": provenance.plain(self.sizes), "model_config": provenance.plain(model_config),
            "inputs": provenance.fingerprint_inputs(self.inputs), "code": provenance.package_hash(),
        }


class Trainable(Protocol):
    """What the loop trains."""

    def modules(self) -> Mapping[str, torch.nn.Module]: ...  # saved by name in model.pt

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]: ...

    def training_step(self, batch: Any, step: int) -> Mapping[str, Any]: ...  # scalars to log


def minimize(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One optimisation step on ``loss``; a non-finite loss stops the job before it poisons the weights."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {float(loss.detach())}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


class Minimize:
    """The common case: one network, one optimizer (and an optional schedule), minimise ``loss``.

    The network provides ``losses(batch) -> {"loss": ..., other terms}``; every scalar term is logged.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": self.optimizer}

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"model": self.scheduler} if self.scheduler is not None else {}

    def training_step(self, batch: Any, step: int) -> dict[str, Any]:
        outputs = self.model.losses(batch)
        minimize(self.optimizer, outputs["loss"])
        if self.scheduler is not None:
            self.scheduler.step()
        return outputs


@dataclass
class Evaluation:
    """Rows of scores written to ``out_dir/<file>`` after the steps in ``at`` (curves of a run).

    ``run(step)`` returns the rows; it runs in eval mode under a forked RNG, so scoring never
    changes what training draws next.
    """

    file: str
    at: Callable[[int], bool]
    run: Callable[[int], Sequence[Mapping[str, Any]]]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` picks CUDA when present so one config runs on a laptop and a GPU node."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` has fast bfloat16 kernels: a GPU with bfloat16 units, or a CPU where oneDNN
    runs bfloat16 (AVX512 and newer, natively with AVX512-BF16 / AMX); elsewhere autocast mostly adds
    conversions."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` published atomically: a job killed mid-write leaves the previous file intact."""
    with publishing(path) as tmp:
        torch.save(obj, tmp)


def _scalars(outputs: Mapping[str, Any]) -> dict[str, float]:
    """The loggable entries of a training step's output: every scalar, ``loss`` first."""
    values: dict[str, float] = {}
    for key in sorted(outputs, key=lambda k: (k != "loss", k)):
        value = outputs[key]
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                continue
            values[key] = float(value.detach())
        elif isinstance(value, (int, float)):
            values[key] = float(value)
    return values


class _RowLog:
    """A CSV of rows keyed by ``step``; on resume the rows past the checkpoint are dropped (redone)."""

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        self.fields: list[str] | None = None
        if not path.exists():
            return
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            fields = list(reader.fieldnames or [])
            kept = [row for row in reader if int(float(row["step"])) <= resume_step]
        if resume_step == 0 or not fields:
            path.unlink()
            return
        self.fields = fields
        write_csv(_frame(kept, fields), path)

    def write(self, row: Mapping[str, Any]) -> None:
        new_file = self.fields is None
        if self.fields is None:
            self.fields = list(row)
        unknown = [key for key in row if key not in self.fields]
        if unknown:
            raise KeyError(f"{self.path}: new column(s) {unknown} not in the header {self.fields}; "
                           "a step must return the same keys every time")
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields, restval="")
            if new_file:
                writer.writeheader()
            writer.writerow(row)


def _frame(rows: list[dict[str, Any]], fields: list[str]) -> Any:

    return pd.DataFrame.from_records(rows, columns=fields)


def _board_row(board: SummaryWriter, file: str, row: Mapping[str, Any], step: int) -> None:
    """An evaluation row's numbers as TensorBoard scalars, e.g. ``epoch_log/val/top1``."""
    prefix = Path(file).stem + (f"/{row['set']}" if "set" in row else "")
    for key, value in row.items():
        if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and key != "epoch":
            board.add_scalar(f"{prefix}/{key}", float(value), step)


def _schedulers(trainable: Trainable) -> Mapping[str, Any]:
    get = getattr(trainable, "schedulers", None)
    return get() if get is not None else {}


def _train_mode(trainable: Trainable, training: bool) -> None:
    for module in trainable.modules().values():
        module.train(training)


def _load_checkpoint(path: Path, identity: Mapping[str, Any], steps: int, device: torch.device) -> dict | None:
    """The checkpoint to resume, or None with the reason logged (and the stale file removed)."""
    if not path.exists():
        return None
    ckpt = torch.load(path, map_location=device, weights_only=True)
    made_from = ckpt.get("identity", {})
    differs = sorted(k for k in set(identity) | set(made_from) if identity.get(k) != made_from.get(k))
    reason = None
    if differs:
        reason = f"it was made from other {', '.join(differs)}"
    elif int(ckpt["step"]) >= steps:
        reason = f"it is a finished run's (step {int(ckpt['step'])} of {steps})"
    if reason is None:
        return ckpt
    log.warning("not resuming from %s: %s; training from step 0", path, reason)
    path.unlink()
    return None


def _time_left(done: int, total: int, seconds: float) -> str:
    if done <= 0:
        return "?"
    left = seconds / done * (total - done)
    return time.strftime("%H:%M:%S", time.gmtime(left)) if left < 86400 else f"{left / 3600:.0f} h"


def fit(
    trainable: Trainable,
    data: Callable[[int], Iterator[Any]],
    cfg: TrainConfig,
    job: TrainingJob,
    model_config: Mapping[str, Any],
    evaluations: Sequence[Evaluation] = (),
    preview: Callable[[], Mapping[str, np.ndarray]] | None = None,
) -> Path:
    """Train ``trainable`` for ``cfg.steps`` steps into ``job.out_dir``; returns ``model.pt``.

    ``data(start_step)`` must yield, deterministically, the batches of steps ``start_step``,
    ``start_step + 1``, ... so that a resumed run sees what an uninterrupted one would have.
    Log rows hold the mean of each scalar over the steps since the previous row. ``preview()``
    returns named images (H, W[, C] uint8, or (N, H, W[, C]) grids) shown in TensorBoard.
    """
    if job.precision not in PRECISIONS:
        raise ValueError(f"precision: {job.precision!r} is not one of {', '.join(PRECISIONS)}")
    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    configure_torch(job.threads)  # a no-op when the job's script did it first, as it should
    device = resolve_device(job.device)
    step_precision = contextlib.nullcontext  # fp32: the step as the papers' code runs it
    if job.precision == "bf16":
        # the whole step: backward ops run in the dtypes autocast gave their forward ops
        step_precision = partial(torch.autocast, device.type, dtype=torch.bfloat16)
        log.info("training steps under bfloat16 autocast (weights and optimizer in float32)%s",
                 "" if bf16_native(device) else f"; this {device.type} lacks fast bfloat16 kernels: expect it slower")
    modules, optimizers, schedulers = trainable.modules(), trainable.optimizers(), _schedulers(trainable)
    for module in modules.values():
        module.to(device)
    seed_everything(job.seed)
    identity = job.identity(model_config)

    step, elapsed, count = 0, 0.0, 0
    sums: dict[str, float] = {}
    checkpoint_path = out_dir / CHECKPOINT_NAME
    ckpt = _load_checkpoint(checkpoint_path, identity, cfg.steps, device)
    if ckpt is not None:
        for name, module in modules.items():
            module.load_state_dict(ckpt["modules"][name])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(ckpt["optimizers"][name])
        for name, scheduler in schedulers.items():
            scheduler.load_state_dict(ckpt["schedulers"][name])
        step, elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
        sums, count = dict(ckpt["log_sums"]), int(ckpt["log_count"])
        set_rng_state(ckpt["rng"])
        log.info("resumed at step %d of %d from %s", step, cfg.steps, checkpoint_path)
    else:
        log.info("training from step 0 of %d into %s", cfg.steps, out_dir)
        shutil.rmtree(out_dir / TENSORBOARD_DIR, ignore_errors=True)  # a new run's curves, not two overlaid
    resumed_at = step
    loss_log = _RowLog(out_dir / LOG_NAME, step)
    eval_logs = [_RowLog(out_dir / e.file, step) for e in evaluations]
    board = SummaryWriter(str(out_dir / TENSORBOARD_DIR), purge_step=step + 1 if step else None)

    def save_checkpoint() -> None:
        atomic_torch_save(
            {
                "modules": {name: m.state_dict() for name, m in modules.items()},
                "optimizers": {name: o.state_dict() for name, o in optimizers.items()},
                "schedulers": {name: s.state_dict() for name, s in schedulers.items()},
                "step": step, "elapsed": elapsed, "log_sums": sums, "log_count": count,
                "rng": rng_state(), "identity": identity,
            },
            checkpoint_path,
        )

    def show_preview() -> None:
        if preview is None:
            return
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            _train_mode(trainable, False)
            images = preview()
            _train_mode(trainable, True)
        for tag, image in images.items():
            image = np.asarray(image)
            if image.ndim == 2 or (image.ndim == 3 and image.shape[-1] not in (1, 3)):
                image = image[..., None]  # grey: (H, W) or (N, H, W)
            if image.ndim == 3:
                board.add_image(tag, image, step, dataformats="HWC")
            else:
                board.add_images(tag, image, step, dataformats="NHWC")

    _train_mode(trainable, True)
    started = time.perf_counter() - elapsed
    run_started = window_start = time.perf_counter()
    window_steps = 0
    if step < cfg.steps:
        batches = iter(data(step))
        while step < cfg.steps:
            try:
                batch = next(batches)
            except StopIteration:
                raise RuntimeError(f"data iterator for {out_dir} ended at step {step}, before the "
                                   f"{cfg.steps} steps of the TrainConfig") from None
            try:
                with step_precision():
                    outputs = trainable.training_step(batch, step)
            except FloatingPointError as error:
                raise FloatingPointError(f"{out_dir}: {error} at step {step}") from error
            step += 1
            window_steps += 1
            for key, value in _scalars(outputs).items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            elapsed = time.perf_counter() - started
            if step % cfg.log_every == 0 or step == cfg.steps:
                means = {key: total / count for key, total in sums.items()}
                seconds = time.perf_counter() - window_start
                rate = window_steps / seconds if seconds > 0 else float("nan")
                loss_log.write({"step": step, "wall_seconds": round(elapsed, 3), **means})
                for key, value in means.items():
                    board.add_scalar(f"loss/{key}", value, step)
                for name, optimizer in optimizers.items():
                    board.add_scalar(f"lr/{name}", optimizer.param_groups[0]["lr"], step)
                board.add_scalar("time/steps_per_second", rate, step)
                log.info("step %d/%d  %s  %.2f steps/s  %s left", step, cfg.steps,
                         "  ".join(f"{k} {v:.4g}" for k, v in list(means.items())[:4]), rate,
                         _time_left(step - resumed_at, cfg.steps - resumed_at, time.perf_counter() - run_started))
                sums, count = {}, 0
                window_start, window_steps = time.perf_counter(), 0
            for evaluation, rows in zip(evaluations, eval_logs, strict=True):
                if evaluation.at(step):
                    with torch.random.fork_rng(devices=[]):
                        _train_mode(trainable, False)
                        for row in evaluation.run(step):
                            rows.write({"step": step, **row})
                            _board_row(board, evaluation.file, row, step)
                        _train_mode(trainable, True)
            if cfg.preview_every and step % cfg.preview_every == 0:
                show_preview()
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save_checkpoint()
    show_preview()
    board.close()

    record = provenance.model_record(identity, steps=step, wall_seconds=elapsed, resumed_at=resumed_at,
                                     device=device)
    model_path = out_dir / MODEL_NAME
    atomic_torch_save({"state_dicts": {name: m.state_dict() for name, m in modules.items()},
                       "model_config": dict(model_config), "provenance": record}, model_path)
    checkpoint_path.unlink(missing_ok=True)  # a finished run leaves no checkpoint a later run could take
    log.info("wrote %s after %d steps (%.0f s)", model_path, step, elapsed)
    return model_path

