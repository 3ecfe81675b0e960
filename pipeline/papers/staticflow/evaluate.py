"""staticflow's evaluation runs: scores of each predictor, example predictions, the video.

:mod:`pipeline.papers.staticflow.metrics` holds the metrics; this module applies them to the
prepared HMDB-51 sets (``data.split``: frames shuffled into validation and test as the paper,
or by video: validation = the per-class hold-out of training videos, test = the official test
videos) for the two nets and three constant predictors the numbers must be read
against: "no motion" everywhere (the slowest codebook word, ~75% of all positions in the
paper), the training class frequencies at every position (the class prior: its top-1 is the
most frequent cluster) and the training class frequencies of each position (the mean training
flow of that position). Every number gets a bootstrap interval over frames, and the test table
the paired differences of L2 and top-5 from "no motion" and the mean flow (Tables 3-4 are written
from these scores by ``tables``).

The video (paper Sec. 3, Fig. 3): predict the flow of a frame, scale it up to the frame,
forward-warp the frame along k/m of it for k = 1..m (each pixel's colour placed at x + k/m f(x),
the regular grid filled by linear interpolation over the scattered points), feed the last
warped frame back in, and repeat: 5 predictions x 5 frames at every scale but smoke.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import ffmpeg
import numpy as np
import torch
from scipy.interpolate import griddata

from pipeline.atomic import load_array, publishing, read_json, write_json
from pipeline.batches import item_table, normalize_image, read_rows, shards_of, spread
from pipeline.manifest import why_split_is_empty
from pipeline.papers.staticflow.codebook import assign_labels, decode_softmax
from pipeline.papers.staticflow.data import FlowNetData, label_flow, staticflow_data
from pipeline.papers.staticflow.figures import video_strip_figure
from pipeline.papers.staticflow.metrics import (
    class_frequencies,
    constant_prediction,
    evaluate_staticflow,
    no_motion_probs,
    position_frequencies,
)
from pipeline.papers.staticflow.model import build_staticflow
from pipeline.papers.staticflow.train import param_count, predict_probs
from pipeline.saved_models import load_model, model_provenance
from pipeline.shards import write_shard
from pipeline.training import resolve_device

log = logging.getLogger(__name__)

NETS: dict[str, str] = {"alexnet": "AlexNet", "allconv": "All-Conv"}
BASELINES: dict[str, str] = {"nomotion": "No motion", "prior": "Class prior (most frequent cluster)",
                              "meanflow": "Mean training flow"}
PREDICTORS: dict[str, str] = {**NETS, **BASELINES}
"""Predictor -> row name of Tables 3 and 4 (``spec.REFERENCE`` for the nets)."""
SETS: tuple[str, ...] = ("val", "test")


def _true_flow(data: FlowNetData, rows: np.ndarray) -> np.ndarray:
    """True label-grid flow (N, g, g, 2) in px of dataset rows, without decoding the frames."""
    paths = data.dataset.paths
    grids = read_rows(paths, item_table(paths), rows, "flow_grid")
    return label_flow(grids, data.image_size)


def _constant_probs(predictor: str, data: FlowNetData) -> np.ndarray:
    if predictor == "nomotion":
        return no_motion_probs(data.centroids)
    labels = assign_labels(_true_flow(data, data.rows["train"]), data.centroids)
    if predictor == "meanflow":
        return position_frequencies(labels, len(data.centroids))
    return class_frequencies(labels, len(data.centroids))


def _split_description(record: Mapping[str, Any]) -> str:
    """How the prepared sets were drawn, for the tables' provenance."""
    if record.get("split") == "frames":
        return (f"frames shuffled into train / validation / test as the paper ({record['val_fraction']:g} / "
                f"{record['test_fraction']:g} of all frames; neighbouring frames of a video can sit in two sets)")
    return (f"by video: test = the official test videos, validation = {record['val_fraction']:g} of the "
            "training videos held out per class")


