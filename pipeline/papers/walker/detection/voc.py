"""PASCAL VOC in its official layout -> image records (boxes, classes, difficult flags).

The same reader serves the real VOC 2012 (``source: url`` / ``path``) and the detection
stand-in (``pipeline.synthetic.detection``), which is written in the same layout. Boxes are
kept as the devkit means them: inclusive pixel coordinates, here 0-based (XML value - 1), so a
box's width is ``x2 - x1 + 1``. The classes are those with a ``ImageSets/Main/<class>_train.txt``
list (VOC 2012: the 20 classes, alphabetical, as the devkit orders them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

SPLITS = ("train", "val", "trainval", "test")


@dataclass
class VocImage:
    """One image of a split and its objects (boxes (n, 4) float32 x1, y1, x2, y2, 0-based inclusive)."""

    image_id: str
    path: Path
    width: int
    height: int
    boxes: np.ndarray  # (n, 4) float32
    labels: np.ndarray  # (n,) int64, index into the classes
    difficult: np.ndarray  # (n,) bool


def voc_folder(root: str | Path) -> Path:
    """The folder holding JPEGImages/, Annotations/ and ImageSets/ at or below ``root``."""
    root = Path(root)
    for candidate in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012", *sorted(root.glob("*/VOCdevkit/VOC2012"))):
        if (candidate / "ImageSets" / "Main").is_dir() and (candidate / "Annotations").is_dir():
            return candidate
    raise FileNotFoundError(
        f"{root}: no VOC folder (VOCdevkit/VOC2012 with JPEGImages/, Annotations/, ImageSets/Main/) at or below it")


def voc_classes(root: str | Path) -> tuple[str, ...]:
    """The dataset's classes, sorted: those VOC lists as ``ImageSets/Main/<class>_train.txt``."""
    main = voc_folder(root) / "ImageSets" / "Main"
    names = sorted(p.name.removesuffix("_train.txt") for p in main.glob("*_train.txt"))
    if not names:
        raise FileNotFoundError(f"{main}: no <class>_train.txt lists, so the classes are unknown")
    return tuple(names)


def _number(node: ET.Element, key: str, where: Path) -> float:
    text = node.findtext(key)
    if text is None:
        raise ValueError(f"{where}: <{key}> missing in an object or size")
    return float(text)


def read_annotation(path: Path, classes: tuple[str, ...]) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """(width, height, boxes, labels, difficult) of one annotation XML."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise ValueError(f"{path}: not a readable VOC annotation ({error})") from error
    size = root.find("size")
    if size is None:
        raise ValueError(f"{path}: no <size>")
    width, height = int(_number(size, "width", path)), int(_number(size, "height", path))
    boxes, labels, difficult = [], [], []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in classes:
            raise ValueError(f"{path}: object class {name!r} is not one of the dataset's classes {classes}")
        box = obj.find("bndbox")
        if box is None:
            raise ValueError(f"{path}: object {name!r} has no <bndbox>")
        boxes.append([_number(box, k, path) - 1 for k in ("xmin", "ymin", "xmax", "ymax")])
        labels.append(classes.index(name))
        difficult.append(obj.findtext("difficult", "0").strip() == "1")
    return (width, height, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64),
            np.asarray(difficult, bool))


def read_split(root: str | Path, split: str, classes: tuple[str, ...] | None = None) -> list[VocImage]:
    """Every image of ``split`` (ImageSets/Main/<split>.txt) with its objects, in list order."""
    if split not in SPLITS:
        raise ValueError(f"VOC split {split!r}: expected one of {SPLITS}")
    folder = voc_folder(root)
    classes = classes or voc_classes(folder)
    listing = folder / "ImageSets" / "Main" / f"{split}.txt"
    if not listing.is_file():
        raise FileNotFoundError(f"{listing} does not exist: the {split} split is not in this copy of VOC")
    images = []
    for image_id in listing.read_text().split():
        path = folder / "JPEGImages" / f"{image_id}.jpg"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed in {listing} but missing")
        width, height, boxes, labels, difficult = read_annotation(folder / "Annotations" / f"{image_id}.xml", classes)
        images.append(VocImage(image_id, path, width, height, boxes, labels, difficult))
    return images
