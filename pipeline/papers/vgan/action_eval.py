"""Fig. 4 measured: action accuracy of the classifiers of ``action.py`` and of the trivial answers.

Accuracy is per test *video*: the softmax of its clips averaged, then the arg max (a video of the
demo has one or two clips, of UCF101 many). Beside the classifiers: chance (1/K), the most frequent
training class, and logistic regression (scikit-learn) on the frozen GAN discriminator's last
features, on all the labelled videos, as the paper's "logistic regression on only the last layer".
Every accuracy has a 95% bootstrap interval over test videos; fine-tune minus random init at each
share of labelled videos is paired (the same test videos) and has its own interval. With
``action.runs`` > 1 each classifier is trained that many times (other seeds: head, batches,
dropout) and a test video counts by the share of runs that classify it right: the accuracy is the
mean over runs, so one lucky or unlucky initialisation on a few dozen test videos does not decide
whether fine-tuning beats random initialisation. The tables are written from this record by
``tables.write_action_tables``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from pipeline.atomic import write_json
from pipeline.intervals import mean_interval
from pipeline.papers.vgan.action import (
    ActionClassifier,
    ActionClips,
    action_clips,
    build_classifier,
    build_discriminator,
    trunk_features,
)
from pipeline.papers.vgan.gan import to_network_layout
from pipeline.papers.vgan.model import Discriminator
from pipeline.papers.vgan.spec import (
    classifier_name,
    parse_classifier,
)
from pipeline.saved_models import load_model, model_provenance

log = logging.getLogger(__name__)


def video_correct(clips: ActionClips, rows: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Per test video (sorted by id): 1 when its clips' mean class probability picks its class."""
    frame = pd.DataFrame(probabilities, columns=range(probabilities.shape[1]))
    frame["video"] = clips.table.iloc[rows]["video_id"].to_numpy()
    frame["label"] = clips.labels[rows]
    per_video = frame.groupby("video", sort=True)
    predicted = per_video[list(range(probabilities.shape[1]))].mean().to_numpy().argmax(1)
    truth = per_video["label"].first().to_numpy()
    return (predicted == truth).astype(np.float64)


