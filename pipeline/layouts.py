"""How each dataset's copy is laid out: finding its videos, labels and splits (the manifest's readers).

One reader per layout (``LAYOUT_READERS``) walks a copy as its authors ship it (UCF101's split
lists, HMDB-51's split files and name tags, KTH's persons and ``00sequences.txt``, THUMOS's
validation/test folders, a stand-in's ``videos/<label>/``, or any folder of videos) and returns
one entry per file: its path, the layout's fields and, for a file a split list names but the copy
lacks, why it is missing. ``pipeline.manifest`` probes the entries and writes the table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

VIDEO_EXTENSIONS = frozenset(
    {".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".flv", ".wmv",
     ".3gp", ".ogv", ".ts", ".mts", ".vob"}
)

KTH_TRAIN_PERSONS = range(1, 21)  # svg: persons 1-20 train, 21-25 test

# The 101 action classes of UCF101 (classInd.txt order); THUMOS 2015 uses the same classes.
UCF101_CLASSES: tuple[str, ...] = (
    "ApplyEyeMakeup", "ApplyLipstick", "Archery", "BabyCrawling", "BalanceBeam", "BandMarching",
    "BaseballPitch", "Basketball", "BasketballDunk", "BenchPress", "Biking", "Billiards",
    "BlowDryHair", "BlowingCandles", "BodyWeightSquats", "Bowling", "BoxingPunchingBag",
    "BoxingSpeedBag", "BreastStroke", "BrushingTeeth", "CleanAndJerk", "CliffDiving",
    "CricketBowling", "CricketShot", "CuttingInKitchen", "Diving", "Drumming", "Fencing",
    "FieldHockeyPenalty", "FloorGymnastics", "FrisbeeCatch", "FrontCrawl", "GolfSwing", "Haircut",
    "Hammering", "HammerThrow", "HandstandPushups", "HandstandWalking", "HeadMassage", "HighJump",
    "HorseRace", "HorseRiding", "HulaHoop", "IceDancing", "JavelinThrow", "JugglingBalls",
    "JumpingJack", "JumpRope", "Kayaking", "Knitting", "LongJump", "Lunges", "MilitaryParade",
    "Mixing", "MoppingFloor", "Nunchucks", "ParallelBars", "PizzaTossing", "PlayingCello",
    "PlayingDaf", "PlayingDhol", "PlayingFlute", "PlayingGuitar", "PlayingPiano", "PlayingSitar",
    "PlayingTabla", "PlayingViolin", "PoleVault", "PommelHorse", "PullUps", "Punch", "PushUps",
    "Rafting", "RockClimbingIndoor", "RopeClimbing", "Rowing", "SalsaSpin", "ShavingBeard",
    "Shotput", "SkateBoarding", "Skiing", "Skijet", "SkyDiving", "SoccerJuggling", "SoccerPenalty",
    "StillRings", "SumoWrestling", "Surfing", "Swing", "TableTennisShot", "TaiChi", "TennisSwing",
    "ThrowDiscus", "TrampolineJumping", "Typing", "UnevenBars", "VolleyballSpiking",
    "WalkingWithDog", "WallPushups", "WritingOnBoard", "YoYo",
)

_HMDB_SPLIT_CODES = {"1": "train", "2": "test", "0": "unused"}
_THUMOS_SPLIT_DIRS = {"validation": "val", "val": "val", "test": "test"}
_FIND_DEPTH = 4  # how far below raw_dir a dataset's own folders may sit

_HMDB_TAGS = re.compile(
    r"^(?P<prefix>.+)_(?P<body_part>[a-z])_(?P<camera_motion>cm|nm)_np(?P<people>\d+)"
    r"_(?P<viewpoint>fr|ba|le|ri)_(?P<quality>bad|med|goo)_(?P<clip>\d+)$",
    re.IGNORECASE,
)
_UCF_NAME = re.compile(r"^v_(?P<cls>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$", re.IGNORECASE)
_KTH_NAME = re.compile(
    r"^person(?P<person>\d+)_(?P<action>[a-z]+)_(?P<scenario>d\d+)(?:_uncomp)?$", re.IGNORECASE
)
KTH_SEQUENCES_FILE = "00sequences.txt"
_KTH_SEQUENCE_LINE = re.compile(r"^\s*(?P<video>person\d+_[a-z]+_d\d+)\b(?P<rest>.*)$", re.IGNORECASE)
_FRAME_RANGE = re.compile(r"(\d+)\s*-\s*(\d+)")

# One entry per file: the layout's fields; "file" is the absolute path, "missing" a reason
# when the file is named by a split list but absent.
Entry = dict[str, object]


# ----------------------------------------------------------------------------- helpers


def parse_hmdb_tags(stem: str, label: str = "") -> dict[str, object] | None:
    """The HMDB-51 meta tags of a clip name, or None if the name does not carry them.

    ``label`` (the class, e.g. ``brush_hair``) is cut off the end of the prefix to leave the
    source name; class names contain underscores, so the tags are parsed from the right.
    """
    match = _HMDB_TAGS.match(stem)
    if match is None:
        return None
    prefix = match["prefix"]
    suffix = "_" + label.lower()
    source = prefix[: -len(suffix)] if label and prefix.lower().endswith(suffix) else prefix
    return {
        "source": source,
        "body_part": match["body_part"].lower(),
        "camera_motion": match["camera_motion"].lower(),
        "people": int(match["people"]),
        "viewpoint": match["viewpoint"].lower(),
        "quality": match["quality"].lower(),
        "clip": int(match["clip"]),
    }


def walk_files(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """(folder, sorted file names) for every folder below ``root``, in a fixed order; follows
    symlinked folders (datasets are often assembled from links), each real folder once."""
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        yield Path(folder), sorted(files)


def _walk_videos(root: Path) -> list[Path]:
    """Every file with a video extension below ``root``, sorted."""
    return sorted(
        folder / f for folder, files in walk_files(root) for f in files if Path(f).suffix.lower() in VIDEO_EXTENSIONS
    )


def _find_dir(root: Path, name: str) -> Path | None:
    """The shallowest folder called ``name`` (any case) at most ``_FIND_DEPTH`` below root."""
    level = [root]
    for _ in range(_FIND_DEPTH + 1):
        for folder in level:
            if folder.name.lower() == name.lower():
                return folder
        level = sorted(child for folder in level for child in _subdirs(folder))
        if not level:
            return None
    return None


def _subdirs(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return []


def _find_files(root: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Files whose name matches ``pattern``, at most ``_FIND_DEPTH`` folders below root."""
    found = []
    base_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        if len(Path(folder).parts) - base_depth >= _FIND_DEPTH:
            dirs[:] = []
        dirs.sort()
        found.extend(Path(folder) / f for f in sorted(files) if pattern.match(f))
    return found


