import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from pipeline.shards import SPLITS, ShardDataset, open_shard, shard_length, write_shard


def _clips(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "frames": rng.integers(0, 256, size=(n, 4, 6, 8, 3), dtype=np.uint8),
        "label": np.arange(n, dtype=np.int16),
        "split": np.array([i % 3 for i in range(n)], dtype=np.uint8),
    }


def test_round_trip_arrays_and_attrs(tmp_path):
    data = _clips(7)
    path = write_shard(tmp_path / "s.zarr", data, {"dataset": "x", "videos": ["a", "b"]})
    group = open_shard(path)
    assert shard_length(group) == 7
    for name, array in data.items():
        np.testing.assert_array_equal(group[name][:], array)
    assert group.attrs["videos"] == ["a", "b"]
    # one item per chunk, so a reader decodes only the clip it asks for
    assert group["frames"].chunks == (1, 4, 6, 8, 3)
    assert group["frames"].shards is not None


def test_per_item_metadata_is_chunked_by_many_items_and_reads_back_item_by_item(tmp_path):
    """Zarr pays per chunk: 4,000 motions in 4,000 chunks read as slowly as 4,000 frames."""
    import pipeline.shards as shards

    rng = np.random.default_rng(1)
    n = 4000
    motion = rng.normal(size=(n, 3, 2)).astype(np.float32)  # 24 bytes an item
    frames = rng.integers(0, 256, size=(n, 1, 24, 24), dtype=np.uint8)  # 576 bytes: stays one per chunk
    group = open_shard(write_shard(tmp_path / "m.zarr", {"motion": motion, "frames": frames}))
    per_chunk = shards._SMALL_CHUNK_BYTES // motion[0].nbytes
    assert group["motion"].chunks == (per_chunk, 3, 2) and group["motion"].nchunks == -(-n // per_chunk)
    assert group["frames"].chunks == (1, 1, 24, 24)
    np.testing.assert_array_equal(group["motion"][:], motion)
    for i in (0, per_chunk - 1, per_chunk, n - 1):  # both sides of a chunk edge and the partial last chunk
        np.testing.assert_array_equal(group["motion"][i], motion[i])


def test_empty_shard_is_a_valid_shard(tmp_path):
    path = write_shard(tmp_path / "empty.zarr", _clips(0), {"skipped": [{"video_id": "v", "reason": "r"}]})
    assert shard_length(open_shard(path)) == 0
    assert len(ShardDataset([path], arrays=("frames",))) == 0


def test_mismatched_lengths_rejected_and_nothing_published(tmp_path):
    with pytest.raises(ValueError, match="axis 0"):
        write_shard(tmp_path / "bad.zarr", {"a": np.zeros((3, 2)), "b": np.zeros(4)})
    assert not (tmp_path / "bad.zarr").exists()


def test_rewrite_replaces_whole_shard(tmp_path):
    path = tmp_path / "s.zarr"
    write_shard(path, _clips(5, seed=1))
    write_shard(path, _clips(3, seed=2))
    group = open_shard(path)
    np.testing.assert_array_equal(group["frames"][:], _clips(3, seed=2)["frames"])
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]


def test_open_refuses_partial_shard(tmp_path):
    (tmp_path / "half.zarr").mkdir()
    with pytest.raises(FileNotFoundError, match="half.zarr"):
        open_shard(tmp_path / "half.zarr")


def test_dataset_split_selection_and_workers(tmp_path):
    paths = [write_shard(tmp_path / f"{k}.zarr", _clips(6, seed=k)) for k in range(2)]
    test_set = ShardDataset(paths, arrays=("frames", "label"), split="test")
    assert len(test_set) == 4  # items 2 and 5 of each shard
    assert all(test_set[i]["label"] % 3 == SPLITS.index("test") for i in range(len(test_set)))
    full = ShardDataset(paths, arrays=("frames", "label"))
    loader = torch.utils.data.DataLoader(full, batch_size=4, num_workers=2, shuffle=False)
    frames = torch.cat([batch["frames"] for batch in loader]).numpy()
    expected = np.concatenate([_clips(6, seed=k)["frames"] for k in range(2)])
    np.testing.assert_array_equal(frames, expected)


