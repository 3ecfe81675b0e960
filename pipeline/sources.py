"""Registry of the datasets the five papers use: where the official copy lives, and what a
local copy must look like.

One frozen `SourceEntry` per config key `datasets.<name>`. The fetch stage (`pipeline.fetch`)
downloads `files` for `source: url`, or checks a user's folder against `requires` for
`source: path`; the listing stage reads the layout named by `layout`. Checksums are the
published ones or those recorded by TensorFlow Datasets for the same file; where nobody
publishes one, `sha256` is None and the download is recorded with the digest we computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.manifest import VIDEO_EXTENSIONS

SOURCE_KINDS = ("url", "path", "synthetic", "embedded")
RESOURCES = Path(__file__).resolve().parents[1] / "resources"
"""Real data the project ships (``embedded`` sources), each in its dataset's own layout under its name."""
ARCHIVE_KINDS = ("zip", "tar", "rar", "file")  # "file": used as downloaded, not unpacked


@dataclass(frozen=True)
class DownloadFile:
    """One official file of a dataset."""

    name: str  # file name under <raw_dir>/downloads/
    url: str
    sha256: str | None  # None where no digest is published
    kind: str  # one of ARCHIVE_KINDS
    into: str | None = None  # folder under the data root to unpack into; None: the archive's stem
    mirrors: tuple[str, ...] = ()  # same bytes elsewhere, tried in order when `url` fails
    nested: bool = False  # the archive holds further archives to unpack in place (HMDB-51)


@dataclass(frozen=True)
class Requirement:
    """Something a copy of the dataset must contain, found at any depth below its root.

    A folder satisfies it when its name is `dirname` (any name if None) and at least one of
    `patterns` (globs relative to that folder) matches. The listing gets the folder back under
    `key` (see `pipeline.fetch.locate`).
    """

    key: str
    what: str  # shown to the user when it is missing
    patterns: tuple[str, ...]
    dirname: str | None = None


@dataclass(frozen=True)
class SourceEntry:
    name: str
    title: str
    used_by: tuple[str, ...]  # paper keys
    kinds: tuple[str, ...]  # subset of SOURCE_KINDS
    layout: str  # listing layout read by the list stage
    layout_doc: str  # what a user must point `datasets.<name>.path` at
    files: tuple[DownloadFile, ...] = ()
    requires: tuple[Requirement, ...] = ()
    homepage: str = ""
    note: str = ""  # access conditions, partial coverage of `source: url`

    def supports(self, kind: str) -> bool:
        return kind in self.kinds

    @property
    def embedded(self) -> Path:
        """The shipped subset a ``source: embedded`` reads (resources/<name>, in the dataset's own layout)."""
        return RESOURCES / self.name