@torch.no_grad()
def _test_outputs(clips: ActionClips, classifiers: Mapping[str, ActionClassifier], discriminator: Discriminator,
                  batch_size: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One pass over the test clips: every classifier's class probabilities and the frozen D's features."""
    probabilities: dict[str, list[np.ndarray]] = {name: [] for name in classifiers}
    features = []
    for chunk, _ in clips.batches(clips.rows["test"], batch_size):
        video = to_network_layout(chunk).float()
        for name, classifier in classifiers.items():
            probabilities[name].append(torch.softmax(classifier(video), 1).numpy())
        features.append(trunk_features(discriminator, chunk, pooled=False, batch_size=batch_size))
    return {name: np.concatenate(p) for name, p in probabilities.items()}, np.concatenate(features)


def _train_features(clips: ActionClips, rows: np.ndarray, discriminator: Discriminator,
                    batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The frozen D's features and the labels of some training rows, a batch at a time."""
    parts = [(trunk_features(discriminator, chunk, pooled=False, batch_size=batch_size), labels.numpy())
             for chunk, labels in clips.batches(rows, batch_size)]
    return np.concatenate([f for f, _ in parts]), np.concatenate([y for _, y in parts])


def _runs_of(names: Iterable[str]) -> dict[str, list[str]]:
    """Classifier (``<init>-1of<share>``) -> the names of its training runs, run 0 first."""
    runs: dict[str, list[str]] = {}
    for name in sorted(names, key=lambda n: parse_classifier(n)[2]):
        init, share, _ = parse_classifier(name)
        runs.setdefault(classifier_name(init, share), []).append(name)
    return runs


def _score(correct: np.ndarray, seed: int) -> dict[str, float]:
    low, high = mean_interval(correct, seed)
    return {"accuracy": float(correct.mean()), "low": low, "high": high, "videos": int(len(correct))}


def evaluate_actions(classifiers: Mapping[str, Path], discriminator: Path, summary: Path,
                     sizes: Mapping[str, Any], seed: int, out_json: Path) -> dict[str, Any]:
    """Accuracy of every classifier (keys ``<init>-1of<share>``), the linear probe and the baselines -> JSON."""
    a = sizes["action"]
    clips = action_clips(summary, sizes["data"], float(a["test_fraction"]))
    test_rows = clips.rows["test"]
    batch = int(a["batch_size"])
    d = load_model(discriminator, build_discriminator, module="discriminator")
    networks = {key: load_model(Path(path), build_classifier) for key, path in sorted(classifiers.items())}
    probabilities, test_features = _test_outputs(clips, networks, d, batch)
    results: dict[str, dict[str, Any]] = {}
    correct: dict[str, np.ndarray] = {}
    runs_of = _runs_of(networks)
    for key, runs in sorted(runs_of.items()):
        init, share, _ = parse_classifier(key)
        rows = clips.labelled(share)
        per_run = [video_correct(clips, test_rows, probabilities[name]) for name in runs]
        correct[key] = np.mean(per_run, axis=0)  # per test video: the share of runs that got it right
        results[key] = {"init": init, "share": share, "labelled_videos": clips.videos(rows),
                        "labelled_clips": int(len(rows)), **_score(correct[key], seed), "runs": len(runs),
                        "run_accuracies": [float(c.mean()) for c in per_run]}
        log.info("%s: %.1f%% [%.1f, %.1f] on %d test videos, %d labelled videos, mean of %d training runs (%s)",
                 key, 100 * results[key]["accuracy"], 100 * results[key]["low"], 100 * results[key]["high"],
                 results[key]["videos"], results[key]["labelled_videos"], len(runs),
                 ", ".join(f"{100 * acc:.1f}%" for acc in results[key]["run_accuracies"]))

    # logistic regression on the frozen GAN discriminator's features (all labelled videos)
    train_rows = clips.labelled(1)
    train_features, train_labels = _train_features(clips, train_rows, d, batch)
    scaler = StandardScaler().fit(train_features)
    probe = LogisticRegression(C=float(a["probe_c"]), max_iter=2000, random_state=seed)
    probe.fit(scaler.transform(train_features), train_labels)
    probs = np.zeros((len(test_rows), len(clips.classes)))
    probs[:, probe.classes_] = probe.predict_proba(scaler.transform(test_features))
    correct["linear"] = video_correct(clips, test_rows, probs)
    results["linear"] = {"init": "linear", "share": 1, "labelled_videos": clips.videos(train_rows),
                         "labelled_clips": int(len(train_rows)), **_score(correct["linear"], seed)}

    # the trivial answers, by the same per-video scoring: the most frequent class of each share's labels
    for share in sorted({parse_classifier(key)[1] for key in runs_of}):
        rows = clips.labelled(share)
        frequent = np.zeros((len(test_rows), len(clips.classes)))
        frequent[:, int(np.bincount(clips.labels[rows], minlength=len(clips.classes)).argmax())] = 1.0
        scored = _score(video_correct(clips, test_rows, frequent), seed)
        results[f"most_frequent-1of{share}"] = {"init": "most frequent class", "share": share,
                                                "labelled_videos": clips.videos(rows),
                                                "labelled_clips": int(len(rows)), **scored}
    test_videos = results["linear"]["videos"]
    results["chance"] = {"init": "chance", "share": 1, "accuracy": 1 / len(clips.classes), "low": None,
                         "high": None, "videos": test_videos}

    gains = {}
    for key in runs_of:
        init, share, _ = parse_classifier(key)
        other = classifier_name("random", share)
        if init == "finetune" and other in correct:
            diff = correct[key] - correct[other]
            low, high = mean_interval(diff, seed)
            gains[str(share)] = {"difference": float(diff.mean()), "low": low, "high": high}
    record = {
        "classes": clips.classes, "test_from": clips.test_from, "test_videos": test_videos,
        "results": results, "finetune_minus_random": gains,
        "model_provenance": [model_provenance(Path(p)) for _, p in sorted(classifiers.items())]
        + [model_provenance(Path(discriminator))],
    }
    write_json(out_json, record)
    return record
