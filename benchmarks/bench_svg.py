"""svg speed: evaluation throughput (old path vs new) and a training step against the authors' code.

Run from the repository root (2 cores; nothing else heavy running):

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python benchmarks/bench_svg.py [--quick] [--threads 1]

1. Evaluation, sequences x samples per second, on an SM-MNIST model at the demo size and a KTH
   model (VGG) at the demo size:
   * old: the path before issue 14 (kept here, callable): samples drawn ``sample_chunk`` (10) at a
     time, each re-encoding the conditioning frames, scored by scikit-image per frame and channel
     in a Python loop (``metrics.frame_scores_skimage``);
   * new: ``metrics.evaluate_svg``: conditioning frames encoded once per sequence, the 100 samples
     drawn as one batch, SSIM and PSNR batched in torch (torchmetrics, frames as the channels of one image).
   Goal: new >= 10x old. Scoring alone is printed first (scikit-image's loop against torchmetrics).
   Each model's line is followed by its two parts, drawing the futures and scoring them, and the
   bound on the speed-up when scoring costs nothing: the model's forward pass (encoder, LSTMs,
   decoder per generated frame) is the same work in both paths, and on a CPU it is most of the
   time, so 10x is out of reach there; on a GPU, drawing and scoring both run on the device and
   the scikit-image loop is what is left on the CPU.
2. SM-MNIST training batches (100 sequences x 15 frames, the paper configuration): the rendering
   before issue 14 against the current one, beside the whole batch (trajectories included).
3. One training step (forward, backward, Adam) at the SM-MNIST paper configuration (DCGAN width
   64, |h| = |g| = 128, |z| = 10, LSTMs of 256 cells, 5 + 10 frames), ours against the authors'
   modules (ported below from edenton/svg ``models/lstm.py``, ``models/dcgan_64.py`` and
   ``train_svg_lp.py``'s ``train``: LSTMCell loops, every frame encoded twice per step), at batch 16
   (``--quick``), 32 and the paper's 100. Ours encodes each frame once and computes the skips' part of
   the decoder once per known frame (the decoders' ``skip_terms`` in ``backbones``), about 1.7x fewer
   convolution FLOPs. Goal: ours >= 1.5x faster. A third line times ours under ``precision: bf16`` (bfloat16
   autocast, opt-in: other numerics), against the same float32 reference.

The process is set up as the graph's jobs are (``torch_setup.configure_torch``: denormals flushed, freed
memory kept, ``pipeline.allocator``), so both arms of every comparison run under the same allocator.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from torch import nn

from pipeline.papers.svg import metrics
from pipeline.papers.svg.model import SVG, SVGConfig, frames_to_batch, make_optimizer
from pipeline.papers.svg.spec import SIZES
from pipeline.synthetic import smmnist
from pipeline.synthetic.digits import load_digits_sklearn, resize_digits
from pipeline.torch_setup import configure_torch
from pipeline.training import bf16_native

# ----------------------------------------------------------------------------- the authors' modules (reference)


class AuthorsLSTM(nn.Module):
    """edenton/svg models/lstm.py ``lstm`` (CPU)."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int, n_layers: int, batch_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.n_layers, self.batch_size = input_size, hidden_size, n_layers, batch_size
        self.embed = nn.Linear(input_size, hidden_size)
        self.lstm = nn.ModuleList([nn.LSTMCell(hidden_size, hidden_size) for _ in range(n_layers)])
        self.output = nn.Sequential(nn.Linear(hidden_size, output_size), nn.Tanh())
        self.hidden = self.init_hidden()

    def init_hidden(self):
        return [(torch.zeros(self.batch_size, self.hidden_size), torch.zeros(self.batch_size, self.hidden_size))
                for _ in range(self.n_layers)]

    def forward(self, x):
        h_in = self.embed(x.view(-1, self.input_size))
        for i in range(self.n_layers):
            self.hidden[i] = self.lstm[i](h_in, self.hidden[i])
            h_in = self.hidden[i][0]
        return self.output(h_in)


