"""SVG (Denton & Fergus 2018): model shapes, paper-scale sizes, KL terms, training, evaluation, figures."""

from __future__ import annotations

import copy
import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from pipeline.papers.svg import dynamics as dyn
from pipeline.papers.svg import figures as figs
from pipeline.papers.svg import metrics as ev
from pipeline.papers.svg import statistics as st
from pipeline.papers.svg import tables as svg_tables
from pipeline.papers.svg.backbones import build_backbone
from pipeline.papers.svg.model import (
    SVG,
    SVGConfig,
    build_svg,
    frames_to_batch,
    make_optimizer,
    svg_model_config,
)
from pipeline.saved_models import load_model
from pipeline.training import Minimize, TrainConfig, TrainingJob, fit

SMOKE = dict(width=4, g_dim=16, z_dim=3, rnn_size=24, n_past=2, n_future=3)


def smoke_model(variant: str, backbone: str = "dcgan", channels: int = 1, seed: int = 0) -> SVG:
    torch.manual_seed(seed)
    return SVG(SVGConfig(variant=variant, backbone=backbone, channels=channels, **SMOKE))


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("backbone,channels", [("dcgan", 1), ("vgg", 3)])
@pytest.mark.parametrize("variant", ["deterministic", "fp", "lp"])
def test_shapes_of_every_variant_and_backbone(variant: str, backbone: str, channels: int) -> None:
    model = smoke_model(variant, backbone, channels)
    x = torch.rand(2, 6, channels, 64, 64)  # one frame more than n_past + n_future: ignored
    out = model.losses(x)
    assert set(out) == {"loss", "mse", "kld"} and all(v.dim() == 0 for v in out.values())
    out["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())  # every module takes part
    gen = model.generate(x[:, :2], n_future=4, n_samples=3, seed=1)
    assert gen.shape == (3, 2, 4, channels, 64, 64)
    assert float(gen.min()) >= 0.0 and float(gen.max()) <= 1.0
    assert (variant == "deterministic") == (float(out["kld"]) == 0.0)


def test_backbone_skip_resolutions() -> None:
    for name, sizes in (("dcgan", [32, 16, 8, 4]), ("vgg", [64, 32, 16, 8])):
        enc, dec = build_backbone(name, g_dim=16, channels=1, width=4)
        h, skips = enc(torch.rand(3, 1, 64, 64))
        assert h.shape == (3, 16) and float(h.detach().abs().max()) <= 1.0
        assert [s.shape[-1] for s in skips] == sizes
        assert dec(h, dec.skip_terms(skips)).shape == (3, 1, 64, 64)


def concatenated_decoder(dec: torch.nn.Module, g: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
    """The decoder as the authors write it: each stage applied to torch.cat([d, skip], 1)."""
    d = dec.upc1(g.view(-1, dec.g_dim, 1, 1))
    stages = [getattr(dec, f"upc{i}") for i in range(2, 2 + len(skips))]
    for stage, skip in zip(stages, reversed(skips)):
        d = stage(torch.cat([dec.up(d) if hasattr(dec, "up") else d, skip], 1))
    return d


@pytest.mark.parametrize("name,size", [("dcgan", 64), ("vgg", 64), ("vgg", 128)])
def test_decoder_with_skip_terms_is_the_decoder_of_the_concatenation(name: str, size: int) -> None:
    """Skips of 3 known frames read by 7 rows: outputs and every gradient as the concatenated
    stages compute them on each row's own copy of its frame's skips (float64)."""
    torch.manual_seed(0)
    enc, dec = build_backbone(name, g_dim=16, channels=2, width=4, image_size=size)
    enc, dec = enc.double(), dec.double()
    _, skips = enc(torch.rand(3, 2, size, size, dtype=torch.float64))
    skips = [s.detach().requires_grad_() for s in skips]
    g = torch.rand(7, 16, dtype=torch.float64, requires_grad=True)
    rows = torch.tensor([0, 2, 2, 1, 0, 2, 2])
    ours = dec(g, dec.skip_terms(skips), rows)
    theirs = concatenated_decoder(dec, g, [s[rows] for s in skips])
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    weights = torch.rand_like(ours)
    inputs = [g, *skips, *dec.parameters()]
    for a, b in zip(torch.autograd.grad((ours * weights).sum(), inputs),
                    torch.autograd.grad((theirs * weights).sum(), inputs)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)  # a bias before batch norm: gradient ~0
    with pytest.raises(ValueError, match="give rows"):
        dec(g, dec.skip_terms(skips))


# ----------------------------------------------------------------------------- paper-scale sizes


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_out * c_in * k * k + c_out  # weight + bias (also for transposed convs)


def bn(c: int) -> int:
    return 2 * c


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def lstm_layer(n_in: int, h: int) -> int:
    return 4 * (n_in * h + h * h + 2 * h)  # input, recurrent weights and two biases for 4 gates


def vgg(c_in: int, c_out: int) -> int:
    return conv(c_in, c_out, 3) + bn(c_out)


@pytest.mark.parametrize("backbone", ["dcgan", "vgg"])
def test_in_place_activations_train_to_the_same_weights(backbone: str) -> None:
    """The backbones' leaky ReLUs overwrite batch norm's output (as the authors'): nothing else may read
    it. Three steps with them and with out-of-place copies end with the same weights to the bit."""
    torch.manual_seed(0)
    in_place = SVG(SVGConfig(variant="lp", backbone=backbone, width=4, g_dim=16, rnn_size=16, z_dim=4))
    relus = [m for m in in_place.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert relus and all(m.inplace for m in relus)
    out_of_place = copy.deepcopy(in_place)
    for module in out_of_place.modules():
        if isinstance(module, torch.nn.LeakyReLU):
            module.inplace = False
    batches = torch.rand(3, 4, 15, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    for model in (in_place, out_of_place):
        step = Minimize(model, make_optimizer(model))
        for i, batch in enumerate(batches):
            torch.manual_seed(i)  # the posterior's noise
            step.training_step(batch, i)
    theirs = out_of_place.state_dict()
    assert all(torch.equal(value, theirs[name]) for name, value in in_place.state_dict().items())


def test_dcgan_parameter_counts_at_paper_scale() -> None:
    """SM-MNIST: DCGAN 64x64, nf=64, |h|=128, one channel."""
    enc, dec = build_backbone("dcgan", g_dim=128, channels=1, width=64)
    expected_enc = sum(conv(a, b, 4) + bn(b) for a, b in ((1, 64), (64, 128), (128, 256), (256, 512), (512, 128)))
    expected_dec = (
        conv(128, 512, 4) + bn(512)
        + conv(1024, 256, 4) + bn(256) + conv(512, 128, 4) + bn(128) + conv(256, 64, 4) + bn(64)
        + conv(128, 1, 4)
    )
    assert (expected_enc, expected_dec) == (3_805_376, 6_558_529)
    assert n_params(enc) == expected_enc
    assert n_params(dec) == expected_dec


def test_vgg_parameter_counts_at_paper_scale() -> None:
    """BAIR: VGG16 to the last pooling layer and its mirror, |h|=128, RGB."""
    enc, dec = build_backbone("vgg", g_dim=128, channels=3, width=64)
    expected_enc = (
        vgg(3, 64) + vgg(64, 64) + vgg(64, 128) + vgg(128, 128)
        + vgg(128, 256) + 2 * vgg(256, 256) + vgg(256, 512) + 2 * vgg(512, 512)
        + conv(512, 128, 4) + bn(128)
    )
    expected_dec = (
        conv(128, 512, 4) + bn(512)
        + vgg(1024, 512) + vgg(512, 512) + vgg(512, 256)
        + vgg(512, 256) + vgg(256, 256) + vgg(256, 128)
        + vgg(256, 128) + vgg(128, 64)
        + vgg(128, 64) + conv(64, 3, 3)
    )
    assert (expected_enc, expected_dec) == (8_689_600, 11_822_659)
    assert n_params(enc) == expected_enc
    assert n_params(dec) == expected_dec


@pytest.mark.parametrize("z_dim", [10, 32, 64])  # SM-MNIST, KTH, BAIR
def test_lstm_parameter_counts_at_paper_scale(z_dim: int) -> None:
    """LSTM_theta 2x256 on [h, z] -> g; LSTM_phi, LSTM_psi 1x256 on h -> (mu, logvar)."""
    model = SVG(SVGConfig(variant="lp", z_dim=z_dim))
    predictor = linear(128 + z_dim, 256) + 2 * lstm_layer(256, 256) + linear(256, 128)
    gaussian = linear(128, 256) + lstm_layer(256, 256) + 2 * linear(256, z_dim)
    if z_dim == 10:
        assert (predictor, gaussian) == (1_121_152, 564_500)
    assert n_params(model.predictor) == predictor
    assert n_params(model.posterior) == gaussian
    assert n_params(model.prior) == gaussian
    assert n_params(SVG(SVGConfig(variant="fp", z_dim=z_dim))) == n_params(model) - gaussian
    deterministic = SVG(SVGConfig(variant="deterministic"))
    assert n_params(deterministic.predictor) == predictor - z_dim * 256
    assert deterministic.posterior is None and deterministic.prior is None


# ----------------------------------------------------------------------------- KL terms


def closed_form_kl(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
    """KL(N(mu1, s1^2) || N(mu2, s2^2)) per dimension, written out."""
    return torch.log(s2 / s1) + (s1**2 + (mu1 - mu2) ** 2) / (2 * s2**2) - 0.5


@pytest.mark.parametrize("variant", ["fp", "lp"])
def test_kl_is_against_the_variants_prior(variant: str) -> None:
    model = smoke_model(variant).eval()  # eval: batch norm gives the same h on every call
    x = torch.rand(2, 5, 1, 64, 64)
    with torch.no_grad():
        kld = model.losses(x)["kld"] * 4  # summed over the 4 predicted steps
        h, _ = model.encode(x)
        q, p = model.latent_distributions(h)
    assert q.loc.shape == p.loc.shape == (2, 4, 3)
    standard = closed_form_kl(q.loc, q.scale, torch.zeros_like(q.loc), torch.ones_like(q.scale))
    if variant == "fp":
        assert torch.equal(p.loc, torch.zeros_like(p.loc)) and torch.equal(p.scale, torch.ones_like(p.scale))
        expected = standard
    else:
        assert not torch.allclose(p.loc, torch.zeros_like(p.loc))
        expected = closed_form_kl(q.loc, q.scale, p.loc, p.scale)
        assert not torch.isclose(standard.sum(-1).mean(0).sum(), expected.sum(-1).mean(0).sum())
    torch.testing.assert_close(kld, expected.sum(-1).mean(0).sum())


def test_learned_prior_sees_only_past_frames() -> None:
    model = smoke_model("lp").eval()
    x = torch.rand(2, 5, 1, 64, 64)
    x_changed = x.clone()
    x_changed[:, -1] = torch.rand(2, 1, 64, 64)  # only the last target frame differs
    with torch.no_grad():
        q, p = model.latent_distributions(model.encode(x)[0])
        q2, p2 = model.latent_distributions(model.encode(x_changed)[0])
    torch.testing.assert_close(p.loc, p2.loc)  # prior of z_4 reads x_0..x_3 only
    torch.testing.assert_close(p.scale, p2.scale)
    torch.testing.assert_close(q.loc[:, :-1], q2.loc[:, :-1])  # posterior of earlier steps untouched
    assert not torch.allclose(q.loc[:, -1], q2.loc[:, -1])  # posterior of z_4 reads x_4
    sigma = model.prior_sigma(x)
    torch.testing.assert_close(sigma, p.scale)
    with pytest.raises(ValueError, match="learned prior"):
        smoke_model("fp").prior_sigma(x)


def test_decode_gives_each_step_the_skips_of_its_frame() -> None:
    model = smoke_model("lp").double()
    x = torch.rand(2, 5, 1, 64, 64, dtype=torch.float64)
    _, skips = model.encode(x)  # [(2, 5, c, s, s)]
    g = torch.rand(2, 4, SMOKE["g_dim"], dtype=torch.float64)
    frames = [3, 0, 1, 3]  # any order, repeats
    expected = concatenated_decoder(model.decoder, g.flatten(0, 1), [s[:, frames].flatten(0, 1) for s in skips])
    torch.testing.assert_close(model.decode(g, skips, frames), expected.view(2, 4, 1, 64, 64), rtol=1e-10, atol=1e-12)


def test_decoder_skips_follow_the_skip_frame_convention() -> None:
    # authors' code: after the window the skips stay at x_{n_past-2} = x_1 (edenton/svg issue 1)
    model = SVG(SVGConfig(variant="deterministic", **{**SMOKE, "n_past": 3}))
    assert model.cfg.skip_frame == "before_last"
    assert model._skip_frames(6) == [0, 1, 1, 1, 1]  # predicting frames 1..5
    model.cfg.skip_frame = "last"  # the paper's text: the last ground-truth frame x_2
    assert model._skip_frames(6) == [0, 1, 2, 2, 2]
    model.cfg.skip_frame = "previous"  # --last_frame_skip
    assert model._skip_frames(6) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="skip_frame"):
        SVGConfig(skip_frame="first")
    # generation hands the decoder the skips of that frame
    x = torch.rand(2, 3, 1, 64, 64)
    for convention, frame in (("before_last", 1), ("last", 2)):
        model.cfg.skip_frame = convention
        seen = []
        terms = model.decoder.skip_terms
        model.decoder.skip_terms = lambda skips: seen.append(skips[0].clone()) or terms(skips)
        model.generate(x, n_future=2, n_samples=1)
        del model.decoder.skip_terms
        model.eval()
        with torch.no_grad():
            expected = model.encoder(x[:, frame])[1][0]
        for skip in seen:
            torch.testing.assert_close(skip, expected)


def test_batch_norm_at_test_uses_batch_statistics_and_leaves_the_model_unchanged() -> None:
    model = smoke_model("lp")
    x = torch.rand(3, 3, 1, 64, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    a = model.generate(x, 2, 2, seed=0, bn_mode="train")
    b = model.generate(x, 2, 2, seed=0, bn_mode="eval")
    assert not torch.allclose(a, b)  # running averages of an untrained model differ from batch statistics
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # running statistics untouched
    # batch statistics: a sequence's future depends on the others in its batch, not with eval
    alone = model.generate(x[:1], 2, 2, seed=0, bn_mode="eval")
    torch.testing.assert_close(alone[:, 0], b[:, 0])
    with pytest.raises(ValueError, match="bn_mode"):
        model.generate(x, 2, 2, bn_mode="frozen")


def test_posterior_future_reads_the_true_future_causally() -> None:
    """The authors' "Approx. posterior" row: z_t is the mean of q(z_t | x_1..t), so the future it
    rebuilds follows the true frames up to each frame and no later one, with no noise; the
    deterministic model has no posterior and gives its prediction."""
    model = smoke_model("lp")
    x = torch.rand(3, 6, 1, 64, 64)
    a = model.posterior_future(x, n_cond=2, bn_mode="train")  # frames 2..5
    assert a.shape == (3, 4, 1, 64, 64)
    torch.testing.assert_close(a, model.posterior_future(x, 2, bn_mode="train"), atol=0, rtol=0)
    for frame in (3, 5):  # a new true frame changes the rebuilt frames from it on, not before
        changed = x.clone()
        changed[:, frame] = torch.rand(3, 1, 64, 64)
        b = model.posterior_future(changed, 2, bn_mode="train")
        torch.testing.assert_close(a[:, : frame - 2], b[:, : frame - 2], atol=0, rtol=0)
        assert not torch.equal(a[:, frame - 2], b[:, frame - 2])  # (an untrained model: small changes)
    det = smoke_model("deterministic")
    torch.testing.assert_close(det.posterior_future(x, 2, bn_mode="train"),
                               det.generate(x[:, :2], 4, 1, bn_mode="train")[0], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="n_cond"):
        model.posterior_future(x, 6)


def test_vgg_at_128_has_the_authors_extra_stage_and_samples() -> None:
    """KTH at the paper's 128x128 (the authors' vgg_128.py): five skip maps from 128 down to 8, the
    frames out at 128; the 64x64 model is unchanged (same modules, same parameter names)."""
    torch.manual_seed(0)
    model = SVG(SVGConfig(variant="lp", backbone="vgg", width=2, g_dim=8, rnn_size=8, z_dim=4, n_past=2, n_future=2,
                          image_size=128))
    x = torch.rand(2, 4, 1, 128, 128)
    _, skips = model.encoder(x[:, 0])
    assert [tuple(k.shape[1:]) for k in skips] == [(2, 128, 128), (4, 64, 64), (8, 32, 32), (16, 16, 16), (16, 8, 8)]
    assert model.losses(x)["loss"].isfinite()
    assert model.generate(x[:, :2], 3, 2, bn_mode="train").shape == (2, 2, 3, 1, 128, 128)
    assert model.posterior_future(x, 2).shape == (2, 2, 1, 128, 128)
    small = SVG(SVGConfig(variant="lp", backbone="vgg", width=2, g_dim=8, rnn_size=8, z_dim=4))
    names = {k for k in small.state_dict() if k.startswith(("encoder.", "decoder."))}
    assert {"encoder.c5.0.weight", "decoder.upc5.1.weight"} <= names and not any(".c6." in k for k in names)
    with pytest.raises(ValueError, match="expected frames"):
        model.encoder(torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match="dcgan"):
        SVG(SVGConfig(variant="lp", image_size=128))


def test_each_sample_has_its_own_batch_statistics_and_noise() -> None:
    """As the authors' script, which draws one sample of all B sequences at a time: sample k of a
    batch of S is the sample drawn alone (``first_sample=k``), with batch norm in training mode over
    its B frames; so drawing in chunks gives the futures of one batch."""
    model = smoke_model("lp")
    x = torch.rand(3, 3, 1, 64, 64)
    together = model.generate(x, 3, 4, seed=5, bn_mode="train")  # (4, 3, 3, 1, 64, 64)
    for k in range(4):
        alone = model.generate(x, 3, 1, seed=5, bn_mode="train", first_sample=k)[0]
        torch.testing.assert_close(alone, together[k], atol=1e-5, rtol=0)
    assert not torch.allclose(together[0], together[1])
    # the per-sample statistics are BatchNorm2d's own in training mode, one sample at a time
    from pipeline.papers.svg.batch_norm import batch_statistics_per_sample
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        frames = torch.randn(2 * 3, bn.num_features, 8, 8)  # 2 samples x 3 sequences
        bn.eval()
        with batch_statistics_per_sample(model, group=3, active=True):
            grouped = bn(frames)
        running = bn.running_mean.clone()
        bn.train()
        reference = torch.cat([bn(frames[:3]), bn(frames[3:])])
    torch.testing.assert_close(grouped, reference, atol=1e-5, rtol=0)
    assert bn.forward.__func__ is torch.nn.BatchNorm2d.forward and torch.equal(running, torch.zeros_like(running))


# ----------------------------------------------------------------------------- training and sampling


def moving_square_batches(start_step: int, batch: int = 4, frames: int = 5) -> Iterator[torch.Tensor]:
    """A white square moving 3 px right per frame from a random start: fully predictable."""
    step = start_step
    while True:
        rng = np.random.default_rng(np.random.SeedSequence([2, step]))
        x = np.zeros((batch, frames, 64, 64), np.uint8)
        for b in range(batch):
            r, c = rng.integers(8, 40, size=2)
            for t in range(frames):
                x[b, t, r : r + 14, c + 3 * t : c + 3 * t + 14] = 255
        yield frames_to_batch(x)
        step += 1


def test_smoke_training_reduces_the_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = SVGConfig(variant="lp", **SMOKE)
    model = SVG(cfg)
    train = TrainConfig(steps=150, checkpoint_every=150, log_every=10)
    job = TrainingJob(paper="svg", dataset="squares", variant="lp", out_dir=tmp_path, seed=0, device="cpu")
    path = fit(Minimize(model, make_optimizer(model)), moving_square_batches, train, job, svg_model_config(cfg))
    with open(tmp_path / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    mse = [float(r["mse"]) for r in rows]
    empty_frame_mse = 14 * 14 / 64**2  # predicting black frames: only the square is wrong
    assert mse[-1] < 0.3 * mse[0] and mse[-1] < 0.6 * empty_frame_mse, mse
    loaded = load_model(path, build_svg)
    assert loaded.cfg == cfg


@pytest.mark.parametrize("variant", ["fp", "lp"])
def test_same_seed_same_samples(variant: str) -> None:
    model = smoke_model(variant)
    x = torch.rand(2, 2, 1, 64, 64)
    a = model.generate(x, 3, 4, seed=7)
    b = model.generate(x, 3, 4, seed=7)
    c = model.generate(x, 3, 4, seed=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # samples differ from each other
    assert model.training  # generate restores the training mode


def test_deterministic_model_ignores_the_seed() -> None:
    model = smoke_model("deterministic")
    x = torch.rand(2, 2, 1, 64, 64)
    a = model.generate(x, 3, 2, seed=1)
    assert torch.equal(a[0], a[1]) and torch.equal(a, model.generate(x, 3, 2, seed=2))


def test_frames_to_batch_layout_and_range() -> None:
    frames = np.zeros((2, 3, 64, 64), np.uint8)
    frames[1, 2, 5, 7] = 255
    x = frames_to_batch(frames)
    assert x.shape == (2, 3, 1, 64, 64) and x.dtype == torch.float32
    assert x[1, 2, 0, 5, 7] == 1.0 and float(x.sum()) == 1.0
    rgb = frames_to_batch(np.zeros((1, 2, 64, 64, 3), np.uint8))
    assert rgb.shape == (1, 2, 3, 64, 64)
    with pytest.raises(TypeError):
        frames_to_batch(np.zeros((1, 2, 64, 64), np.float32))


# ----------------------------------------------------------------------------- metrics


def test_frame_scores_identity_and_known_psnr() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((3, 1, 64, 64))
    ssim, psnr = ev.frame_scores(truth, truth)
    np.testing.assert_allclose(ssim, 1.0)
    assert np.isinf(psnr).all()
    noisy = np.clip(truth + 0.05 * rng.standard_normal(truth.shape), 0, 1)
    ssim, psnr = ev.frame_scores(truth, noisy)
    mse = ((truth - noisy) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(psnr, 10 * np.log10(1.0 / mse))  # data range 1, not 255
    assert (ssim < 1).all() and (ssim > 0).all()


def test_batched_scores_match_scikit_image_on_model_frames() -> None:
    """The torch path (torchmetrics) against the authors' per-frame, per-channel scikit-image loop,
    on generated frames, both SSIM data ranges, grey and RGB."""
    for channels in (1, 3):
        model = SVG(SVGConfig(variant="lp", channels=channels, **SMOKE))
        truth = torch.rand(2, 4, channels, 64, 64)
        pred = model.generate(truth[:, :2], 4, n_samples=3, seed=0, bn_mode="train")  # (3, 2, 4, C, H, W)
        truth = truth.expand_as(pred).numpy().astype(np.float64)
        pred = pred.numpy().astype(np.float64)
        for data_range in (2.0, 1.0):
            ssim, psnr = ev.frame_scores(truth, pred, data_range)
            ref_ssim, ref_psnr = ev.frame_scores_skimage(truth, pred, data_range)
            assert ssim.shape == (3, 2, 4)
            np.testing.assert_allclose(ssim, ref_ssim, atol=1e-4, rtol=0)
            np.testing.assert_allclose(psnr, ref_psnr, atol=1e-4, rtol=0)
    # the authors' range 2 gives higher SSIM than range 1 on imperfect frames (C1, C2 grow)
    ssim2, _ = ev.frame_scores(truth, pred, 2.0)
    ssim1, _ = ev.frame_scores(truth, pred, 1.0)
    assert (ssim2 > ssim1).all()


def test_batched_scores_do_not_depend_on_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frame channels are filtered apart, so how many go into one call changes no score (bit for bit)."""
    rng = np.random.default_rng(5)
    truth = torch.from_numpy(rng.random((7, 3, 2, 64, 64)))  # 42 frame channels
    pred = (truth + 0.1 * torch.from_numpy(rng.standard_normal(truth.shape))).clamp(0, 1)
    whole = ev.frame_scores_torch(truth, pred)
    monkeypatch.setattr(ev, "SCORE_CHUNK", 5)  # chunks that split frames between calls
    split = ev.frame_scores_torch(truth, pred)
    assert whole[0].shape == (7, 3)
    for a, b in zip(whole, split):
        assert torch.equal(a, b)


def test_copy_last_frame_baseline() -> None:
    frames = np.zeros((3, 6, 64, 64), np.uint8)
    frames[0] = 100  # static: a perfect copy
    frames[1, :, 10:20, 10:20] = 255
    frames[1, 4:, 10:20, 30:40] = 255  # something appears in the predicted frames
    frames[2] = np.random.default_rng(0).integers(0, 256, (6, 64, 64))
    result = ev.evaluate_copy_last(frames, n_cond=3, n_future=3)
    assert result.ssim.shape == (3, 1, 3)
    np.testing.assert_allclose(result.ssim[0], 1.0, atol=1e-4)
    assert np.isinf(result.psnr[0]).all()
    assert result.ssim[1, 0, 0] == pytest.approx(1.0) and result.ssim[1, 0, 1] < 1.0
    x = frames[2].astype(np.float64)[:, None] / 255.0
    ref, _ = ev.frame_scores_skimage(x[3:], np.repeat(x[2:3], 3, axis=0))
    np.testing.assert_allclose(result.ssim[2, 0], ref, atol=1e-4)


def test_clustered_interval_is_wider_for_repeated_videos() -> None:
    rng = np.random.default_rng(7)
    videos = rng.normal(size=10)
    values = np.repeat(videos, 4)[:, None] + 0.01 * rng.normal(size=(40, 1))  # 4 near-copies per video
    groups = np.repeat(np.arange(10), 4)
    _, lo_naive, hi_naive = st.mean_ci(values)
    _, lo, hi = st.mean_ci(values, groups=groups)
    assert (hi - lo)[0] > 2.0 * (hi_naive - lo_naive)[0]  # ~sqrt(4) x wider, and t with 9 df
    per_video = values.reshape(10, 4).mean(1, keepdims=True)
    _, lo_v, hi_v = st.mean_ci(per_video)
    np.testing.assert_allclose([lo[0], hi[0]], [lo_v[0], hi_v[0]], rtol=1e-3)  # equal sizes: CI of video means
    np.testing.assert_allclose(st.mean_ci(values, groups=np.arange(40))[1], lo_naive)  # singletons: plain t


def test_ordering_table_finds_the_better_model_after_bounces() -> None:
    rng = np.random.default_rng(8)
    n, t = 30, 6
    base = rng.random((n, 1, t)) * 0.5
    first_bounce = np.full(n, 6)  # 0-based frame of the first hit; n_cond 4 -> predicted frames 4..9
    gain = np.zeros((n, 1, t))
    gain[:, :, 3:] = 0.2  # "lp" better only on frames 7..9, after the bounce
    scores = {"lp": {"ssim": base + gain, "psnr": base + gain}, "fp": {"ssim": base, "psnr": base},
              "deterministic": {"ssim": base - 0.1, "psnr": base - 0.1}}
    table = st.ordering_table(scores, n_cond=4, first_bounce=first_bounce)
    row = table[(table.metric == "ssim") & (table.scope == "after_bounce") & (table.better == "lp") & (table.worse == "fp")]
    assert row["mean_difference"].item() == pytest.approx(0.2) and row["verdict"].item() == "better"
    row = table[(table.metric == "ssim") & (table.scope == "all") & (table.better == "lp") & (table.worse == "fp")]
    assert row["mean_difference"].item() == pytest.approx(0.1)
    row = table[(table.scope == "all") & (table.better == "fp") & (table.worse == "deterministic")]
    assert (row["verdict"] == "better").all()
    # second half of the 6 predicted frames: frames 7..9, all of the gain
    row = table[(table.metric == "ssim") & (table.scope == "second_half") & (table.better == "lp") & (table.worse == "fp")]
    assert row["mean_difference"].item() == pytest.approx(0.2)
    # windows of one video are not independent: clustered intervals are wider, the mean the same
    noisy = {"lp": {"ssim": base + gain + rng.normal(0, 0.05, (n, 1, t)), "psnr": base},
             "fp": {"ssim": base, "psnr": base}}
    plain = st.ordering_table(noisy, n_cond=4, pairs=[("lp", "fp")]).set_index(["metric", "scope"])
    videos = np.repeat(np.arange(6), 5)
    noisy["lp"]["ssim"] += 0.1 * rng.normal(size=6)[videos, None, None]  # a shared offset per video
    clustered = st.ordering_table(noisy, n_cond=4, pairs=[("lp", "fp")], groups=videos).set_index(["metric", "scope"])
    unclustered = st.ordering_table(noisy, n_cond=4, pairs=[("lp", "fp")]).set_index(["metric", "scope"])
    width = lambda t: (t["ci_high"] - t["ci_low"])["ssim", "all"]  # noqa: E731
    assert width(clustered) > 1.5 * width(unclustered) and width(unclustered) > 0.5 * width(plain)
    assert clustered.loc[("ssim", "all"), "mean_difference"] == pytest.approx(unclustered.loc[("ssim", "all"), "mean_difference"])
    bounces = np.zeros((2, 10, 2), bool)
    bounces[0, 2, 0] = bounces[0, 7, 1] = True  # a hit inside the conditioning window does not count
    np.testing.assert_array_equal(st.first_bounce_after(bounces, n_cond=5), [7, -1])


def test_best_of_n_bounds() -> None:
    rng = np.random.default_rng(1)
    scores = rng.random((20, 5, 7))  # (S, N, T)
    best = st.best_of_n(scores)
    assert best.shape == (5, 7)
    assert (best.mean(axis=1) >= scores.mean(axis=0).mean(axis=1)).all()  # best-of-N >= mean-of-N
    np.testing.assert_allclose(best.mean(axis=1), scores.mean(axis=2).max(axis=0))
    one = scores[:1]
    np.testing.assert_array_equal(st.best_of_n(one), one[0])  # N = 1: the sample itself
    frames = rng.random((4, 1, 64, 64))
    ssim_one, _ = ev.frame_scores(frames, frames * 0.9)
    same = np.repeat(ssim_one[None, None], 3, axis=0)  # 3 identical samples
    np.testing.assert_array_equal(st.best_of_n(same)[0], ssim_one)


def test_confidence_interval_covers_the_mean_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2)
    trials = rng.normal(loc=3.0, scale=2.0, size=(2000, 30, 1))  # 2000 experiments, N = 30
    covered = 0
    for values in trials:
        _, low, high = st.mean_ci(values)
        covered += int(low[0] <= 3.0 <= high[0])
    assert 0.93 <= covered / len(trials) <= 0.97
    mean, low, high = st.mean_ci(np.full((5, 3), 0.7))
    np.testing.assert_allclose([mean, low, high], 0.7)
    _, l10, h10 = st.mean_ci(trials[0, :10])
    _, l30, h30 = st.mean_ci(trials[0])
    assert (h30 - l30) < (h10 - l10)


def test_evaluate_svg_and_tables(tmp_path: Path) -> None:
    model = smoke_model("lp")
    frames = np.random.default_rng(3).integers(0, 256, size=(5, 7, 64, 64), dtype=np.uint8)
    result = ev.evaluate_svg(model, frames, n_cond=2, n_future=5, n_samples=3, seed=0, batch_size=2,
                             sample_chunk=2, n_examples=3)
    assert result.ssim.shape == result.psnr.shape == (5, 3, 5)
    assert result.examples.shape == (3, len(ev.EXAMPLE_ROWS), 7, 64, 64, 1)
    np.testing.assert_array_equal(result.examples[:, 0, :, :, :, 0], frames[:3])  # truth row
    np.testing.assert_array_equal(result.examples[:, 1, :2], result.examples[:, 0, :2])  # conditioning
    assert ev.EXAMPLE_ROWS[1] == "posterior"  # batch statistics over the first batch, sequences 0 and 1
    posterior = model.posterior_future(frames_to_batch(frames[:2]), 2, bn_mode="train").numpy()
    posterior = (np.clip(posterior, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(0, 1, 3, 4, 2)
    assert np.abs(result.examples[:2, 1, 2:].astype(int) - posterior).max() <= 1
    again = ev.evaluate_svg(model, frames, 2, 5, 3, seed=0, batch_size=2, sample_chunk=2, n_examples=3)
    np.testing.assert_array_equal(again.ssim, result.ssim)
    # the chunk is a speed setting: one batch of samples or one at a time give the same scores and examples
    for chunk in (0, 1):
        other = ev.evaluate_svg(model, frames, 2, 5, 3, seed=0, batch_size=2, sample_chunk=chunk, n_examples=3)
        np.testing.assert_allclose(other.ssim, result.ssim, atol=1e-5, rtol=0)
        np.testing.assert_allclose(other.psnr, result.psnr, atol=1e-3, rtol=0)
        assert np.abs(other.examples.astype(int) - result.examples).max() <= 1
    table = ev.curve_table(result, "lp", train_horizon=5)
    assert list(table.columns) == [*ev.CURVE_COLUMNS, *ev.CONVENTION_COLUMNS]
    assert set(table["ssim_data_range"]) == {2.0} and set(table["bn_at_test"]) == {"train"}
    assert sorted(table["frame"].unique()) == [3, 4, 5, 6, 7]
    best = st.best_of_n(result.ssim.transpose(1, 0, 2)).mean(axis=0)
    np.testing.assert_allclose(table[table.metric == "ssim"]["mean"], best)
    det = ev.evaluate_svg(smoke_model("deterministic"), frames, 2, 5, 3, seed=0, batch_size=4, n_examples=1)
    assert det.ssim.shape == (5, 1, 5)
    csv_path = ev.save_evaluation(result, tmp_path / "lp", "lp", train_horizon=5)
    assert (tmp_path / "lp" / "scores.zarr").is_dir() and (tmp_path / "lp" / "examples.zarr").is_dir()
    ev.save_evaluation(det, tmp_path / "det", "deterministic", train_horizon=5)
    combined = svg_tables.write_curve_table("bair", [csv_path, tmp_path / "det" / "curves.csv"], tmp_path / "all.csv",
                                            {"scale": "smoke", "seed": 0})
    assert set(combined["model"]) == {"lp", "deterministic"} and combined["paper"].isna().all()
    assert figs.bair_ssim_psnr_figure(tmp_path / "all.csv", tmp_path / "fig.png").stat().st_size > 0
    gif = figs.sample_gif(result.examples[0], 2, tmp_path / "sample.gif", ev.EXAMPLE_ROWS)
    with Image.open(gif) as img:
        assert img.n_frames == 7
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".sample.gif")] == []  # no temporary left


# ----------------------------------------------------------------------------- Fig. 5 and Fig. 6


def test_template_matching_recovers_digit_motion() -> None:
    smmnist = pytest.importorskip("pipeline.synthetic.smmnist")
    cfg = smmnist.SMMNISTConfig(num_digits=1, seq_len=12)
    rng = np.random.default_rng(4)
    digits = np.zeros((3, 32, 32), np.uint8)
    for d in digits:  # asymmetric blobs so the match is unique
        d[4:28, 10:14] = 255
        d[4:8, 10:24] = 200
        d[rng.integers(8, 28), rng.integers(14, 28)] = 255
    batch = smmnist.generate(cfg, digits, 4, rng)
    templates = digits[batch.digit_index[:, 0]]
    vel = dyn.digit_velocities(batch.frames / 255.0, templates / 255.0)
    np.testing.assert_array_equal(vel, np.diff(batch.positions[:, :, 0], axis=1))


def test_velocity_distributions_and_distance() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(-4, 5, size=(400, 3, 2))
    table = dyn.velocity_table(a, a, first_step=5, max_speed=4)
    probs = table.groupby(["source", "step"])["probability"].sum()
    np.testing.assert_allclose(probs, 1.0)
    np.testing.assert_allclose(dyn.velocity_distance(table)["total_variation"], 0.0, atol=1e-12)
    far = dyn.velocity_table(np.full((10, 3, 2), 4), np.full((10, 3, 2), -4), first_step=0, max_speed=4)
    dist = dyn.velocity_distance(far)
    np.testing.assert_allclose(dist["total_variation"], 1.0)
    assert list(dist["step"]) == [0, 1, 2] and set(dist["source"]) == {"model"}


def test_trivial_velocities_match_the_truth_until_the_hit_and_not_after() -> None:
    """A shared start moves at (3, -2) until a wall hit after step 4, then at random: carrying the last
    known velocity on is the truth before the hit (distance 0) and misses after it; stopping misses
    every future step; the conditioning steps are the truth's for every source."""
    rng = np.random.default_rng(7)
    n, steps, n_cond = 200, 8, 3
    true = np.tile(np.array([3, -2]), (n, steps, 1))
    true[:, 4:] = rng.integers(-4, 5, size=(n, steps - 4, 2))
    true[:, 4:][(true[:, 4:] == (3, -2)).all(-1)] = (4, 4)  # no draw repeats the old velocity
    trivial = dyn.trivial_velocities(true, n_cond)
    np.testing.assert_array_equal(trivial["constant velocity"][:, : n_cond - 1], true[:, : n_cond - 1])
    np.testing.assert_array_equal(trivial["no motion"][:, n_cond - 1 :], 0)
    table = dyn.velocity_table(true, true, first_step=1, max_speed=4, baselines=trivial)
    tv = dyn.velocity_distance(table).pivot(index="step", columns="source", values="total_variation")
    np.testing.assert_allclose(tv["model"], 0.0, atol=1e-12)
    np.testing.assert_allclose(tv.loc[1:4, "constant velocity"], 0.0, atol=1e-12)  # steps 1-4: before the hit
    np.testing.assert_allclose(tv.loc[5:, "constant velocity"], 1.0)
    np.testing.assert_allclose(tv.loc[1:n_cond - 1, "no motion"], 0.0, atol=1e-12)
    np.testing.assert_allclose(tv.loc[n_cond:4, "no motion"], 1.0)
    with pytest.raises(ValueError, match="n_cond"):
        dyn.trivial_velocities(true, 1)


def test_fig5_batches_fill_up_with_companions_for_batch_statistics() -> None:
    """Shared-start sequences (one digit at one place in every conditioning frame) are drawn at most
    a quarter of a batch, the rest ordinary sequences, so batch norm sees a test batch's statistics."""
    smmnist = pytest.importorskip("pipeline.synthetic.smmnist")
    model = smoke_model("lp")
    digits = np.random.default_rng(6).integers(0, 256, size=(5, 32, 32), dtype=np.uint8)
    cfg = smmnist.SMMNISTConfig(num_digits=1, seq_len=6)
    arrays, _ = smmnist.make_shared_start_set(cfg, digits, n=5, seed=0, first_bounces=[3])
    companions = smmnist.generate(cfg, digits, 8, np.random.default_rng(1)).frames
    seen: list[torch.Tensor] = []
    generate = model.generate

    def spy(cond: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        seen.append(cond.clone())
        return generate(cond, *args, **kwargs)

    model.generate = spy
    model_vel, _ = dyn.fig5_velocities(model, arrays["frames"], arrays["positions"], n_cond=2, n_samples=2, seed=0,
                                       digit_size=32, batch_size=8, companions=companions)
    assert model_vel.shape == (10, 5, 2)  # 5 sequences x 2 samples, as without companions
    assert [len(c) for c in seen] == [8, 8, 8]  # 2 + 2 + 1 shared-start sequences, each batch filled to 8
    shared = torch.cat([c[:n] for c, n in zip(seen, (2, 2, 1))])
    torch.testing.assert_close(shared, dyn.frames_to_batch(arrays["frames"][:, :2]))
    for c, n in zip(seen, (2, 2, 1)):
        torch.testing.assert_close(c[n:], dyn.frames_to_batch(companions[: 8 - n, :2]))
    with pytest.raises(ValueError, match="companion"):
        dyn.fig5_velocities(model, arrays["frames"], arrays["positions"], n_cond=2, n_samples=1, seed=0,
                            digit_size=32, batch_size=8, companions=companions[:3])


def test_fig5_and_fig6_helpers_and_figures(tmp_path: Path) -> None:
    smmnist = pytest.importorskip("pipeline.synthetic.smmnist")
    model = smoke_model("lp")
    digits = np.random.default_rng(6).integers(0, 256, size=(5, 32, 32), dtype=np.uint8)
    cfg = smmnist.SMMNISTConfig(num_digits=1, seq_len=6)
    arrays, _ = smmnist.make_shared_start_set(cfg, digits, n=3, seed=0, first_bounces=[3])
    model_vel, true_vel = dyn.fig5_velocities(model, arrays["frames"], arrays["positions"], n_cond=2,
                                             n_samples=2, seed=0, digit_size=32, batch_size=2)
    assert model_vel.shape == (6, 5, 2) and true_vel.shape == (3, 5, 2)
    np.testing.assert_array_equal(true_vel, np.diff(arrays["positions"][:, :, 0], axis=1))
    table = dyn.velocity_table(model_vel, true_vel, first_step=0, max_speed=4)
    table.to_csv(tmp_path / "vel.csv", index=False)
    assert figs.velocity_figure(tmp_path / "vel.csv", tmp_path / "fig5.png").stat().st_size > 0

    sync, _ = smmnist.make_synchronized_set(smmnist.SMMNISTConfig(num_digits=2, seq_len=8), digits, n=3, seed=1)
    sigma = dyn.prior_sigma_table(model, sync["frames"], batch_size=2)
    assert list(sigma["frame"]) == list(range(1, 8)) and (sigma["sigma_mean"] > 0).all()
    hits = dyn.collision_table(sync["bounces"][0])
    assert len(hits) == int(sync["bounces"][0].sum())
    sigma.to_csv(tmp_path / "sigma.csv", index=False)
    hits.to_csv(tmp_path / "hits.csv", index=False)
    assert figs.prior_sigma_figure(tmp_path / "sigma.csv", tmp_path / "hits.csv", tmp_path / "fig6.png").exists()
    curves = pd.DataFrame(
        [("lp", "ssim", f, 0.8, 0.7, 0.9, 4, 4, 3, 2, 5) for f in range(3, 8)], columns=list(ev.CURVE_COLUMNS)
    )
    curves.to_csv(tmp_path / "curves.csv", index=False)
    assert figs.smmnist_ssim_figure(tmp_path / "curves.csv", tmp_path / "fig7.png").exists()
    with pytest.raises(ValueError, match="psnr"):
        figs.bair_ssim_psnr_figure(tmp_path / "curves.csv", tmp_path / "fig8.png")