def _read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines; split lists come with CRLF endings and trailing spaces."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _entry(raw_dir: Path, file: Path, **fields: object) -> Entry:
    return {"file": file, "relpath": file.relative_to(raw_dir).as_posix(), **fields}


# ----------------------------------------------------------------------------- layouts


def _layout_synthetic(raw_dir: Path, split_index: int) -> list[Entry]:
    videos_root = raw_dir / "videos"
    if not videos_root.is_dir():
        raise FileNotFoundError(
            f"synthetic layout: no videos/ folder in {raw_dir} (expected videos/<label>/<id>.mp4)"
        )
    membership: dict[str, str] = {}
    splits_dir = raw_dir / "splits"
    for split_file in sorted(splits_dir.glob("*.txt")) if splits_dir.is_dir() else []:
        for line in _read_lines(split_file):
            membership.setdefault(Path(line.split()[0]).as_posix(), split_file.stem)
    entries = []
    for file in _walk_videos(videos_root):
        rel_to_videos = file.relative_to(videos_root)
        label = rel_to_videos.parts[0] if len(rel_to_videos.parts) > 1 else ""
        truth = raw_dir / "groundtruth" / rel_to_videos.with_suffix(".npz")
        entry = _entry(
            raw_dir, file, label=label, split=membership.get(rel_to_videos.as_posix(), ""),
            groundtruth=truth.relative_to(raw_dir).as_posix() if truth.is_file() else "",
        )
        tags = parse_hmdb_tags(file.stem, label)
        if tags is not None:
            entry.update(tags)
        entries.append(entry)
    return entries


