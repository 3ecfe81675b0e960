"""Sizes of the svg paper (Denton & Fergus 2018) per scale: model widths, schedules, sample counts.

Per dataset (``smmnist``, ``kth``, ``bair``): ``model`` holds what ``pipeline.models.svg.SVGConfig``
takes beyond the variant, the backbone and the image channels (those are the algorithm, fixed in
``pipeline.recipes.svg``); ``train`` the schedule of ``pipeline.training.fit``; ``eval`` the
sample counts. The conditioning and training horizons (``n_past``, ``n_future``), |z|, beta and
the learning rate are the paper's at every scale; smaller scales narrow the convolutional
backbone (``width``, the channels of its first stage) and train and sample less. Test-time
generation runs over every frame of the test sequences after the conditioning ones, beyond the
training horizon as in the paper's plots.

Paper values (Sec. 4.1-4.4): |h| = |g| = 128, LSTMs of 256 cells, DCGAN (SM-MNIST) or VGG16
(KTH, BAIR) with 64 channels in the first stage, |z| = 10 / 32 / 64, beta 1e-4 / 1e-6 / 1e-4,
Adam lr 0.002; SM-MNIST 5 -> 10, KTH 10 -> 10, BAIR 2 -> 10; 100 samples per test sequence, the
best kept; Fig. 6 with 500 synchronized sequences over 100 steps. The paper gives no schedule;
``train`` at paper scale is the authors' code default (batch 100, 300 epochs of 600 batches).
"""

from __future__ import annotations

_PAPER_MODELS = {
    "smmnist": {"width": 64, "g_dim": 128, "z_dim": 10, "rnn_size": 256, "n_past": 5, "n_future": 10,
                "beta": 1e-4, "lr": 2e-3},
    "kth": {"width": 64, "g_dim": 128, "z_dim": 32, "rnn_size": 256, "n_past": 10, "n_future": 10,
            "beta": 1e-6, "lr": 2e-3},
    "bair": {"width": 64, "g_dim": 128, "z_dim": 64, "rnn_size": 256, "n_past": 2, "n_future": 10,
             "beta": 1e-4, "lr": 2e-3},
}


def _dataset(name: str, model: dict, train: dict, evaluation: dict) -> dict:
    return {"model": {**_PAPER_MODELS[name], **model}, "train": train, "eval": evaluation}


def _train(steps: int, batch_size: int, checkpoint_every: int, log_every: int) -> dict:
    # steps: optimisation steps; batch_size: sequences per step
    return {"steps": steps, "batch_size": batch_size, "checkpoint_every": checkpoint_every, "log_every": log_every}


def _eval(sequences: int, samples: int, batch_size: int, examples: int) -> dict:
    # sequences: test sequences scored, spread over the test set (0 = all); samples: futures
    # drawn per sequence, the best kept; examples: sequences saved for GIFs
    return {"sequences": sequences, "samples": samples, "batch_size": batch_size, "sample_chunk": 10,
            "examples": examples}


SIZES = {
    "smoke": {
        "smmnist": _dataset("smmnist", {"width": 4, "g_dim": 16, "rnn_size": 16}, _train(3, 4, 2, 1), _eval(4, 3, 4, 1)),
        "kth": _dataset("kth", {"width": 4, "g_dim": 16, "rnn_size": 16}, _train(3, 2, 2, 1), _eval(4, 3, 4, 1)),
        "bair": _dataset("bair", {"width": 4, "g_dim": 16, "rnn_size": 16}, _train(3, 2, 2, 1), _eval(4, 3, 4, 1)),
        # Fig. 5: single-digit sequences sharing one start, first bounce at frame >= min_first_bounce
        "fig5": {"sequences": 3, "samples": 2, "frames": 12, "min_first_bounce": 7},
        # Fig. 6: synchronized sequences (the test set's digit count) fed to the learned prior
        "fig6": {"sequences": 4, "frames": 24},
        # BAIR TFRecords -> Zarr shards; max_sequences per split (0 = all)
        "bair_shards": {"sequences_per_shard": 4, "max_sequences": 8},
        # sample GIFs per evaluated model (at most eval.examples)
        "gifs": 1,
    },
    "demo": {
        # SM-MNIST: the paper's LSTMs and |h|, a DCGAN of width 8; ~6 min per model on 2 cores.
        # SVG-LP > deterministic here; whether SVG-FP's posterior leaves collapse by 2000 steps
        # depends on float summation order (threads). With train.steps 6000 (~1 h for the three,
        # resuming from these checkpoints) LP > FP > deterministic after the bounces, as the paper.
        "smmnist": _dataset("smmnist", {"width": 8}, _train(2000, 16, 100, 25), _eval(64, 100, 32, 4)),
        # KTH, BAIR (VGG at 64x64 is ~10x the DCGAN's cost): the chain runs, nothing is learned yet
        "kth": _dataset("kth", {"width": 4}, _train(200, 4, 50, 25), _eval(32, 10, 16, 4)),
        "bair": _dataset("bair", {"width": 4}, _train(200, 4, 50, 25), _eval(32, 10, 16, 4)),
        "fig5": {"sequences": 20, "samples": 20, "frames": 20, "min_first_bounce": 7},
        "fig6": {"sequences": 100, "frames": 100},
        "bair_shards": {"sequences_per_shard": 256, "max_sequences": 2048},
        "gifs": 2,
    },
    "paper": {
        "smmnist": _dataset("smmnist", {}, _train(180_000, 100, 1000, 100), _eval(0, 100, 16, 8)),
        "kth": _dataset("kth", {}, _train(180_000, 100, 1000, 100), _eval(0, 100, 16, 8)),
        "bair": _dataset("bair", {}, _train(180_000, 100, 1000, 100), _eval(0, 100, 16, 8)),
        "fig5": {"sequences": 100, "samples": 100, "frames": 20, "min_first_bounce": 7},
        "fig6": {"sequences": 500, "frames": 100},
        "bair_shards": {"sequences_per_shard": 1024, "max_sequences": 0},
        "gifs": 4,
    },
}