class AuthorsGaussianLSTM(AuthorsLSTM):
    """edenton/svg models/lstm.py ``gaussian_lstm``."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int, n_layers: int, batch_size: int) -> None:
        super().__init__(input_size, output_size, hidden_size, n_layers, batch_size)
        del self.output
        self.mu_net = nn.Linear(hidden_size, output_size)
        self.logvar_net = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        h_in = self.embed(x.view(-1, self.input_size))
        for i in range(self.n_layers):
            self.hidden[i] = self.lstm[i](h_in, self.hidden[i])
            h_in = self.hidden[i][0]
        mu, logvar = self.mu_net(h_in), self.logvar_net(h_in)
        z = torch.randn_like(mu).mul(logvar.mul(0.5).exp()).add(mu)
        return z, mu, logvar


def _conv(nin: int, nout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(nin, nout, 4, 2, 1), nn.BatchNorm2d(nout), nn.LeakyReLU(0.2, inplace=True))


def _upconv(nin: int, nout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(nin, nout, 4, 2, 1), nn.BatchNorm2d(nout), nn.LeakyReLU(0.2, inplace=True))


class AuthorsEncoder(nn.Module):
    """edenton/svg models/dcgan_64.py ``encoder``."""

    def __init__(self, dim: int, nc: int = 1) -> None:
        super().__init__()
        nf, self.dim = 64, dim
        self.c1, self.c2, self.c3, self.c4 = _conv(nc, nf), _conv(nf, nf * 2), _conv(nf * 2, nf * 4), _conv(nf * 4, nf * 8)
        self.c5 = nn.Sequential(nn.Conv2d(nf * 8, dim, 4, 1, 0), nn.BatchNorm2d(dim), nn.Tanh())

    def forward(self, x):
        h1 = self.c1(x)
        h2 = self.c2(h1)
        h3 = self.c3(h2)
        h4 = self.c4(h3)
        return self.c5(h4).view(-1, self.dim), [h1, h2, h3, h4]


class AuthorsDecoder(nn.Module):
    """edenton/svg models/dcgan_64.py ``decoder``."""

    def __init__(self, dim: int, nc: int = 1) -> None:
        super().__init__()
        nf, self.dim = 64, dim
        self.upc1 = nn.Sequential(nn.ConvTranspose2d(dim, nf * 8, 4, 1, 0), nn.BatchNorm2d(nf * 8),
                                  nn.LeakyReLU(0.2, inplace=True))
        self.upc2, self.upc3, self.upc4 = _upconv(nf * 16, nf * 4), _upconv(nf * 8, nf * 2), _upconv(nf * 4, nf)
        self.upc5 = nn.Sequential(nn.ConvTranspose2d(nf * 2, nc, 4, 2, 1), nn.Sigmoid())

    def forward(self, inp):
        vec, skip = inp
        d1 = self.upc1(vec.view(-1, self.dim, 1, 1))
        d2 = self.upc2(torch.cat([d1, skip[3]], 1))
        d3 = self.upc3(torch.cat([d2, skip[2]], 1))
        d4 = self.upc4(torch.cat([d3, skip[1]], 1))
        return self.upc5(torch.cat([d4, skip[0]], 1))


class AuthorsSVGLP:
    """train_svg_lp.py's models, five Adam optimizers and its ``train(x)`` step."""

    def __init__(self, batch_size: int, g_dim: int = 128, z_dim: int = 10, rnn_size: int = 256,
                 n_past: int = 5, n_future: int = 10, beta: float = 1e-4, lr: float = 2e-3) -> None:
        self.n_past, self.n_future, self.beta, self.batch_size = n_past, n_future, beta, batch_size
        self.frame_predictor = AuthorsLSTM(g_dim + z_dim, g_dim, rnn_size, 2, batch_size)
        self.posterior = AuthorsGaussianLSTM(g_dim, z_dim, rnn_size, 1, batch_size)
        self.prior = AuthorsGaussianLSTM(g_dim, z_dim, rnn_size, 1, batch_size)
        self.encoder, self.decoder = AuthorsEncoder(g_dim), AuthorsDecoder(g_dim)
        self.modules = [self.frame_predictor, self.posterior, self.prior, self.encoder, self.decoder]
        self.optimizers = [torch.optim.Adam(m.parameters(), lr=lr, betas=(0.9, 0.999)) for m in self.modules]
        self.mse = nn.MSELoss()

    def n_parameters(self) -> int:
        return sum(p.numel() for m in self.modules for p in m.parameters())

    def kl(self, mu1, logvar1, mu2, logvar2):
        sigma1, sigma2 = logvar1.mul(0.5).exp(), logvar2.mul(0.5).exp()
        kld = torch.log(sigma2 / sigma1) + (torch.exp(logvar1) + (mu1 - mu2) ** 2) / (2 * torch.exp(logvar2)) - 0.5
        return kld.sum() / self.batch_size

    def train(self, x: list[torch.Tensor]) -> float:
        for m in self.modules:
            m.zero_grad()
        self.frame_predictor.hidden = self.frame_predictor.init_hidden()
        self.posterior.hidden = self.posterior.init_hidden()
        self.prior.hidden = self.prior.init_hidden()
        mse = kld = 0
        for i in range(1, self.n_past + self.n_future):
            h = self.encoder(x[i - 1])
            h_target = self.encoder(x[i])[0]
            if i < self.n_past:
                h, skip = h
            else:
                h = h[0]
            z_t, mu, logvar = self.posterior(h_target)
            _, mu_p, logvar_p = self.prior(h)
            h_pred = self.frame_predictor(torch.cat([h, z_t], 1))
            x_pred = self.decoder([h_pred, skip])
            mse = mse + self.mse(x_pred, x[i])
            kld = kld + self.kl(mu, logvar, mu_p, logvar_p)
        loss = mse + kld * self.beta
        loss.backward()
        for opt in self.optimizers:
            opt.step()
        return float(loss.detach())


