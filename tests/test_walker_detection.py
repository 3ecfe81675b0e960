"""walker's Table 2 (detection transfer): RoI pooling against a direct loop, VOC AP against
pycocotools and hand-computed cases, difficult objects ignored, the folded walker tower, the scale
calibration, the detection stand-in's ground truth, selective search, Fast R-CNN minibatches, and
the VOC 2012 download from a local server (and its offline error)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from http_fixture import closed_port, serve_files
from torch import nn

from pipeline import download, fetch
from pipeline.papers import sizes as resolve
from pipeline.papers.walker import spec
from pipeline.papers.walker.detection import ap as voc_ap
from pipeline.papers.walker.detection.boxes import decode, encode, iou, nms
from pipeline.papers.walker.detection.calibration import calibrate_between_layers, change_rates, init_within_layers
from pipeline.papers.walker.detection.data import DetectionSet, Minibatches, prepare_split, sample_rois
from pipeline.papers.walker.detection.detector import Backbone, DetectorConfig, FastRCNN
from pipeline.papers.walker.detection.evaluate import trivial_detections
from pipeline.papers.walker.detection.proposals import selective_search
from pipeline.papers.walker.detection.roi_pool import roi_max_pool
from pipeline.papers.walker.detection.voc import read_split, voc_classes
from pipeline.papers.walker.model import WalkerConfig, WalkerNet
from pipeline.sources import DownloadFile, get_source
from pipeline.synthetic.detection import (
    STANDIN_VERSION,
    DetectionStandinConfig,
    render_image,
    write_detection_standin,
)

SMOKE = resolve("smoke")["walker"]["detection"]


# ----------------------------------------------------------------------------- RoI pooling


def roi_pool_loop(features: torch.Tensor, rois: torch.Tensor, size: int, scale: float) -> torch.Tensor:
    """Caffe's RoIPooling bin by bin: region rounded to cells and clipped, bin i over
    [floor(i h / size), ceil((i + 1) h / size)) of the region."""
    _, channels, height, width = features.shape
    out = torch.empty(len(rois), channels, size, size)
    for r, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        cx1, cx2 = (min(max(round(v * scale), 0), width - 1) for v in (x1, x2))
        cy1, cy2 = (min(max(round(v * scale), 0), height - 1) for v in (y1, y2))
        cx2, cy2 = max(cx2, cx1), max(cy2, cy1)
        h, w = cy2 - cy1 + 1, cx2 - cx1 + 1
        for i in range(size):
            for j in range(size):
                ys = slice(cy1 + math.floor(i * h / size), cy1 + math.ceil((i + 1) * h / size))
                xs = slice(cx1 + math.floor(j * w / size), cx1 + math.ceil((j + 1) * w / size))
                out[r, :, i, j] = features[int(b), :, ys, xs].amax(dim=(1, 2))
    return out


def test_roi_max_pool_matches_a_direct_loop_and_passes_gradients():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 9, 13, generator=gen, requires_grad=True)
    xy = torch.rand(40, 4, generator=gen) * torch.tensor([230.0, 160.0, 230.0, 160.0]) - 10  # some leave the map
    boxes = torch.stack([xy[:, [0, 2]].min(1).values, xy[:, [1, 3]].min(1).values,
                         xy[:, [0, 2]].max(1).values, xy[:, [1, 3]].max(1).values], dim=1)
    rois = torch.cat([torch.randint(0, 2, (40, 1), generator=gen).float(), boxes], dim=1)
    fast = roi_max_pool(features, rois, 6, 1 / 16)
    slow = roi_pool_loop(features.detach(), rois, 6, 1 / 16)
    assert fast.shape == (40, 3, 6, 6)
    torch.testing.assert_close(fast, slow)
    weights = torch.randn(fast.shape, generator=gen)
    (fast * weights).sum().backward()
    grad_fast = features.grad.clone()
    features.grad = None
    loop = roi_pool_loop(features, rois, 6, 1 / 16)  # the loop is differentiable too (amax)
    (loop * weights).sum().backward()
    torch.testing.assert_close(grad_fast, features.grad)


# ----------------------------------------------------------------------------- boxes and AP


def test_iou_encode_decode_and_nms_on_known_boxes():
    a = np.array([[0, 0, 9, 9]], np.float32)
    b = np.array([[0, 0, 9, 9], [5, 0, 14, 9], [10, 10, 19, 19]], np.float32)
    np.testing.assert_allclose(iou(a, b)[0], [1.0, 50 / 150, 0.0])  # pixel-inclusive areas, as the devkit
    rois = np.array([[3, 4, 20, 30], [0, 0, 5, 5]], np.float32)
    gt = np.array([[5, 2, 25, 33], [1, 1, 8, 4]], np.float32)
    np.testing.assert_allclose(decode(rois, encode(rois, gt)), gt, atol=1e-4)
    scores = np.array([0.5, 0.9, 0.3])
    assert list(nms(b, scores, 0.3)) == [1, 2]  # box 0 overlaps the better box 1 by 1/3 > 0.3
    assert list(nms(b, scores, 0.4)) == [1, 0, 2]  # ... which is under 0.4: kept, in score order


def _dets(rows):
    image, label, score, box = zip(*rows)
    return voc_ap.Detections(np.array(image), np.array(label), np.array(score, float), np.array(box, float))


def test_voc_ap_of_a_hand_computed_ranking_with_a_difficult_object():
    gt_boxes = [np.array([[0, 0, 9, 9], [20, 0, 29, 9], [40, 0, 49, 9]], np.float32)]
    gt_labels = [np.array([0, 0, 0])]
    gt_difficult = [np.array([False, False, True])]
    det = _dets([
        (0, 0, 0.95, [40, 0, 49, 9]),  # the difficult object: ignored
        (0, 0, 0.9, [0, 0, 9, 9]),  # TP
        (0, 0, 0.85, [41, 1, 49, 9]),  # the difficult object again: ignored, not a duplicate FP
        (0, 0, 0.8, [60, 60, 70, 70]),  # FP
        (0, 0, 0.7, [0, 1, 9, 9]),  # duplicate of a taken object: FP
        (0, 0, 0.6, [20, 0, 29, 9]),  # TP
    ])
    status, positives = voc_ap.match(det, gt_boxes, gt_labels, gt_difficult, 1)
    assert list(status) == [-1, 1, -1, 0, 0, 1]
    assert positives.tolist() == [[2]]
    # precision after each counted detection: 1, 1/2, 1/3, 2/4 at recalls .5, .5, .5, 1
    # monotone envelope: recall .5 -> max(1, .5) = 1, recall 1 -> .5; AP = .5 * 1 + .5 * .5
    ap = voc_ap.per_class_ap(det, status, positives)
    assert ap[0] == pytest.approx(0.75)
    # counted as an ordinary object, the difficult one would change the answer
    status2, positives2 = voc_ap.match(det, gt_boxes, gt_labels, [np.zeros(3, bool)], 1)
    assert positives2.tolist() == [[3]] and voc_ap.per_class_ap(det, status2, positives2)[0] != pytest.approx(0.75)


def _random_case(rng: np.random.Generator, n_images: int, n_classes: int):
    """Ground truth on a grid (no detection can reach IoU 0.5 with two objects) and detections:
    jittered copies of objects (some twice), and boxes anywhere."""
    gt_boxes, gt_labels, rows = [], [], []
    for i in range(n_images):
        cells = rng.choice(16, rng.integers(1, 6), replace=False)
        boxes = []
        for c in cells:
            x0, y0 = 60 * (c % 4) + rng.integers(0, 10), 60 * (c // 4) + rng.integers(0, 10)
            boxes.append([x0, y0, x0 + rng.integers(15, 40), y0 + rng.integers(15, 40)])
        boxes = np.array(boxes, float)
        labels = rng.integers(0, n_classes, len(boxes))
        gt_boxes.append(boxes)
        gt_labels.append(labels)
        for b, lab in zip(boxes, labels, strict=True):
            for _ in range(rng.integers(0, 3)):
                jitter = rng.normal(0, 3, 4)
                label = lab if rng.random() < 0.8 else rng.integers(0, n_classes)
                rows.append((i, label, None, np.clip(b + jitter, 0, None)))
        for _ in range(rng.integers(0, 4)):
            x0, y0 = rng.uniform(0, 200, 2)
            rows.append((i, rng.integers(0, n_classes), None, [x0, y0, x0 + rng.uniform(5, 50), y0 + rng.uniform(5, 50)]))
    scores = rng.permutation(len(rows)) / len(rows) + 1e-3  # distinct scores
    rows = [(i, lab, s, box) for (i, lab, _, box), s in zip(rows, scores, strict=True)]
    return gt_boxes, gt_labels, _dets(rows)


def test_voc_ap_agrees_with_pycocotools_on_random_detections():
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(7)
    n_classes = 3
    gt_boxes, gt_labels, det = _random_case(rng, 25, n_classes)
    difficult = [np.zeros(len(b), bool) for b in gt_boxes]
    status, positives = voc_ap.match(det, gt_boxes, gt_labels, difficult, n_classes)
    ours = voc_ap.per_class_ap(det, status, positives)

    def xywh(b):  # inclusive pixel box -> continuous box: the same IoU as the devkit's
        return [float(b[0]), float(b[1]), float(b[2] - b[0] + 1), float(b[3] - b[1] + 1)]

    annotations = [{"id": k + 1, "image_id": i, "category_id": int(lab), "bbox": xywh(b), "iscrowd": 0,
                    "area": xywh(b)[2] * xywh(b)[3]}
                   for k, (i, b, lab) in enumerate((i, b, lab) for i in range(len(gt_boxes))
                                                    for b, lab in zip(gt_boxes[i], gt_labels[i], strict=True))]
    coco = COCO()
    coco.dataset = {"images": [{"id": i} for i in range(len(gt_boxes))], "annotations": annotations,
                    "categories": [{"id": c} for c in range(n_classes)]}
    coco.createIndex()
    results = coco.loadRes([{"image_id": int(i), "category_id": int(lab), "bbox": xywh(b), "score": float(s)}
                            for i, lab, s, b in zip(det.image, det.label, det.score, det.box, strict=True)])
    evaluation = COCOeval(coco, results, "bbox")
    evaluation.params.iouThrs = np.array([0.5])
    evaluation.params.recThrs = np.linspace(0, 1, 20001)  # dense: the mean tends to the area under the envelope
    evaluation.params.maxDets = [10_000]
    evaluation.params.areaRng, evaluation.params.areaRngLbl = [[0, 1e10]], ["all"]
    evaluation.evaluate()
    evaluation.accumulate()
    theirs = evaluation.eval["precision"][0, :, :, 0, 0].mean(axis=0)  # (K,)
    assert np.all(np.isfinite(ours)) and 0.2 < ours.mean() < 0.95
    np.testing.assert_allclose(ours, theirs, atol=2e-4)


def test_bootstrap_weights_equal_duplicated_images():
    rng = np.random.default_rng(1)
    gt_boxes, gt_labels, det = _random_case(rng, 6, 2)
    difficult = [np.zeros(len(b), bool) for b in gt_boxes]
    status, positives = voc_ap.match(det, gt_boxes, gt_labels, difficult, 2)
    counts = np.array([2, 0, 1, 3, 0, 1])
    weighted = voc_ap.per_class_ap(det, status, positives, counts)
    # the same resample written out: each image repeated as often as it was drawn
    picks = np.repeat(np.arange(6), counts)
    rows = [(k, int(det.label[d]), float(det.score[d]) - 1e-9 * k, det.box[d])
            for k, i in enumerate(picks) for d in np.flatnonzero(det.image == i)]
    dup = _dets(rows)
    s2, p2 = voc_ap.match(dup, [gt_boxes[i] for i in picks], [gt_labels[i] for i in picks],
                          [difficult[i] for i in picks], 2)
    np.testing.assert_allclose(weighted, voc_ap.per_class_ap(dup, s2, p2), atol=1e-6)


# ----------------------------------------------------------------------------- network, calibration


def test_backbone_with_folded_batch_norm_computes_the_walker_tower():
    cfg = WalkerConfig(image_size=(48, 64), coarse_size=(3, 4), width=1 / 16, fine_levels=0)  # no margin
    walker = WalkerNet(cfg)
    gen = torch.Generator().manual_seed(0)
    for module in walker.image_tower.modules():
        if isinstance(module, nn.BatchNorm2d):  # statistics and affine far from identity
            module.running_mean.copy_(torch.randn(module.num_features, generator=gen))
            module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
            module.bias.data.copy_(torch.randn(module.num_features, generator=gen))
    walker.eval()
    x = torch.randn(2, 3, 48, 64, generator=gen)
    tower = walker.image_tower
    expected = tower.trunk[:3](tower.pool2(tower.conv2(tower.pool1(tower.conv1(x)))))  # conv5 output
    backbone = Backbone(DetectorConfig(n_classes=2, width=1 / 16))
    backbone.load_walker_tower(walker.state_dict())
    torch.testing.assert_close(backbone(x), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="width"):
        Backbone(DetectorConfig(n_classes=2, width=1 / 8)).load_walker_tower(walker.state_dict())


def test_within_layer_init_and_between_layer_calibration():
    gen = torch.Generator().manual_seed(0)
    layers = [nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 4)]
    x = torch.randn(256, 8, generator=gen) * 5 + 3

    def run():
        h = x
        for k, layer in enumerate(layers):
            h = layer(h)
            h = torch.relu(h) if k < len(layers) - 1 else h
        return h

    init_within_layers(layers, run, gen)
    pre = layers[0](x)
    torch.testing.assert_close(pre.mean(0), torch.zeros(16), atol=1e-4, rtol=0)
    torch.testing.assert_close(pre.std(0), torch.ones(16), atol=1e-4, rtol=0)
    with torch.no_grad():  # now make the layers learn at wildly different rates
        for layer, s in zip(layers, (30.0, 0.05, 4.0), strict=True):
            layer.weight.mul_(s)
            layer.bias.mul_(s)
    before, _ = change_rates(layers, run, torch.Generator().manual_seed(1))
    out_before = run().detach()
    calibrate_between_layers(layers, run, gen, iterations=20, tolerance=0.01)
    after, _ = change_rates(layers, run, torch.Generator().manual_seed(1))
    assert float(before.max() / before.min()) > 100
    assert float(after.max() / after.min()) < 1.3
    # a ReLU network is rescaled, not changed: the output only changes scale
    out_after = run().detach()
    ratio = out_after / out_before
    assert float(ratio.std() / ratio.mean().abs()) < 1e-3


def test_detector_shapes_and_losses_at_smoke_size():
    model = FastRCNN(DetectorConfig(n_classes=3, width=1 / 16, fc_width=16))
    rois = torch.tensor([[0, 0, 0, 40, 30], [1, 10, 5, 60, 47], [1, 0, 0, 63, 47]], dtype=torch.float32)
    logits, deltas = model(torch.randn(2, 3, 48, 64), rois)
    assert logits.shape == (3, 4) and deltas.shape == (3, 4, 4)
    batch = {"images": torch.randn(2, 3, 48, 64), "rois": rois, "labels": torch.tensor([0, 2, 1]),
             "targets": torch.randn(3, 4)}
    out = model.losses(batch)
    assert out["loss"] > 0 and out["box"] > 0 and out["foreground"] == pytest.approx(2 / 3)
    out["loss"].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- data


def test_standin_is_written_in_the_voc_layout_with_the_masks_boxes(tmp_path):
    cfg = DetectionStandinConfig(width=64, height=48, train_images=5, val_images=3, seed=11)
    write_detection_standin(tmp_path / "voc", cfg)
    classes = voc_classes(tmp_path / "voc")
    assert classes == ("cross", "ellipse", "rectangle", "square", "triangle")
    train, val = read_split(tmp_path / "voc", "train"), read_split(tmp_path / "voc", "val")
    assert len(train) == 5 and len(val) == 3
    seeds = np.random.SeedSequence([11, STANDIN_VERSION]).spawn(8)
    for k, image in enumerate(train + val):  # the written boxes are the generator's, 1-based in the XML
        frame, objects = render_image(cfg, cfg.classes[k % 5 if k < 5 else (k - 5) % 5], np.random.default_rng(seeds[k]))
        np.testing.assert_array_equal(image.boxes, np.array([o["box"] for o in objects], np.float32).reshape(-1, 4))
        assert [classes[c] for c in image.labels] == [o["name"] for o in objects]
        assert image.difficult.tolist() == [o["difficult"] for o in objects]
        jpeg = cv2.cvtColor(cv2.imread(str(image.path)), cv2.COLOR_BGR2RGB)
        assert jpeg.shape == (48, 64, 3) and np.abs(jpeg.astype(int) - frame).mean() < 10  # JPEG, 4:2:0
    lines = (tmp_path / "voc" / "VOCdevkit" / "VOC2012" / "ImageSets" / "Main" / "ellipse_train.txt").read_text()
    assert lines.split()[0] == train[0].image_id and lines.split()[1] == ("1" if 1 in train[0].labels else "-1")


def test_selective_search_is_reproducible_and_finds_the_objects(tmp_path):
    cfg = DetectionStandinConfig(width=160, height=120, train_images=4, val_images=1, seed=3)
    write_detection_standin(tmp_path / "voc", cfg)
    data = prepare_split(tmp_path / "voc", "train", {"proposals": SMOKE["proposals"] | {"max_boxes": 400}},
                         tmp_path / "train.npz", workers=2)
    again = DetectionSet.load(tmp_path / "train.npz")
    bgr = cv2.imread(str(again.path(0)))
    np.testing.assert_array_equal(selective_search(bgr, 400, 4), again.proposals[0])  # same boxes, same order
    for props, (w, h) in zip(again.proposals, again.sizes, strict=True):
        assert len(props) > 20 and props[:, 0].min() >= 0 and props[:, 2].max() <= w - 1 and props[:, 3].max() <= h - 1
    hits = [iou(gt, props).max(axis=1) for gt, props in zip(data.gt_boxes, data.proposals, strict=True)]
    assert np.mean(np.concatenate(hits) >= 0.5) >= 0.6  # most objects have a proposal at IoU >= 0.5
    assert again.classes == data.classes and np.allclose(again.channel_mean, data.channel_mean)


def test_fast_rcnn_roi_sampling():
    rng = np.random.default_rng(0)
    gt = np.array([[10, 10, 40, 40], [60, 20, 90, 70]], np.float32)
    near = (gt[None] + rng.normal(0, 4, (30, 2, 4))).reshape(-1, 4)  # jittered objects
    far = rng.uniform(0, 100, (200, 2)).repeat(2, 1) + [0, 0, 20, 20]  # 21 x 21 boxes anywhere
    props = np.concatenate([near, far]).astype(np.float32)
    rois, labels, targets = sample_rois(props, gt, np.array([1, 3]), 64, 0.25, rng)
    assert len(rois) == 64 and (labels > 0).sum() == 16
    overlaps = iou(rois, gt)
    fg = labels > 0
    assert np.all(overlaps[fg].max(1) >= 0.5) and np.all(overlaps[~fg].max(1) < 0.5)
    np.testing.assert_array_equal(labels[fg], np.array([2, 4])[overlaps[fg].argmax(1)])
    np.testing.assert_allclose(decode(rois[fg], targets[fg]), gt[overlaps[fg].argmax(1)], atol=1e-3)


def test_minibatches_are_a_function_of_seed_and_step(tmp_path):
    cfg = DetectionStandinConfig(width=64, height=48, train_images=6, val_images=2, seed=5)
    write_detection_standin(tmp_path / "voc", cfg)
    prepare_split(tmp_path / "voc", "train", SMOKE, tmp_path / "train.npz")
    data = DetectionSet.load(tmp_path / "train.npz")
    a, b = Minibatches(data, SMOKE, seed=0), Minibatches(data, SMOKE, seed=0)
    for key, value in a.batch(5).items():
        torch.testing.assert_close(value, b.batch(5)[key])
    batch = a.batch(3)
    assert batch["images"].shape[:2] == (2, 3) and min(batch["images"].shape[2:]) == SMOKE["image"]["min_side"]
    assert batch["rois"][:, 0].max() == 1 and len(batch["labels"]) == len(batch["rois"]) == len(batch["targets"])
    first_epoch = np.concatenate([a.images_of(s) for s in range(3)])
    assert sorted(first_epoch) == list(range(6))  # an epoch visits every image once


def test_trivial_detectors_score_from_training_statistics_only(tmp_path):
    cfg = DetectionStandinConfig(width=64, height=48, train_images=6, val_images=3, seed=2)
    write_detection_standin(tmp_path / "voc", cfg)
    train = prepare_split(tmp_path / "voc", "train", SMOKE, tmp_path / "train.npz")
    val = prepare_split(tmp_path / "voc", "val", SMOKE, tmp_path / "val.npz")
    whole = trivial_detections("whole_image", train, val, 100)
    assert len(whole) == 3 * len(train.classes)
    np.testing.assert_allclose(whole.box[0], [0, 0, 63, 47])
    props = trivial_detections("proposals", train, val, 100)
    assert len(props) and props.score.max() <= 1 and set(np.unique(props.image)) <= {0, 1, 2}


# ----------------------------------------------------------------------------- source


def _tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder / "VOCdevkit", arcname="VOCdevkit")
    return buffer.getvalue()


def test_voc2012_url_source_downloads_checks_and_reads_a_voc_archive(tmp_path):
    write_detection_standin(tmp_path / "made", DetectionStandinConfig(width=64, height=48, train_images=3,
                                                                       val_images=2, seed=1))
    archive = _tar(tmp_path / "made")
    with serve_files() as server:
        url = server.add("VOCtrainval_11-May-2012.tar", archive)
        entry = dataclasses.replace(get_source("voc2012"), files=(
            DownloadFile("VOCtrainval_11-May-2012.tar", url, hashlib.sha256(archive).hexdigest(), "tar"),))
        root = fetch.fetch_url_source(entry, tmp_path / "raw", progress=False)
    record = fetch.read_source(tmp_path / "raw")
    assert record["source"] == "url" and record["files"][0]["sha256"] == hashlib.sha256(archive).hexdigest()
    images = read_split(root, "val")
    assert [im.image_id for im in images] == [im.image_id for im in read_split(tmp_path / "made", "val")]
    with serve_files() as server:  # a wrong checksum keeps nothing
        url = server.add("VOCtrainval_11-May-2012.tar", archive)
        bad = dataclasses.replace(entry, files=(dataclasses.replace(entry.files[0], url=url, sha256="0" * 64),))
        with pytest.raises(download.ChecksumError):
            fetch.fetch_url_source(bad, tmp_path / "raw2", progress=False)


def test_voc2012_url_source_offline_fails_at_once_naming_url_and_path(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/VOCtrainval_11-May-2012.tar"
    entry = get_source("voc2012")
    offline = dataclasses.replace(entry, files=(dataclasses.replace(entry.files[0], url=url, mirrors=()),))
    with pytest.raises(download.DownloadError) as info:
        fetch.fetch_url_source(offline, tmp_path / "raw", progress=False)
    assert url in str(info.value) and "datasets.voc2012.source: path" in str(info.value)


def test_table_2_is_a_walker_target_with_sizes_at_every_scale():
    targets = spec.targets({"ucf101": "synthetic", "thumos": "synthetic", "voc2012": "synthetic"}, Path("r"), {})
    assert Path("r/tables/voc2012_detection.csv") in targets
    assert Path("r/tables/voc2012_detection.csv") not in spec.targets(
        {"ucf101": "synthetic", "thumos": "synthetic", "voc2012": "off"}, Path("r"), {})
    for scale in ("smoke", "demo", "paper"):
        assert set(resolve(scale)["walker"]["detection"]) >= {"image", "proposals", "model", "train", "test"}
    paper = resolve("paper")["walker"]["detection"]
    assert paper["model"]["fc_width"] == 4096 and paper["image"]["min_side"] == 600
    assert "ours+cal" in spec.REFERENCE["voc2012_detection"]