def _layout_ucf101(raw_dir: Path, split_index: int) -> list[Entry]:
    lists_dir = _find_dir(raw_dir, "ucfTrainTestlist")
    if lists_dir is None:
        raise FileNotFoundError(
            f"ucf101 layout: no ucfTrainTestlist/ folder (classInd.txt, trainlist0N.txt) found "
            f"within {_FIND_DEPTH} levels of {raw_dir}"
        )
    class_file = lists_dir / "classInd.txt"
    if not class_file.is_file():
        raise FileNotFoundError(f"ucf101 layout: {class_file} is missing")
    classes: dict[str, tuple[int, str]] = {}
    for line in _read_lines(class_file):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"{class_file}: line {line!r} is not '<index> <ClassName>'")
        classes[parts[1].lower()] = (int(parts[0]), parts[1])

    membership: dict[str, tuple[str, str, str]] = {}  # basename -> (split, list file, entry)
    for split, stem in (("train", "trainlist"), ("test", "testlist")):
        list_file = lists_dir / f"{stem}{split_index:02d}.txt"
        if not list_file.is_file():
            present = sorted(p.name for p in lists_dir.glob("*list*.txt"))
            raise FileNotFoundError(
                f"ucf101 layout: official split {split_index} needs {list_file}; found {present}"
            )
        for line in _read_lines(list_file):
            item = line.split()[0].replace("\\", "/")
            membership.setdefault(Path(item).name.lower(), (split, list_file.name, item))

    videos_root = _find_dir(raw_dir, "UCF-101") or raw_dir

    def fields(file_name: str, folder: str) -> dict[str, object]:
        stem = Path(file_name).stem
        match = _UCF_NAME.match(stem)
        # file names spell one class differently from its folder (v_HandStandPushups in
        # HandstandPushups/): match case-insensitively, name first, folder second
        key = match["cls"].lower() if match and match["cls"].lower() in classes else folder.lower()
        index, label = classes.get(key, (None, folder))
        split = membership.get(file_name.lower(), ("", "", ""))[0]
        return {
            "label": label, "split": split, "class_index": index,
            "group": int(match["group"]) if match else None,
            "clip": int(match["clip"]) if match else None,
        }

    entries = []
    found = set()
    for file in _walk_videos(videos_root):
        found.add(file.name.lower())
        entries.append(_entry(raw_dir, file, **fields(file.name, file.parent.name)))
    for name, (split, list_name, item) in sorted(membership.items()):
        if name not in found:
            file = videos_root / item
            entry = _entry(raw_dir, file, **fields(file.name, file.parent.name))
            entry["missing"] = f"missing: listed in {list_name} but not found"
            entries.append(entry)
    return entries


def _layout_hmdb51(raw_dir: Path, split_index: int) -> list[Entry]:
    pattern = re.compile(rf"^(?P<cls>.+)_test_split{split_index}\.txt$", re.IGNORECASE)
    split_files = _find_files(raw_dir, pattern)
    if not split_files:
        raise FileNotFoundError(
            f"hmdb51 layout: no <class>_test_split{split_index}.txt files (testTrainMulti_7030_splits/) "
            f"found within {_FIND_DEPTH} levels of {raw_dir}"
        )
    membership: dict[str, tuple[str, str, str]] = {}  # file name -> (split, class, list file)
    for split_file in split_files:
        cls = pattern.match(split_file.name)["cls"]
        for line in _read_lines(split_file):
            parts = line.split()
            if len(parts) < 2:
                continue
            split = _HMDB_SPLIT_CODES.get(parts[1], "")
            membership.setdefault(parts[0].lower(), (split, cls, split_file.name))

    def fields(file: Path) -> dict[str, object]:
        split, cls, _ = membership.get(file.name.lower(), ("", file.parent.name, ""))
        row: dict[str, object] = {"label": cls, "split": split}
        row.update(parse_hmdb_tags(file.stem, cls) or {})
        return row

    entries = []
    found = set()
    for file in _walk_videos(raw_dir):
        found.add(file.name.lower())
        entries.append(_entry(raw_dir, file, **fields(file)))
    # a video named by a split list but absent: the class folder is where it should be
    class_dirs = {d.name.lower(): d for d in _subdirs(raw_dir)}
    for name, (split, cls, list_name) in sorted(membership.items()):
        if name not in found:
            folder = class_dirs.get(cls.lower(), raw_dir / cls)
            file = folder / name
            entry = _entry(raw_dir, file, **fields(file))
            entry["missing"] = f"missing: listed in {list_name} but not found"
            entries.append(entry)
    return entries