def _empty_set_reason(name: str, inputs: Mapping[str, Any]) -> str:
    """val is held out of the training videos; test is the split lists' test videos, so say
    how many those lists hold and what dropped them (the listing and clip index beside the summary)."""
    if read_json(inputs["split"]).get("split") == "frames":
        return f"the frame split gives it no frame: raise data.{name}_fraction or give more videos"
    if name == "val":
        return "no training video was held out: raise data.val_fraction or give more training videos"
    summary = Path(inputs["summary"])  # <data>/flow/<dataset>/staticflow/summary.csv
    data_root, dataset = summary.parents[3], summary.parents[1].name
    return why_split_is_empty(data_root / "manifests" / f"{dataset}.csv", "test",
                              data_root / "clips" / dataset / "staticflow" / "index.csv")


def evaluate_predictor(
    predictor: str,
    inputs: Mapping[str, Any],
    sizes: Mapping[str, Any],
    device: str,
    out_json: Path,
    model_path: Path | None = None,
) -> dict[str, Any]:
    """Every metric of one predictor on the validation and test sets -> JSON.

    The JSON holds, per set, the scalar metrics (fractions), the confusion matrix (rows = true
    class) and the per-position top-1 accuracy map, and the net's parameter count.
    """

    if predictor not in PREDICTORS:
        raise KeyError(f"staticflow predictors are {', '.join(PREDICTORS)}, not {predictor!r}")
    data = staticflow_data(inputs)
    dev = resolve_device(device)
    model = load_model(Path(model_path), build_staticflow).to(dev) if predictor in NETS else None
    const = None if model is not None else _constant_probs(predictor, data)
    record: dict[str, Any] = {"predictor": predictor, "row": PREDICTORS[predictor],
                              "params": param_count(model) if model is not None else None,
                              "image_size": data.image_size, "grid": data.grid, "classes": len(data.centroids),
                              "model_provenance": model_provenance(Path(model_path)) if model is not None else None,
                              "split": _split_description(read_json(inputs["split"]))}
    for name in SETS:
        rows = data.rows[name]
        if len(rows) == 0:
            raise ValueError(f"{inputs['summary']}: the {name} set is empty; {_empty_set_reason(name, inputs)}")
        if model is not None:
            probs, flow = predict_probs(model, data.dataset, rows, int(sizes["eval"]["batch_size"]), dev)
        else:
            flow = _true_flow(data, rows)
            probs = constant_prediction(const, len(rows), data.grid)
        labels = assign_labels(flow, data.centroids)
        scores = evaluate_staticflow(probs, labels, flow, data.centroids)
        record[name] = {"frames": int(len(rows)), "rows": rows.tolist(), **scores.row(),
                        "confusion": scores.confusion.tolist(), "pixel_top1": scores.pixel_top1.tolist(),
                        "per_frame": {k: v.tolist() for k, v in scores.per_frame.items()}}
        log.info("%s on %s (%d frames): %s", predictor, name, len(rows),
                 {k: round(v, 4) for k, v in scores.row().items()})
    write_json(out_json, record)
    return record


def net_examples(
    model_path: Path, inputs: Mapping[str, Any], sizes: Mapping[str, Any], device: str, out: Path
) -> Path:
    """A few test frames with their true flow, labels and the net's softmax (for the flow figure)."""

    data = staticflow_data(inputs)
    model = load_model(Path(model_path), build_staticflow)
    rows = moving_rows(data, int(sizes["eval"]["examples"]))
    probs, flow = predict_probs(model, data.dataset, rows, len(rows), resolve_device(device))
    paths = data.dataset.paths
    arrays = {"image": read_rows(paths, item_table(paths), rows, "image"), "flow": flow,
              "labels": assign_labels(flow, data.centroids), "probs": probs.astype(np.float32),
              "predicted_flow": decode_softmax(probs, data.centroids).astype(np.float32)}
    return write_shard(out, arrays, {"arch": model.cfg.arch, "rows": rows.tolist(),
                                     "centroids": data.centroids.tolist()})


