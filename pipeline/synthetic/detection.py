"""A detection stand-in for PASCAL VOC 2012: single frames of the synthetic scenes, boxed.

walker's Table 2 fine-tunes the motion network's image tower as a Fast R-CNN detector. Offline
there is no VOC, so this renders frames of the same synthetic world the walker CVAE trains on
(``pipeline.synthetic.scenes``, other seeds) and writes them *in the official VOC layout*: the
same reader, proposals, training and VOC evaluation then run on it as on the real VOC 2012.

Objects are the scene's actors; each box is the tight box of the actor's pixels in the object
mask of the frame (``Scene.masks``, the generator's ground truth), its class the actor's shape
(every action class has its own shape, so the class is visible in a frame). An actor whose
visible box is under ``min_side`` pixels on a side (mostly cut by the frame edge or hidden
behind another actor) is marked ``difficult``, as VOC marks objects too hard to recognise; one
touching the frame border is ``truncated``.

Layout (as VOCtrainval_11-May-2012.tar unpacks)::

    VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    VOCdevkit/VOC2012/Annotations/<id>.xml
    VOCdevkit/VOC2012/ImageSets/Main/{train,val,trainval}.txt, <class>_{train,val,trainval}.txt
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from xml.etree import ElementTree as ET

import cv2
import numpy as np

from pipeline.atomic import publishing_dir
from pipeline.synthetic.scenes import ACTION_CLASSES, SceneConfig, render_scene

STANDIN_VERSION = 1
VOC_FOLDER = ("VOCdevkit", "VOC2012")


@dataclass(frozen=True)
class DetectionStandinConfig:
    """Sizes of the stand-in (``presets`` ``standin.voc2012``)."""

    width: int = 160
    height: int = 120
    train_images: int = 40
    val_images: int = 20
    max_objects: int = 3  # actors per image, 1..max_objects, all of the image's class
    min_side: int = 8  # visible boxes smaller than this (pixels) are "difficult"
    classes: tuple[str, ...] = ("updown", "leftright", "diagonal", "stand", "wave")  # scene classes drawn
    seed: int = 0

    def __post_init__(self) -> None:
        if self.train_images < 1 or self.val_images < 1 or self.max_objects < 1:
            raise ValueError("DetectionStandinConfig: train_images, val_images and max_objects must be >= 1")


def object_class(scene_class: str) -> str:
    """The detection class of a scene class's actors: its shape (ellipse, square, ...)."""
    return ACTION_CLASSES[scene_class].shape


def boxes_from_mask(mask: np.ndarray, n_objects: int) -> list[tuple[int, tuple[int, int, int, int]]]:
    """(actor id, (x1, y1, x2, y2)) of every actor visible in ``mask`` (0-based, inclusive pixels)."""
    found = []
    for k in range(1, n_objects + 1):
        ys, xs = np.nonzero(mask == k)
        if len(xs):
            found.append((k, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))))
    return found


def _annotation(image_id: str, width: int, height: int, objects: list[dict]) -> bytes:
    """A VOC annotation XML (1-based inclusive pixel boxes, as the devkit writes them)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "VOC2012"
    ET.SubElement(root, "filename").text = f"{image_id}.jpg"
    size = ET.SubElement(root, "size")
    for key, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, key).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for obj in objects:
        node = ET.SubElement(root, "object")
        ET.SubElement(node, "name").text = obj["name"]
        ET.SubElement(node, "pose").text = "Unspecified"
        ET.SubElement(node, "truncated").text = str(int(obj["truncated"]))
        ET.SubElement(node, "difficult").text = str(int(obj["difficult"]))
        box = ET.SubElement(node, "bndbox")
        for key, value in zip(("xmin", "ymin", "xmax", "ymax"), obj["box"], strict=True):
            ET.SubElement(box, key).text = str(value + 1)
    return ET.tostring(root)


def render_image(cfg: DetectionStandinConfig, scene_class: str, rng: np.random.Generator
                 ) -> tuple[np.ndarray, list[dict]]:
    """One frame (H, W, 3) uint8 RGB of a scene of ``scene_class`` and its VOC objects."""
    n = int(rng.integers(1, cfg.max_objects + 1))
    scene_cfg = SceneConfig(width=cfg.width, height=cfg.height, frames=2, classes=cfg.classes, n_actors=n)
    scene = render_scene(scene_cfg, scene_class, rng)
    objects = []
    for _, (x1, y1, x2, y2) in boxes_from_mask(scene.masks[0], n):
        objects.append({
            "name": object_class(scene_class), "box": (x1, y1, x2, y2),
            "difficult": min(x2 - x1 + 1, y2 - y1 + 1) < cfg.min_side,
            "truncated": x1 == 0 or y1 == 0 or x2 == cfg.width - 1 or y2 == cfg.height - 1,
        })
    return scene.frames[0], objects


def write_detection_standin(out_dir: str | Path, cfg: DetectionStandinConfig) -> Path:
    """Render the stand-in into ``out_dir`` (published atomically) and return ``out_dir``."""
    out_dir = Path(out_dir)
    names = sorted({object_class(c) for c in cfg.classes})
    with publishing_dir(out_dir) as tmp:
        voc = tmp.joinpath(*VOC_FOLDER)
        for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
            (voc / sub).mkdir(parents=True)
        seeds = np.random.SeedSequence([cfg.seed, STANDIN_VERSION]).spawn(cfg.train_images + cfg.val_images)
        ids: dict[str, list[str]] = {"train": [], "val": []}
        present: dict[str, set[str]] = {name: set() for name in names}
        index = 0
        for split, count in (("train", cfg.train_images), ("val", cfg.val_images)):
            for i in range(count):
                scene_class = cfg.classes[i % len(cfg.classes)]  # balanced classes per split
                frame, objects = render_image(cfg, scene_class, np.random.default_rng(seeds[index]))
                image_id = f"{2012 if split == 'train' else 2013}_{index:06d}"
                index += 1
                cv2.imwrite(str(voc / "JPEGImages" / f"{image_id}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
                (voc / "Annotations" / f"{image_id}.xml").write_bytes(
                    _annotation(image_id, cfg.width, cfg.height, objects))
                ids[split].append(image_id)
                for obj in objects:
                    present[obj["name"]].add(image_id)
        ids["trainval"] = ids["train"] + ids["val"]
        main = voc / "ImageSets" / "Main"
        for split, items in ids.items():
            (main / f"{split}.txt").write_text("".join(f"{i}\n" for i in items))
            for name in names:  # the per-class lists VOC ships (1: present, -1: absent)
                (main / f"{name}_{split}.txt").write_text(
                    "".join(f"{i} {1 if i in present[name] else -1:2d}\n" for i in items))
        record = {"source": "synthetic", "generator": "pipeline.synthetic.detection", "version": STANDIN_VERSION,
                  "seed": cfg.seed, "config": json.loads(json.dumps(asdict(cfg))), "classes": names,
                  "images": {split: len(items) for split, items in ids.items()}}
        (tmp / "source.json").write_text(json.dumps(record, indent=2, sort_keys=True))
    return out_dir


def standin_config(sizes: dict, seed: int) -> DetectionStandinConfig:
    """The stand-in of a preset's ``standin.voc2012`` sizes."""
    return replace(DetectionStandinConfig(), **{k: int(v) for k, v in sizes.items()}, seed=int(seed))