def parse_kth_sequences(path: Path) -> dict[str, list[tuple[int, int]]]:
    """``00sequences.txt`` as video name (``person01_boxing_d1``, lower case) -> its subsequences
    as 0-based half-open frame ranges.

    The file lists, per clip, the 1-based inclusive frame ranges in which the person performs the
    action (``person01_boxing_d1  frames  1-95, 96-185, ...``); between them the person is often
    out of the frame. The authors of svg sample their KTH windows inside these subsequences.
    Header lines and lines without a range are ignored; a range that ends before it starts is an
    error naming the file and line.
    """
    sequences: dict[str, list[tuple[int, int]]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        match = _KTH_SEQUENCE_LINE.match(line)
        if match is None:
            continue
        ranges = []
        for first, last in _FRAME_RANGE.findall(match["rest"]):
            if int(last) < int(first) or int(first) < 1:
                raise ValueError(f"{path}:{number}: frame range {first}-{last} is not a 1-based range")
            ranges.append((int(first) - 1, int(last)))
        if ranges:
            sequences[match["video"].lower()] = sorted(ranges)
    return sequences


def format_segments(segments: Sequence[tuple[int, int]]) -> str:
    """Frame ranges as the manifest stores them: ``0:95 95:185`` (0-based, half-open)."""
    return " ".join(f"{start}:{stop}" for start, stop in segments)


def parse_segments(text: str) -> list[tuple[int, int]]:
    """The manifest's ``segments`` column back as ranges; "" (not listed) gives []."""
    ranges = []
    for part in str(text).split():
        start, sep, stop = part.partition(":")
        if not sep or not start.isdigit() or not stop.isdigit() or int(stop) <= int(start):
            raise ValueError(f"segments: {part!r} is not a 0-based half-open range 'start:stop'")
        ranges.append((int(start), int(stop)))
    return ranges


def _layout_kth(raw_dir: Path, split_index: int) -> list[Entry]:
    listed = sorted(p for p in _find_files(raw_dir, re.compile(re.escape(KTH_SEQUENCES_FILE) + "$", re.IGNORECASE)))
    sequences = parse_kth_sequences(listed[0]) if listed else {}
    entries = []
    for file in _walk_videos(raw_dir):
        match = _KTH_NAME.match(file.stem)
        if match is None:
            entries.append(_entry(raw_dir, file, label=file.parent.name, split="",
                                  person=None, scenario="", segments=""))
            continue
        person = int(match["person"])
        name = f"person{match['person']}_{match['action']}_{match['scenario']}".lower()
        entries.append(_entry(
            raw_dir, file, label=match["action"].lower(),
            split="train" if person in KTH_TRAIN_PERSONS else "test",
            person=person, scenario=match["scenario"].lower(),
            segments=format_segments(sequences.get(name, [])),
        ))
    return entries


def _thumos_label(stem: str) -> str:
    """The longest UCF101 class name inside the file name (BasketballDunk over Basketball)."""
    lowered = stem.lower()
    hits = [name for name in UCF101_CLASSES if name.lower() in lowered]
    return max(hits, key=len) if hits else ""


def _layout_thumos(raw_dir: Path, split_index: int) -> list[Entry]:
    entries = []
    for file in _walk_videos(raw_dir):
        folders = [part.lower() for part in file.relative_to(raw_dir).parts[:-1]]
        split = next((_THUMOS_SPLIT_DIRS[f] for f in reversed(folders) if f in _THUMOS_SPLIT_DIRS), "")
        if not split:  # thumos15_video_validation_0000006.mp4 outside a named folder
            name = file.stem.lower()
            split = "val" if "_validation_" in name else "test" if "_test_" in name else ""
        entries.append(_entry(raw_dir, file, label=_thumos_label(file.stem), split=split))
    return entries


def _layout_folder(raw_dir: Path, split_index: int) -> list[Entry]:
    return [
        _entry(raw_dir, file, label=file.parent.name if file.parent != raw_dir else "", split="")
        for file in _walk_videos(raw_dir)
    ]


LAYOUT_READERS: dict[str, Callable[[Path, int], list[Entry]]] = {
    "synthetic": _layout_synthetic,
    "ucf101": _layout_ucf101,
    "hmdb51": _layout_hmdb51,
    "kth": _layout_kth,
    "thumos": _layout_thumos,
    "folder": _layout_folder,
}