def moving_rows(data: FlowNetData, n: int) -> np.ndarray:
    """n test rows with the most true motion among an even spread of 4n (examples worth showing)."""
    candidates = spread(data.rows["test"], 4 * n)
    motion = np.linalg.norm(_true_flow(data, candidates), axis=-1).mean(axis=(1, 2))
    return np.sort(candidates[np.argsort(-motion, kind="stable")[:n]])


# ----------------------------------------------------------------------------- video


def forward_warp(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Place each pixel's colour at x + flow(x) and interpolate the regular grid (linear, Delaunay).

    frame (H, W, 3) uint8, flow (H, W, 2) px -> (H, W, 3) uint8; grid points outside the moved
    pixels' hull take the nearest moved pixel's colour.
    """

    h, w = frame.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    points = np.stack([xs + flow[..., 0], ys + flow[..., 1]], axis=-1).reshape(-1, 2)
    values = frame.reshape(-1, 3).astype(np.float32)
    grid = (xs, ys)
    out = griddata(points, values, grid, method="linear")
    holes = np.isnan(out[..., 0])
    if holes.any():
        out[holes] = griddata(points, values, (xs[holes], ys[holes]), method="nearest")
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def generate_video(
    model: Any, frame: np.ndarray, mean: np.ndarray, centroids: np.ndarray, predictions: int, per_prediction: int
) -> tuple[np.ndarray, np.ndarray]:
    """Iterated flow prediction and warping from one frame -> frames (1 + P*m, H, W, 3), flows (P, H, W, 2)."""


    h, w = frame.shape[:2]
    frames, flows = [frame], []
    current = frame
    for _ in range(predictions):
        probs = model.predict(torch.from_numpy(normalize_image(current, mean)[None])).cpu().numpy()
        coarse = decode_softmax(probs, centroids)[0]  # (g, g, 2) px
        flow = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)  # scaled up to the frame
        flows.append(flow)
        for k in range(1, per_prediction + 1):
            frames.append(forward_warp(current, flow * k / per_prediction))
        current = frames[-1]
    return np.stack(frames), np.stack(flows)


def write_mp4(frames: np.ndarray, path: Path, fps: float) -> Path:
    """Encode frames (T, H, W, 3) uint8 as H.264 (ffmpeg-python), published atomically."""

    path = Path(path)
    t, h, w, _ = frames.shape
    with publishing(path) as tmp:
        (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", r=fps)
            .output(str(tmp), vcodec="libx264", pix_fmt="yuv420p", vf="pad=ceil(iw/2)*2:ceil(ih/2)*2")
            .overwrite_output()
            .run(input=np.ascontiguousarray(frames, np.uint8).tobytes(), quiet=True)
        )
    return path


def flow_video(
    model_path: Path, inputs: Mapping[str, Any], sizes: Mapping[str, Any], out_mp4: Path, out_png: Path
) -> Path:
    """The generated video of the test frame with the most motion among the examples, and its strip."""

    v = sizes["eval"]["video"]
    data = staticflow_data(inputs)
    model = load_model(Path(model_path), build_staticflow)
    row = moving_rows(data, 1)
    paths = shards_of(inputs["summary"])
    frame = read_rows(paths, item_table(paths), row, "image")[0]
    frames, flows = generate_video(model, frame, load_array(inputs["mean_image"]), data.centroids,
                                   int(v["predictions"]), int(v["frames_per_prediction"]))
    write_mp4(frames, out_mp4, float(v["fps"]))
    video_strip_figure(out_png, frames, flows, int(v["frames_per_prediction"]), model.cfg.arch)
    log.info("video of %d frames from test row %d", len(frames), int(row[0]))
    return Path(out_mp4)