def _any_case(text: str) -> str:
    """A glob matching ``text`` in any letter case (``.avi`` -> ``.[aA][vV][iI]``)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in text)


def _video_globs(stem: str) -> tuple[str, ...]:
    """``stem`` followed by every extension the listing reads (``pipeline.manifest.VIDEO_EXTENSIONS``),
    in any case: a copy the fetch check accepts is one the list stage lists, and vice versa."""
    return tuple(f"{stem}{_any_case(ext)}" for ext in sorted(VIDEO_EXTENSIONS))


_VIDEO_GLOBS = _video_globs("**/*")
_VIDEO_NAMES = ", ".join(sorted(VIDEO_EXTENSIONS))

_UCF = "https://www.crcv.ucf.edu"
_HMDB = "serre-lab.clps.brown.edu/wp-content/uploads/2013/10"
_KTH_ACTIONS = ("walking", "jogging", "running", "boxing", "handwaving", "handclapping")
_MNIST = {  # sha256 as recorded by TensorFlow Datasets (url_checksums/mnist.txt)
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

_ENTRIES: tuple[SourceEntry, ...] = (
    SourceEntry(
        name="ucf101",
        title="UCF101 (Soomro, Zamir, Shah 2012)",
        used_by=("walker", "vgan"),
        kinds=("url", "path", "synthetic"),
        layout="ucf101",
        layout_doc=(
            "A folder holding `UCF-101/` and `ucfTrainTestlist/`, as unpacked from UCF101.rar and "
            "UCF101TrainTestSplits-RecognitionTask.zip (either may sit a few folders down). "
            "`UCF-101/` has the 101 class folders `ApplyEyeMakeup/` ... `YoYo/`, each with clips "
            "`v_<Class>_g<GG>_c<CC>.avi` (320x240, 25 fps, 13,320 in all; `gGG` is the group, 25 per "
            "class). `ucfTrainTestlist/` has `classInd.txt` (1-based index and class name) and the "
            "three official splits `trainlist0{1,2,3}.txt` / `testlist0{1,2,3}.txt` "
            "(lines `<Class>/v_<Class>_gGG_cCC.avi [label]`)."
        ),
        files=(
            DownloadFile(
                "UCF101.rar", f"{_UCF}/data/UCF101/UCF101.rar", None, "rar",
                mirrors=(f"{_UCF}/datasets/human-actions/ucf101/UCF101.rar",),
            ),
            DownloadFile(
                "UCF101TrainTestSplits-RecognitionTask.zip",
                f"{_UCF}/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip",
                # TensorFlow Datasets url_checksums/ucf101.txt (113,943 bytes)
                "5c0d1a53b8ed364a2ac830a73f405e51bece7d98ce1254fd19ed4a36b224bd27",
                "zip",
                mirrors=(f"{_UCF}/wp-content/uploads/2019/03/UCF101TrainTestSplits-RecognitionTask.zip",),
            ),
        ),
        requires=(
            Requirement("videos", "the class folders of .avi clips (UCF-101/<Class>/v_*.avi)",
                        _video_globs("*/v_*"), dirname="UCF-101"),
            Requirement("splits", "the official split lists (ucfTrainTestlist/classInd.txt, trainlist01.txt ...)",
                        ("classInd.txt",), dirname="ucfTrainTestlist"),
        ),
        homepage=f"{_UCF}/data/UCF101.php",
        note="The crcv.ucf.edu server's TLS certificate chain has been incomplete at times; "
        "if the download fails on certificate verification, download by hand and use `source: path`.",
    ),
    SourceEntry(
        name="thumos",
        title="THUMOS 2015 challenge (untrimmed videos)",
        used_by=("walker",),
        kinds=("url", "path", "synthetic"),
        layout="thumos",
        layout_doc=(
            "A folder (at any depth) of THUMOS 2015 untrimmed videos: "
            "`thumos15_video_validation_<NNNNNNN>.mp4` from thumos15_validation_complete.zip "
            "and/or `thumos15_video_test_<NNNNNNN>.mp4` from the test set (re-encoded copies in any "
            f"extension the listing reads are accepted too: {_VIDEO_NAMES}). walker tests on the test "
            "portion; thumos.info hands out the test archive after registration, so it is only "
            "reachable through `source: path`."
        ),
        files=(
            DownloadFile(
                "thumos15_validation_complete.zip",
                "http://storage.googleapis.com/www.thumos.info/thumos15_zips/thumos15_validation_complete.zip",
                None, "zip",
            ),
        ),
        requires=(
            Requirement("videos", f"THUMOS 2015 videos (thumos15_video_*.mp4, or any of {_VIDEO_NAMES})",
                        _video_globs("*")),
        ),
        homepage="http://www.thumos.info/download.html",
        note="`source: url` fetches the public validation videos only; the test videos walker "
        "evaluates on need registration at thumos.info and `source: path`.",
    ),
    SourceEntry(
        name="hmdb51",
        title="HMDB-51 (Kuehne et al. 2011)",
        used_by=("staticflow",),
        kinds=("url", "path", "synthetic"),
        layout="hmdb51",
        layout_doc=(
            "A folder holding the 51 class folders `brush_hair/` ... `wave/` of `.avi` clips and, "
            "anywhere below it, the split lists `<class>_test_split{1,2,3}.txt` (folder "
            "`testTrainMulti_7030_splits/` of test_train_splits.rar; each line `<clip>.avi <0|1|2>`, "
            "1 = train, 2 = test, 0 = unused). hmdb51_org.rar holds one .rar per class: unpack those "
            "too. Clip names end in meta tags `_<body>_<cm|nm>_<np1..>_<fr|ba|le|ri>_<bad|med|goo>_<n>`; "
            "staticflow keeps `med`/`goo` quality with `nm` (no camera motion)."
        ),
        files=(
            DownloadFile(
                "hmdb51_org.rar", f"https://{_HMDB}/hmdb51_org.rar", None, "rar",
                nested=True, mirrors=(f"http://{_HMDB}/hmdb51_org.rar",),
            ),
            DownloadFile(
                "test_train_splits.rar", f"https://{_HMDB}/test_train_splits.rar", None, "rar",
                mirrors=(f"http://{_HMDB}/test_train_splits.rar",),
            ),
        ),
        requires=(
            Requirement("videos", "the class folders of .avi clips (brush_hair/*.avi ... wave/*.avi)",
                        _video_globs("brush_hair/*")),
            Requirement("splits", "the split lists (<class>_test_split1.txt, from test_train_splits.rar)",
                        ("brush_hair_test_split1.txt",)),
        ),
        homepage="https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/",
    ),
    SourceEntry(
        name="flickr",
        title="Flickr videos (YFCC100M subset of Vondrick et al. 2016)",
        used_by=("vgan",),
        kinds=("path", "synthetic"),
        layout="folder",
        layout_doc=(
            "There is no public bundle of the vgan training videos. Point `path` at a folder of "
            f"videos ({_VIDEO_NAMES}, at any depth); the listing walks it and "
            "the scene-class filter (golf, beach, train station, hospital babies) runs after listing."
        ),
        requires=(Requirement("videos", f"video files ({_VIDEO_NAMES})", _VIDEO_GLOBS),),
        homepage="http://www.cs.columbia.edu/~vondrick/tinyvideo/",
        note="Only `source: path` or `source: synthetic`: the videos are not redistributed.",
    ),
    SourceEntry(
        name="sprites",
        title="LPC Sprites of Reed et al. 2015 (Deep Visual Analogy-Making)",
        used_by=("crossconv",),
        kinds=("url", "path", "embedded"),
        layout="sprites_mat",
        layout_doc=(
            "The unpacked nips2015-analogy-data.tar.gz, or just its `sprites/` folder (in the "
            "archive `data/sprites/`): one MATLAB file per character `sprites_<i>.mat` (frames of "
            "the 5 animations x 4 viewpoints; MATLAB v7.3, i.e. HDF5, read with h5py) and "
            "`sprites_splits.mat` with `trainidx`, `validx`, `testidx` (1-based character indices; "
            "no character in two splits). The archive also holds `cars/` and `shapes48.mat`, unused."
        ),
        files=(
            DownloadFile(
                "nips2015-analogy-data.tar.gz",
                "http://www-personal.umich.edu/~reedscot/files/nips2015-analogy-data.tar.gz",
                None, "tar",
                mirrors=("http://www.scottreed.info/files/nips2015-analogy-data.tar.gz",),
            ),
        ),
        requires=(
            Requirement("sprites", "the sprites folder with sprites_splits.mat and sprites_<i>.mat",
                        ("sprites_splits.mat",), dirname="sprites"),
        ),
        homepage="https://github.com/reedscot/nips2015-analogy",
    ),
    SourceEntry(
        name="exercise",
        title="Exercise videos of Xue et al. (Visual Dynamics)",
        used_by=("crossconv",),
        kinds=("url", "path", "synthetic"),
        layout="folder",
        layout_doc=(
            "The unpacked exercise_dataset.zip from the Visual Dynamics project page (videos of "
            "people exercising, about 1.1 GB). The project does not document the archive's inner "
            "layout, so the listing walks `path` for frame images (.png/.jpg) and videos at any depth."
        ),
        files=(
            DownloadFile(
                "exercise_dataset.zip", "http://visualdynamics.csail.mit.edu/exercise_dataset.zip",
                None, "zip",
            ),
        ),
        requires=(
            Requirement("frames", "frame images (.png/.jpg) or videos",
                        ("**/*.png", "**/*.jpg", "**/*.jpeg", *_VIDEO_GLOBS)),
        ),
        homepage="http://visualdynamics.csail.mit.edu/",
    ),
    SourceEntry(
        name="pennaction",
        title="Penn Action (Zhang, Zhu, Derpanis 2013)",
        used_by=("crossconv",),
        kinds=("url", "path", "synthetic"),
        layout="pennaction",
        layout_doc=(
            "The unpacked Penn_Action.tar.gz, i.e. the folder `Penn_Action/` (or its parent) with "
            "`frames/<NNNN>/<NNNNNN>.jpg` (2,326 sequences of JPEG frames) and `labels/<NNNN>.mat` "
            "(per sequence: `action`, `pose`, 13 joints `x`/`y`/`visibility`, `bbox`, `dimensions`, "
            "`nframes`, and `train` = 1 for the official train split, -1 for test)."
        ),
        files=(
            DownloadFile(
                "Penn_Action.tar.gz", "https://www.cis.upenn.edu/~kostas/Penn_Action.tar.gz", None, "tar",
            ),
        ),
        requires=(
            Requirement("frames", "frames/<NNNN>/*.jpg", ("0001/*.jpg",), dirname="frames"),
            Requirement("labels", "labels/<NNNN>.mat", ("0001.mat",), dirname="labels"),
        ),
        homepage="https://dreamdragon.github.io/PennAction/",
    ),
    SourceEntry(
        name="kth",
        title="KTH human actions (Schuldt, Laptev, Caputo 2004)",
        used_by=("svg",),
        kinds=("url", "path", "synthetic"),
        layout="kth",
        layout_doc=(
            "The six action archives (walking, jogging, running, boxing, handwaving, handclapping) "
            "unpacked, all in one folder or one folder per action: clips "
            "`person<PP>_<action>_d<S>_uncomp.avi` (160x120, 25 fps; persons 01-25, scenarios d1-d4). "
            "`00sequences.txt` (frame ranges of the subsequences of each clip) may sit beside them. "
            "svg trains on persons 1-20 and tests on 21-25."
        ),
        files=(
            *(
                DownloadFile(
                    f"{action}.zip", f"https://www.csc.kth.se/cvap/actions/{action}.zip", None, "zip",
                    into=action, mirrors=(f"http://www.nada.kth.se/cvap/actions/{action}.zip",),
                )
                for action in _KTH_ACTIONS
            ),
            DownloadFile(
                "00sequences.txt", "https://www.csc.kth.se/cvap/actions/00sequences.txt", None, "file",
                into="", mirrors=("http://www.nada.kth.se/cvap/actions/00sequences.txt",),
            ),
        ),
        requires=tuple(
            Requirement(action, f"the {action} clips (person*_{action}_d*_uncomp.avi)",
                        _video_globs(f"person*_{action}_d*"))
            for action in _KTH_ACTIONS
        ),
        homepage="https://www.csc.kth.se/cvap/actions/",
    ),
    SourceEntry(
        name="bair",
        title="BAIR robot pushing (Ebert et al. 2017)",
        used_by=("svg",),
        kinds=("url", "path"),
        layout="bair_tfrecord",
        layout_doc=(
            "The unpacked bair_robot_pushing_dataset_v0.tar: `softmotion30_44k/train/` and "
            "`softmotion30_44k/test/` of `traj_<a>_to_<b>.tfrecords`. Each record is one sequence "
            "of 30 steps; feature `<t>/image_aux1/encoded` holds the raw 64x64x3 RGB bytes of "
            "step t (beside `<t>/action` and `<t>/endeffector_pos`)."
        ),
        files=(
            DownloadFile(
                "bair_robot_pushing_dataset_v0.tar",
                "http://rail.eecs.berkeley.edu/datasets/bair_robot_pushing_dataset_v0.tar",
                # TensorFlow Datasets url_checksums/bair_robot_pushing_small.txt (32,274,964,480 bytes)
                "c6f8d164ab2be07174ef597e3e070d7466f3142caddc467b6af119b9458cd9cd",
                "tar",
            ),
        ),
        requires=(
            Requirement("train", "softmotion30_44k/train/*.tfrecords", ("*.tfrecords",), dirname="train"),
            Requirement("test", "softmotion30_44k/test/*.tfrecords", ("*.tfrecords",), dirname="test"),
        ),
        homepage="https://sites.google.com/view/sna-visual-mpc/",
    ),
    SourceEntry(
        name="mnist",
        title="MNIST handwritten digits (LeCun et al.)",
        used_by=("svg",),
        kinds=("url", "path", "synthetic"),
        layout="mnist_idx",
        layout_doc=(
            "One folder with the four IDX files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, "
            "`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, gzipped (`.gz`, as downloaded) or "
            "not. `source: synthetic` uses scikit-learn's bundled 8x8 digits, upscaled, instead."
        ),
        files=tuple(
            DownloadFile(
                name, f"http://yann.lecun.com/exdb/mnist/{name}", digest, "file", into="",
                mirrors=(
                    f"https://storage.googleapis.com/cvdf-datasets/mnist/{name}",
                    f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}",
                ),
            )
            for name, digest in _MNIST.items()
        ),
        requires=tuple(
            Requirement(key, stem, (stem, f"{stem}.gz"))
            for key, stem in (
                ("train_images", "train-images-idx3-ubyte"),
                ("train_labels", "train-labels-idx1-ubyte"),
                ("test_images", "t10k-images-idx3-ubyte"),
                ("test_labels", "t10k-labels-idx1-ubyte"),
            )
        ),
        homepage="http://yann.lecun.com/exdb/mnist/",
    ),
    SourceEntry(
        name="voc2012",
        title="PASCAL VOC 2012",
        used_by=("walker",),
        kinds=("url", "path", "synthetic"),
        layout="voc",
        layout_doc=(
            "The unpacked VOCtrainval_11-May-2012.tar, i.e. `VOCdevkit/VOC2012/` (or that folder "
            "itself) with `JPEGImages/*.jpg`, `Annotations/*.xml` and `ImageSets/Main/*.txt`. The "
            "test images (VOC2012test.tar) come from the evaluation server after registration; "
            "unpack them into the same VOC2012 folder and use `source: path`."
        ),
        files=(
            DownloadFile(
                "VOCtrainval_11-May-2012.tar",
                "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar",
                # TensorFlow Datasets url_checksums/voc.txt, recorded on the pjreddie.com copy of
                # this file (1,999,639,040 bytes)
                "e14f763270cf193d0b5f74b169f44157a4b0c6efa708f4dd0ff78ee691763bcb",
                "tar",
                mirrors=("http://pjreddie.com/media/files/VOCtrainval_11-May-2012.tar",),
            ),
        ),
        requires=(
            Requirement("images", "VOC2012/JPEGImages/*.jpg", ("*.jpg",), dirname="JPEGImages"),
            Requirement("annotations", "VOC2012/Annotations/*.xml", ("*.xml",), dirname="Annotations"),
            Requirement("imagesets", "VOC2012/ImageSets/Main/*.txt", ("Main/*.txt",), dirname="ImageSets"),
        ),
        homepage="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/",
        note="`source: url` fetches trainval only (walker evaluates on val: the test labels are not "
        "public); the test set needs registration and `source: path`. `source: synthetic` renders a "
        "detection stand-in in the same layout (pipeline/synthetic/detection.py).",
    ),
    SourceEntry(
        name="shapes",
        title="Shapes and Shapes+Texture (generated as in Xue et al.)",
        used_by=("crossconv",),
        kinds=("synthetic",),
        layout="synthetic",
        layout_doc="Generated by the pipeline; there is no official data to download or point at.",
    ),
    SourceEntry(
        name="smmnist",
        title="Stochastic Moving MNIST (Denton & Fergus 2018)",
        used_by=("svg",),
        kinds=("synthetic",),
        layout="synthetic",
        layout_doc=(
            "Generated by the pipeline from the digits of `datasets.mnist` (or scikit-learn's digits); "
            "there is no archive to download or point at."
        ),
    ),
)

REGISTRY: dict[str, SourceEntry] = {entry.name: entry for entry in _ENTRIES}


class UnknownDatasetError(KeyError):
    """A dataset key that is not in the registry; str() is the plain message, not its repr."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_source(name: str) -> SourceEntry:
    """The registry entry for config key `datasets.<name>`."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UnknownDatasetError(f"unknown dataset '{name}' (config key datasets.{name}); known: {known}") from None


def check_kind(entry: SourceEntry, kind: str) -> None:
    """Fail early, naming the config key, when a dataset cannot come from `kind`."""
    if kind not in SOURCE_KINDS:
        raise ValueError(
            f"datasets.{entry.name}.source = '{kind}' is not a source kind; use one of {', '.join(SOURCE_KINDS)}"
        )
    if not entry.supports(kind):
        raise ValueError(
            f"datasets.{entry.name}.source = '{kind}' is not available for {entry.title}; "
            f"it supports: {', '.join(entry.kinds)}. {entry.note}".rstrip()
        )