_KILLED_WRITER = """
import sys, time, numpy as np, zarr
import pipeline.shards as shards
original = zarr.Group.create_array
def slow(self, *a, **k):
    arr = original(self, *a, **k)
    print("writing", flush=True); time.sleep(30)
    return arr
zarr.Group.create_array = slow
shards.write_shard(sys.argv[1], {"x": np.ones((4, 3))})
"""


def test_killed_writer_leaves_no_shard_and_rerun_cleans_up(tmp_path):
    target = tmp_path / "k.zarr"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)],
                            stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    assert any(p.name.startswith(".k.zarr.tmp-") for p in tmp_path.iterdir())
    write_shard(target, {"x": np.zeros((2, 3))})
    assert [p.name for p in tmp_path.iterdir()] == ["k.zarr"]
    assert shard_length(open_shard(target)) == 2


def test_map_shard_carries_metadata_and_records_drops(tmp_path):
    from pipeline.shards import map_shard

    src = write_shard(tmp_path / "in.zarr", {**_clips(5), "video_index": np.arange(5, dtype=np.int32),
                                             "start": np.zeros(5, np.int32)}, {"videos": list("abcde")})

    def mean_or_drop(item):
        if item["frames"].mean() > 127.5:
            return ("bright", f"mean {item['frames'].mean():.1f}")
        return {"mean": np.float32(item["frames"].mean())}

    kept, dropped = map_shard(src, tmp_path / "out.zarr", mean_or_drop)
    out = open_shard(tmp_path / "out.zarr")
    frames = _clips(5)["frames"]
    expected = [i for i in range(5) if frames[i].mean() <= 127.5]
    assert kept == len(expected) and kept + dropped == 5
    np.testing.assert_array_equal(out["source_item"][:], expected)
    np.testing.assert_array_equal(out["label"][:], _clips(5)["label"][expected])
    assert {d["video_id"] for d in out.attrs["dropped"]} == {"abcde"[i] for i in range(5) if i not in expected}


def _store_files(path):
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_streaming_writer_stores_what_a_whole_array_write_stores(tmp_path, monkeypatch):
    """Item by item, with a video's worth of items taken back across a shard-file boundary, the
    writer leaves the same files, byte for byte, as one write of the whole arrays."""
    import pipeline.shards as shards

    monkeypatch.setattr(shards, "_TARGET_FILE_BYTES", 3 * 4 * 6 * 8 * 3)  # 3 clips per shard file
    data = _clips(11)
    whole = write_shard(tmp_path / "whole.zarr", data, {"videos": ["a"]})
    extra = _clips(5, seed=9)
    with shards.ShardWriter(tmp_path / "streamed.zarr", {"videos": ["a"]}) as writer:
        for i in range(7):
            writer.add({name: values[i] for name, values in data.items()})
        for i in range(5):  # items 7..11 reach into a third shard file, then are taken back
            writer.add({name: values[i] for name, values in extra.items()})
        assert len(writer) == 12
        writer.truncate(7)
        for i in range(7, 11):
            writer.add({name: values[i] for name, values in data.items()})
    group = open_shard(tmp_path / "streamed.zarr")
    assert group["frames"].shards == (3, 4, 6, 8, 3) and group["frames"].nchunks == 11
    assert _store_files(tmp_path / "streamed.zarr") == _store_files(whole)


def test_writer_that_raises_publishes_nothing(tmp_path):
    from pipeline.shards import ShardWriter

    path = write_shard(tmp_path / "s.zarr", _clips(2, seed=1))
    with pytest.raises(RuntimeError, match="decoder died"), ShardWriter(path) as writer:
        writer.add({name: values[0] for name, values in _clips(3, seed=2).items()})
        raise RuntimeError("decoder died")
    np.testing.assert_array_equal(open_shard(path)["frames"][:], _clips(2, seed=1)["frames"])
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]
    with pytest.raises(ValueError, match="'label'.*int16, got float64"), ShardWriter(tmp_path / "t.zarr") as writer:
        writer.add({"label": np.int16(1)})
        writer.add({"label": 1.5})
    assert not (tmp_path / "t.zarr").exists()
