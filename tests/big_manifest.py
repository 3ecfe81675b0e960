"""A full-size UCF101 registered as if its 13,320 videos were present: the list step's outputs
(source record and manifest) written directly, so a dry run of the paper-scale graph sees the
real job counts without a video being decoded or even existing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.manifest import MANIFEST_COLUMNS, UCF101_CLASSES

UCF101_VIDEOS = 13_320
UCF101_SPLIT1_TEST_GROUPS = range(1, 8)  # testlist01.txt: groups g01-g07


def ucf101_manifest(folder: Path, videos: int = UCF101_VIDEOS) -> pd.DataFrame:
    """UCF101-shaped rows (v_<Class>_gGG_cCC, 320x240 at 25 fps, split 1 by group), all ``ok``."""
    rows = []
    for i in range(videos):
        label = UCF101_CLASSES[i % len(UCF101_CLASSES)]
        group, clip = 1 + (i // len(UCF101_CLASSES)) % 25, 1 + i // (25 * len(UCF101_CLASSES))
        video_id = f"v_{label}_g{group:02d}_c{clip:02d}"
        relpath = f"UCF-101/{label}/{video_id}.avi"
        rows.append({
            "video_id": video_id, "path": str(folder / relpath), "label": label,
            "split": "test" if group in UCF101_SPLIT1_TEST_GROUPS else "train",
            "frames": 180, "fps": 25.0, "width": 320, "height": 240, "duration": 7.2, "status": "ok",
            "reason": "", "note": "", "codec": "xvid", "variable_frame_rate": False, "relpath": relpath,
            "rotation": 0, "stream_index": 0, "empty_slots": 0,
            "class_index": 1 + i % len(UCF101_CLASSES), "group": group, "clip": clip,
            "data_source": "path",
        })
    frame = pd.DataFrame(rows)
    return frame[[*MANIFEST_COLUMNS, "class_index", "group", "clip", "data_source"]]


def register_ucf101(data_root: Path, folder: Path, videos: int = UCF101_VIDEOS) -> int:
    """Write ``data_root``'s UCF101 source record and manifest (in the order the graph makes them,
    manifest newer than record); returns the number of rows. ``folder`` is the configured path."""
    record = {"dataset": "ucf101", "source": "path", "layout": "ucf101", "path": str(folder),
              "root": str(folder), "parts": {}, "files": []}
    source = data_root / "sources" / "ucf101.json"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(json.dumps(record, indent=2))
    manifest = ucf101_manifest(folder, videos)
    (data_root / "manifests").mkdir(parents=True, exist_ok=True)
    manifest.to_csv(data_root / "manifests" / "ucf101.csv", index=False)
    return len(manifest)
