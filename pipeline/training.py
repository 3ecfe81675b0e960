"""The one training loop every model of the project trains through.

Models plug in through ``model.training_step(batch) -> dict[str, Tensor]`` (key ``"loss"`` is
back-propagated, every other scalar is logged) and know nothing of this loop. The loop owns
what every long GPU job needs and no model should re-implement: seeding, resuming a killed job
from an atomically written checkpoint so that the resumed run ends with the *same* weights as
an uninterrupted one, a plottable ``log.csv``, a progress bar, and the final ``model.pt``.
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

CHECKPOINT_NAME = "checkpoint.pt"
MODEL_NAME = "model.pt"
LOG_NAME = "log.csv"


@dataclass
class TrainConfig:
    steps: int  # total optimisation steps
    checkpoint_every: int  # steps between checkpoints
    log_every: int  # steps between log rows
    seed: int
    device: str = "auto"  # "auto" -> cuda when available, else cpu

    def __post_init__(self) -> None:
        for name in ("steps", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if value < (0 if name == "steps" else 1):
                raise ValueError(f"TrainConfig.{name} must be positive, got {value}")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` picks CUDA when present so one config runs on a laptop and a GPU node."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def atomic_torch_save(obj: Any, path: Path) -> None:
    """Save to a temporary file beside ``path`` and rename it into place.

    A job killed mid-write leaves the previous file intact (``os.replace`` is atomic on POSIX),
    so a resumed run never reads a truncated checkpoint.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def _rng_state() -> dict[str, Any]:
    """Every global RNG a training step may draw from, in weights_only-loadable types."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": np_state["bit_generator"],
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _scalars(outputs: dict[str, torch.Tensor]) -> dict[str, float]:
    """The loggable entries of a training step's output: every scalar, ``loss`` first."""
    values: dict[str, float] = {}
    for key in ["loss", *sorted(k for k in outputs if k != "loss")]:
        value = outputs[key]
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                continue
            values[key] = float(value.detach())
        elif isinstance(value, (int, float)):
            values[key] = float(value)
    return values


class _LogWriter:
    """Appends rows of ``log.csv``; on resume drops rows past the checkpoint (they are redone)."""

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        self.fields: list[str] | None = None
        if not path.exists():
            return
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            fields = list(reader.fieldnames or [])
            kept = [row for row in reader if int(row["step"]) <= resume_step]
        if resume_step == 0 or not fields:
            path.unlink()
            return
        self.fields = fields
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp_name, path)

    def write(self, row: dict[str, float]) -> None:
        new_file = self.fields is None
        if self.fields is None:
            self.fields = list(row)
        unknown = [key for key in row if key not in self.fields]
        if unknown:
            raise KeyError(
                f"{self.path}: training_step returned new scalar(s) {unknown} not in the log "
                f"header {self.fields}; a model must return the same keys at every step"
            )
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields, restval="")
            if new_file:
                writer.writeheader()
            writer.writerow(row)


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Callable[[int], Iterator[Any]],
    cfg: TrainConfig,
    out_dir: Path,
    model_config: dict,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> Path:
    """Train ``model`` for ``cfg.steps`` steps (resuming from ``out_dir``); returns ``model.pt``.

    ``data(start_step)`` must yield, deterministically, the batches of steps ``start_step``,
    ``start_step + 1``, ... so that a resumed run sees what an uninterrupted one would have.
    Log rows hold the mean of each scalar over the steps since the previous row.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    model.to(device)
    _seed_everything(cfg.seed)

    step, elapsed = 0, 0.0
    sums: dict[str, float] = {}
    count = 0
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if checkpoint_path.exists():
        ckpt = torch.load(checkpoint_path, map_location=device, weights_only=True)
        if ckpt["model_config"] != model_config:
            raise ValueError(
                f"{checkpoint_path} was written for model_config {ckpt['model_config']}, "
                f"not {model_config}; delete it or use another out_dir"
            )
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None:
            if ckpt["scheduler"] is None:
                raise ValueError(f"{checkpoint_path} has no scheduler state but a scheduler was given")
            scheduler.load_state_dict(ckpt["scheduler"])
        step, elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
        sums, count = dict(ckpt["log_sums"]), int(ckpt["log_count"])
        _set_rng_state(ckpt["rng"])
    log = _LogWriter(out_dir / LOG_NAME, step)

    def save_checkpoint() -> None:
        atomic_torch_save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "step": step,
                "elapsed": elapsed,
                "log_sums": sums,
                "log_count": count,
                "rng": _rng_state(),
                "model_config": model_config,
            },
            checkpoint_path,
        )

    model.train()
    if step < cfg.steps:
        batches = iter(data(step))
        bar = tqdm(total=cfg.steps, initial=step, desc=f"train {out_dir.name}", disable=None)
        started = time.perf_counter() - elapsed
        while step < cfg.steps:
            try:
                batch = next(batches)
            except StopIteration:
                raise RuntimeError(
                    f"data iterator for {out_dir} ended at step {step}, before the "
                    f"{cfg.steps} steps of the TrainConfig"
                ) from None
            optimizer.zero_grad(set_to_none=True)
            outputs = model.training_step(batch)
            loss = outputs["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{out_dir}: loss is {float(loss)} at step {step}")
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            bar.update(1)
            for key, value in _scalars(outputs).items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            elapsed = time.perf_counter() - started
            if step % cfg.log_every == 0 or step == cfg.steps:
                means = {key: total / count for key, total in sums.items()}
                log.write({"step": step, "wall_seconds": round(elapsed, 3), **means})
                bar.set_postfix(loss=f"{means['loss']:.4g}")
                sums, count = {}, 0
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save_checkpoint()
        bar.close()

    model_path = out_dir / MODEL_NAME
    atomic_torch_save({"state_dict": model.state_dict(), "model_config": model_config}, model_path)
    return model_path


def load_model(path: Path, build: Callable[[dict], torch.nn.Module]) -> torch.nn.Module:
    """Rebuild a trained model from ``model.pt`` (state_dict + model_config), on CPU, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no trained model at {path}")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    missing = {"state_dict", "model_config"} - set(saved)
    if missing:
        raise KeyError(f"{path} lacks {sorted(missing)}; was it written by pipeline.training.fit?")
    model = build(saved["model_config"])
    model.load_state_dict(saved["state_dict"])
    return model.eval()
