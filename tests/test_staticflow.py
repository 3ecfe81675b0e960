"""staticflow: codebook round trips, both nets' shapes and paper-scale sizes, metrics on known cases."""

import numpy as np
import pytest
import torch

from pipeline.papers.staticflow.codebook import (
    assign_labels,
    decode_softmax,
    fit_codebook,
    labels_to_flow,
    load_codebook,
    no_motion_class,
    resize_flow,
    save_codebook,
)
from pipeline.papers.staticflow.metrics import (
    class_frequencies,
    constant_prediction,
    evaluate_staticflow,
    flow_metrics,
    no_motion_probs,
    position_frequencies,
    sample_flow,
)
from pipeline.papers.staticflow.model import (
    StaticFlowConfig,
    StaticFlowNet,
    allconv_output_size,
    build_staticflow,
    make_optimizer,
    paper_optim,
    staticflow_model_config,
)

WORDS = np.array([[0, 0], [2, 0], [-2, 0], [0, 2], [0, -2], [3, 3]], np.float32)


def _flows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flow fields (n, 6, 6, 2) made of the WORDS plus small noise, and their word index."""
    rng = np.random.default_rng(seed)
    words = rng.integers(0, len(WORDS), size=(n, 6, 6))
    return WORDS[words] + rng.normal(0, 0.05, size=(n, 6, 6, 2)).astype(np.float32), words


def _conv(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


def test_codebook_recovers_the_words_and_round_trips(tmp_path):
    flows, words = _flows(40, 0)
    centroids = fit_codebook(flows, n_clusters=len(WORDS), seed=0, batch_size=256)
    assert np.array_equal(centroids, fit_codebook(flows, n_clusters=len(WORDS), seed=0, batch_size=256))
    assert np.all(np.diff(np.hypot(*centroids.T)) >= 0)  # sorted: class 0 is "no motion"
    assert no_motion_class(centroids) == 0
    nearest = np.argmin(np.linalg.norm(WORDS[:, None] - centroids[None], axis=2), axis=1)
    np.testing.assert_allclose(centroids[nearest], WORDS, atol=0.05)
    labels = assign_labels(flows, centroids)
    assert labels.dtype == np.int64 and labels.shape == (40, 6, 6)
    assert np.array_equal(labels, nearest[words])
    one_hot = np.eye(len(centroids), dtype=np.float32)[labels].transpose(0, 3, 1, 2)  # (N, K, 6, 6)
    np.testing.assert_array_equal(decode_softmax(one_hot, centroids), labels_to_flow(labels, centroids))
    decoded = decode_softmax(torch.from_numpy(one_hot), centroids)
    assert isinstance(decoded, torch.Tensor)
    np.testing.assert_array_equal(decoded.numpy(), centroids[labels])
    save_codebook(tmp_path / "codebook.npz", centroids)
    np.testing.assert_array_equal(load_codebook(tmp_path / "codebook.npz"), centroids)
    np.savez(tmp_path / "wrong.npz", other=centroids)
    with pytest.raises(KeyError, match="wrong.npz"):
        load_codebook(tmp_path / "wrong.npz")


def test_resize_flow_keeps_pixel_units():
    field = np.broadcast_to(np.array([3.0, -2.0], np.float32), (2, 60, 60, 2))
    out = resize_flow(field, 20)
    assert out.shape == (2, 20, 20, 2)
    np.testing.assert_allclose(out, 0 * out + [3.0, -2.0])


@pytest.mark.parametrize("arch", ["alexnet", "allconv"])
def test_shapes_and_predict(arch):
    cfg = StaticFlowConfig(arch=arch, image_size=72, out_size=allconv_output_size(72), n_clusters=6, width=1 / 16)
    net = build_staticflow(staticflow_model_config(cfg))
    x = torch.rand(3, 3, 72, 72) * 2 - 1
    assert net(x).shape == (3, 6, 4, 4)
    probs = net.predict(x)
    assert net.training  # predict leaves the mode as it found it
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(3, 4, 4))


def test_paper_scale_parameter_counts():
    """Counts derived from Tables 1 and 2 (conv/FC weights + biases, BN scale + shift)."""
    bn = lambda c: 2 * c  # noqa: E731
    alexnet = (
        _conv(3, 96, 11) + bn(96) + _conv(96, 256, 5) + bn(256) + _conv(256, 384, 3) + bn(384)
        + _conv(384, 384, 3) + bn(384) + _conv(384, 256, 3) + bn(256)
        + (5 * 5 * 256 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 16000 + 16000)
    )
    allconv = (
        _conv(3, 96, 7) + bn(96) + _conv(96, 128, 3) + bn(128) + _conv(128, 256, 4) + bn(256)
        + _conv(256, 256, 3) + bn(256) + _conv(256, 512, 3) + bn(512) + 2 * (_conv(512, 512, 3) + bn(512))
        + _conv(512, 40, 1) + bn(40)
    )
    with torch.device("meta"):
        counts = {a: sum(p.numel() for p in StaticFlowNet(StaticFlowConfig(arch=a)).parameters()) for a in ("alexnet", "allconv")}
    assert counts == {"alexnet": alexnet, "allconv": allconv}
    with torch.device("meta"):
        assert StaticFlowNet(StaticFlowConfig(arch="allconv")).net(torch.empty(1, 3, 200, 200)).shape == (1, 40, 20, 20)


def test_allconv_rejects_a_label_grid_it_cannot_produce():
    with pytest.raises(ValueError, match="out_size"):
        StaticFlowConfig(arch="allconv", image_size=100, out_size=20)


def test_paper_optimiser_settings():
    net = StaticFlowNet(StaticFlowConfig(arch="allconv", width=1 / 32))
    opt, sched = make_optimizer(net, paper_optim("allconv", steps_per_epoch=2))
    assert opt.defaults["weight_decay"] == 1e-5 and opt.defaults["betas"] == (0.9, 0.999)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:6] == [1e-3] * 6 and lrs[6] == pytest.approx(1e-4)
    opt, sched = make_optimizer(net, paper_optim("alexnet", steps_per_epoch=2))
    assert sched is None and opt.defaults["lr"] == 1e-4 and opt.defaults["weight_decay"] == 0


@pytest.mark.parametrize("arch", ["alexnet", "allconv"])
def test_training_steps_reduce_the_loss(arch):
    torch.manual_seed(0)
    cfg = StaticFlowConfig(arch=arch, image_size=72, out_size=4, n_clusters=6, width=1 / 16)
    net = StaticFlowNet(cfg)
    images = torch.rand(8, 3, 72, 72) * 2 - 1
    labels = torch.randint(0, 6, (8, 4, 4))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        out = net.losses((images, labels))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
    assert set(out) == {"loss", "top1"}
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])


def _hand_case(seed: int = 0):
    centroids = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [2, 2], [-2, -2]], np.float32)
    opposite = np.array([0, 2, 1, 4, 3, 6, 5])
    labels = np.random.default_rng(seed).integers(1, 7, size=(10, 5, 5))
    labels[:, 0, 0] = 0
    return centroids, opposite, labels


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[labels].transpose(0, 3, 1, 2)  # (N, K, S, S)


def test_metrics_of_a_perfect_and_an_opposite_prediction():
    centroids, opposite, labels = _hand_case()
    flow = labels_to_flow(labels, centroids)
    perfect = evaluate_staticflow(_one_hot(labels, 7), labels, flow, centroids, ks=(1, 3), chunk=3)
    assert perfect.top_k == {1: 1.0, 3: 1.0}
    assert perfect.recall == 1.0 and perfect.precision == 1.0
    # Position (0, 0) does not move: no direction, cosine 0 there.
    moving = (labels != 0).mean()
    assert perfect.l2 == pytest.approx(0.0) and perfect.dir == pytest.approx(moving) and perfect.ori == pytest.approx(moving)
    assert np.array_equal(perfect.confusion, np.diag(np.bincount(labels.ravel(), minlength=7)))
    assert np.all(perfect.pixel_top1 == 1.0)

    flipped = evaluate_staticflow(_one_hot(opposite[labels], 7), labels, flow, centroids, ks=(1,))
    assert flipped.top_k[1] == pytest.approx(1 - moving)
    assert flipped.dir == pytest.approx(-moving) and flipped.ori == pytest.approx(moving)
    assert flipped.l2 == pytest.approx(2 * np.linalg.norm(flow, axis=-1).mean())
    assert np.all(flipped.pixel_top1[1:, 1:] == 0.0) and flipped.pixel_top1[0, 0] == 1.0


def test_flow_metrics_on_perpendicular_and_parallel_vectors():
    u = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    v = np.array([[0.0, 1.0], [0.0, -1.0], [1.0, 0.0]])
    m = flow_metrics(u, v)
    assert m["dir"] == pytest.approx((0 - 1 + 1) / 3) and m["ori"] == pytest.approx(2 / 3)
    assert m["l2"] == pytest.approx((np.sqrt(2) + 3 + 2) / 3)


def test_constant_no_motion_baseline():
    centroids, _, labels = _hand_case(1)
    labels[:, :3] = 0  # most positions still, as in HMDB-51
    flow = labels_to_flow(labels, centroids)
    still = (labels == 0).mean()
    scores = evaluate_staticflow(constant_prediction(no_motion_probs(centroids), 10, 5), labels, flow, centroids, ks=(1,))
    assert scores.top_k[1] == pytest.approx(still)
    assert scores.recall == pytest.approx(1 / 7) and scores.precision == pytest.approx(still / 7)
    assert scores.dir == 0.0 and scores.ori == 0.0
    prior = class_frequencies(labels, 7)
    assert prior.sum() == pytest.approx(1.0) and prior.argmax() == 0
    top3 = evaluate_staticflow(constant_prediction(prior, 10, 5), labels, flow, centroids, ks=(1, 3))
    assert top3.top_k[3] == pytest.approx(np.sort(prior)[-3:].sum())
    assert top3.per_frame["top3"].shape == (10,) and top3.per_frame["top3"].mean() == pytest.approx(top3.top_k[3])


def test_recall_and_precision_average_over_every_class_absent_ones_as_zero():
    """The paper averages over all 40 clusters: a class nobody shows or predicts counts as 0."""
    centroids, _, labels = _hand_case(3)
    labels[labels == 6] = 5  # class 6 never occurs, and a perfect prediction never predicts it
    perfect = evaluate_staticflow(_one_hot(labels, 7), labels, labels_to_flow(labels, centroids), centroids, ks=(1,))
    assert perfect.top_k[1] == 1.0 and perfect.recall == pytest.approx(6 / 7) and perfect.precision == pytest.approx(6 / 7)


def test_mean_flow_baseline_is_the_mean_of_each_position():
    centroids, _, labels = _hand_case(4)
    freq = position_frequencies(labels, 7)  # (7, 5, 5)
    np.testing.assert_allclose(freq.sum(axis=0), 1.0, rtol=1e-6)
    decoded = decode_softmax(constant_prediction(freq, 1, 5), centroids)[0]  # (5, 5, 2)
    np.testing.assert_allclose(decoded, labels_to_flow(labels, centroids).mean(axis=0), atol=1e-6)


def test_sampling_the_softmax():
    centroids, _, labels = _hand_case(2)
    one_hot = _one_hot(labels[:2], 7)
    draws = sample_flow(one_hot, centroids, 4, np.random.default_rng(0))
    assert draws.shape == (4, 2, 5, 5, 2)
    np.testing.assert_array_equal(draws, np.broadcast_to(centroids[labels[:2]], draws.shape))
    half = np.zeros((1, 7, 1, 1), np.float32)
    half[0, [1, 2]] = 0.5
    xs = sample_flow(half, centroids, 4000, np.random.default_rng(1))[..., 0].ravel()
    assert set(np.unique(xs)) == {-1.0, 1.0} and abs((xs > 0).mean() - 0.5) < 0.03