# ----------------------------------------------------------------------------- evaluation, old path


def evaluate_old(model: SVG, frames: np.ndarray, n_cond: int, n_future: int, n_samples: int, seed: int,
                 batch_size: int = 16, sample_chunk: int = 10, bn_mode: str = "train") -> tuple[float, float]:
    """The evaluation before issue 14: chunks of samples, conditioning frames re-encoded for every
    sample (the input repeated), scikit-image per frame and channel. Returns the seconds spent
    generating and scoring."""
    t_gen = t_score = 0.0
    for b, start in enumerate(range(0, len(frames), batch_size)):
        x = frames_to_batch(frames[start : start + batch_size, : n_cond + n_future])
        truth = x[:, n_cond:].numpy()
        for first in range(0, n_samples, sample_chunk):
            count = min(sample_chunk, n_samples - first)
            t0 = time.perf_counter()
            rep = x[:, :n_cond].repeat(count, 1, 1, 1, 1)  # every sample encodes its own copy
            gen = model.generate(rep, n_future, 1, seed=seed + b * 1000 + first, bn_mode=bn_mode)[0]
            gen = gen.view(count, len(x), *gen.shape[1:]).numpy()
            t1 = time.perf_counter()
            metrics.frame_scores_skimage(np.broadcast_to(truth, gen.shape), gen)
            t_gen, t_score = t_gen + t1 - t0, t_score + time.perf_counter() - t1
    return t_gen, t_score


def _time(fn, repeat: int = 1, warm_up: bool = True) -> float:
    if warm_up:
        fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def bench_scores(n_frames: int) -> None:
    """Scoring alone: scikit-image's per-frame loop (the old path) against the batched torch scores
    (torchmetrics, ``metrics.SCORE_CHUNK`` frame channels per call, and 1024 for comparison)."""
    rng = np.random.default_rng(0)
    truth = rng.random((n_frames, 1, 64, 64))
    pred = np.clip(truth + 0.1 * rng.standard_normal(truth.shape), 0, 1)
    few = max(1, n_frames // 4)
    t_old = _time(lambda: metrics.frame_scores_skimage(truth[:few], pred[:few]))
    old_rate = few / t_old
    chunk = metrics.SCORE_CHUNK
    for size in (chunk, 1024):
        metrics.SCORE_CHUNK = size
        new_rate = n_frames / _time(lambda: metrics.frame_scores(truth, pred))
        print(f"{f'scores, torch {size} per call':<34} {old_rate:>12.0f} {new_rate:>12.0f} "
              f"{new_rate / old_rate:>8.1f}x")
    metrics.SCORE_CHUNK = chunk


def bench_evaluation(name: str, cfg: SVGConfig, frames: np.ndarray, n_sequences: int, n_samples: int,
                     old_samples: int, chunk: int, repeats: int) -> None:
    """Both paths on the same ``n_sequences`` (one batch of sequences, as the demo's evaluation),
    batch norm as the authors' script (batch statistics) in both; the old path draws
    ``old_samples`` (chunks of 10, each costing the same, so its throughput does not depend on how
    many chunks), the new one all ``n_samples``, ``chunk`` per forward pass (the demo's
    ``eval.sample_chunk``). Then each path split into drawing the futures and scoring them (and
    the new path's drawing with every sample in one pass): the model's forward pass (encoder,
    LSTMs, decoder per generated frame) is the same work in both, so it bounds the speed-up
    (printed: old time over the new drawing time). Each is the fastest of ``repeats`` interleaved runs."""
    torch.manual_seed(0)
    model = SVG(cfg).eval()
    n_cond, n_future = cfg.n_past, frames.shape[1] - cfg.n_past
    x = frames[:n_sequences]
    model.generate(frames_to_batch(x[:2, :n_cond]), 2, 2)  # warm-up (kernels, allocator)
    xb = frames_to_batch(x[:, : n_cond + n_future])

    def draw(step: int) -> list[torch.Tensor]:
        return [model.generate(xb[:, :n_cond], n_future, min(step, n_samples - first), seed=0, bn_mode="train",
                               first_sample=first) for first in range(0, n_samples, step)]

    samples = torch.cat(draw(chunk or n_samples))
    runs: dict[str, list[float]] = {}
    for _ in range(repeats):  # interleaved, the fastest of each kept: a change of machine load hits all alike
        for key, seconds in zip(("old_gen", "old_score"),
                                evaluate_old(model, x, n_cond, n_future, old_samples, 0, batch_size=n_sequences)):
            runs.setdefault(key, []).append(seconds)
        runs.setdefault("new", []).append(_time(lambda: metrics.evaluate_svg(
            model, x, n_cond, n_future, n_samples, 0, batch_size=n_sequences, sample_chunk=chunk, n_examples=0),
            warm_up=False))
        runs.setdefault("new_gen", []).append(_time(lambda: draw(chunk or n_samples), warm_up=False))
        runs.setdefault("one_pass", []).append(_time(lambda: draw(n_samples), warm_up=False))
        runs.setdefault("new_score", []).append(_time(
            lambda: metrics.frame_scores_torch(xb[:, n_cond:].expand_as(samples), samples), warm_up=False))
    old_gen, old_score, t_new, new_gen, one_pass, new_score = (
        min(runs[k]) for k in ("old_gen", "old_score", "new", "new_gen", "one_pass", "new_score"))
    per_old, per_new = n_sequences * old_samples, n_sequences * n_samples  # sequences x samples
    old_rate, new_rate = per_old / (old_gen + old_score), per_new / t_new
    print(f"{name:<34} {old_rate:>12.1f} {new_rate:>12.1f} {new_rate / old_rate:>8.1f}x   "
          f"({n_sequences} sequences, {n_cond} -> {n_future} frames; old: {old_samples} samples in chunks of 10, "
          f"{old_gen + old_score:.1f} s; new: {n_samples} samples, {chunk or n_samples} per pass, {t_new:.1f} s)")
    ms = 1000.0 / n_future  # seconds per (sequence x sample) -> ms per generated frame
    old_ms = old_gen / per_old * ms
    for label, seconds in ((f"{chunk or n_samples} samples per pass", new_gen), (f"{n_samples} per pass", one_pass)):
        new_ms = seconds / per_new * ms
        print(f"{'  drawing, ms/frame (' + label + ')':<34} {old_ms:>12.3f} {new_ms:>12.3f} {old_ms / new_ms:>8.1f}x")
    old_ms, new_ms = old_score / per_old * ms, new_score / per_new * ms
    print(f"{'  scoring, ms/frame':<34} {old_ms:>12.3f} {new_ms:>12.3f} {old_ms / new_ms:>8.1f}x")
    bound = ((old_gen + old_score) / per_old) / (new_gen / per_new)
    print(f"{'  bound: scoring free, same drawing':<34} {'':>12} {'':>12} {bound:>8.1f}x")


def bench_smmnist_batches(batch_size: int, steps: int) -> None:
    """SM-MNIST training batches at the paper configuration (5 + 10 frames): seconds per batch, the
    rendering before issue 14 (``render_old``) against ``smmnist.render_frames``, same trajectories."""
    cfg = smmnist.SMMNISTConfig(seq_len=15)
    digits = resize_digits(load_digits_sklearn(size=28, split="train"), 32)
    rng = np.random.default_rng(0)
    trajectories = [smmnist.sample_trajectories(cfg, batch_size, rng)[0] for _ in range(steps)]
    picks = [digits[rng.integers(0, len(digits), size=(batch_size, cfg.num_digits))] for _ in range(steps)]
    for pos, dig in zip(trajectories[:1], picks[:1]):
        assert np.array_equal(render_old(cfg, dig, pos), smmnist.render_frames(cfg, dig, pos))
    t_old = _time(lambda: [render_old(cfg, d, p) for p, d in zip(trajectories, picks)]) / steps
    t_new = _time(lambda: [smmnist.render_frames(cfg, d, p) for p, d in zip(trajectories, picks)]) / steps
    whole = _time(lambda: [next(smmnist.training_batches(cfg, digits, batch_size, 0, k)) for k in range(steps)]) / steps
    print(f"{'render, batch ' + str(batch_size) + ' x 15 frames':<34} {t_old:>11.4f}s {t_new:>11.4f}s "
          f"{t_old / t_new:>8.1f}x   (whole batch with trajectories: {whole:.4f} s)")


def render_old(cfg: smmnist.SMMNISTConfig, digit_images: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``smmnist.render_frames`` before issue 14: a fancy-indexed add of every digit pixel."""
    n, t_len, d, _ = positions.shape
    s, size = cfg.digit_size, cfg.image_size
    out = np.empty((n, t_len, size, size), np.uint8)
    ar = np.arange(s)
    chunk = max(1, 2**22 // (t_len * size * size))
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        canvas = np.zeros((b - a, t_len, size, size), np.uint16)
        ni = np.arange(b - a)[:, None, None, None]
        ti = np.arange(t_len)[None, :, None, None]
        for k in range(d):
            rows = positions[a:b, :, k, 1, None, None].astype(np.intp) + ar[:, None]
            cols = positions[a:b, :, k, 0, None, None].astype(np.intp) + ar[None, :]
            canvas[ni, ti, rows, cols] += digit_images[a:b, k][:, None]
        np.minimum(canvas, 255, out=canvas)
        out[a:b] = canvas
    return out


def bench_training(batch_size: int, steps: int) -> None:
    length = 15
    digits = resize_digits(load_digits_sklearn(size=28, split="train"), 32)
    batch = frames_to_batch(next(smmnist.training_batches(smmnist.SMMNISTConfig(seq_len=length), digits, batch_size, 0)))
    torch.manual_seed(0)
    ours = SVG(SVGConfig(variant="lp", backbone="dcgan", channels=1))  # paper sizes are the defaults
    opt = make_optimizer(ours)

    def our_step(bf16: bool = False) -> None:  # bf16: as the loop's ``precision: bf16``
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            ours.losses(batch)["loss"].backward()
            opt.step()

    theirs = AuthorsSVGLP(batch_size)
    seq = list(batch.transpose(0, 1))  # their layout: a list over time of (B, C, H, W)
    n_ours = sum(p.numel() for p in ours.parameters())
    assert n_ours == theirs.n_parameters(), (n_ours, theirs.n_parameters())
    theirs.train(seq)  # warm-up
    our_step()
    our_step(bf16=True)
    times = []  # interleaved, so a change of machine load hits all alike
    for _ in range(steps):
        times.append((_time(lambda: theirs.train(seq), warm_up=False), _time(our_step, warm_up=False),
                      _time(lambda: our_step(bf16=True), warm_up=False)))
    t_theirs, t_ours, t_bf16 = np.median(np.asarray(times), axis=0)
    print(f"{'SM-MNIST paper config, batch ' + str(batch_size):<34} {t_theirs:>11.3f}s {t_ours:>11.3f}s "
          f"{t_theirs / t_ours:>8.2f}x   ({n_ours:,} parameters each, median of {steps} interleaved steps)")
    native = "" if bf16_native(torch.device("cpu")) else ", this CPU lacks fast bfloat16 kernels"
    print(f"{'  ours, precision bf16 (autocast)':<34} {'':>12} {t_bf16:>11.3f}s {t_theirs / t_bf16:>8.2f}x   "
          f"(other numerics: opt-in{native})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sequences and steps (about 2 minutes idle)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 cores: 2; a loaded machine: try 1)")
    args = parser.parse_args()
    configure_torch(args.threads)  # as every training and evaluation job: denormals flushed, freed memory kept
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'SSIM + PSNR (frames/s, 64x64)':<34} {'skimage':>12} {'torch':>12} {'speed-up':>9}")
    bench_scores(500 if args.quick else 2000)
    print()
    print(f"{'evaluation (sequences x samples/s)':<34} {'old':>12} {'new':>12} {'speed-up':>9}")
    digits = resize_digits(load_digits_sklearn(size=28, split="test"), 32)
    # the demo's test sequences: 5 conditioning + 25 predicted frames (SM-MNIST), 10 + 20 (KTH)
    sm = smmnist.generate(smmnist.SMMNISTConfig(seq_len=30), digits, 16, np.random.default_rng(0)).frames
    n, old_samples = (4, 20) if args.quick else (16, 30)
    repeats = 2 if args.quick else 3
    bench_evaluation("SM-MNIST demo (DCGAN width 8)", SVGConfig(variant="lp", width=8), sm, n, 100, old_samples,
                     chunk=int(SIZES["demo"]["smmnist"]["eval"]["sample_chunk"]), repeats=repeats)
    kth = np.random.default_rng(1).integers(0, 256, size=(16, 30, 64, 64), dtype=np.uint8)
    bench_evaluation("KTH demo (VGG width 4)", SVGConfig(variant="lp", backbone="vgg", width=4, z_dim=32,
                                                          n_past=10, beta=1e-6), kth, n, 100, old_samples, chunk=10,
                     repeats=repeats)
    print()
    print(f"{'SM-MNIST batches (s per batch)':<34} {'before':>12} {'now':>12} {'speed-up':>9}")
    bench_smmnist_batches(batch_size=100, steps=5 if args.quick else 20)
    print()
    print(f"{'training step (s per step)':<34} {'authors':>12} {'ours':>12} {'speed-up':>9}")
    paper_batch = int(SIZES["paper"]["smmnist"]["train"]["batch_size"])
    for batch_size, steps in ([(16, 3)] if args.quick else [(32, 5), (paper_batch, 3)]):
        bench_training(batch_size, steps)


if __name__ == "__main__":
    main()
