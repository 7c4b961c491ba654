"""Data in shards (issue 28 item 2): WebDataset tars, parquet files and a Hugging Face datasets
folder, generated here in their real formats with their own libraries, read without a listing
pass, keyed by the shards' own keys; through ``run``, ``embed`` and ``suggest``; corrections
beside the run by key."""

import csv
import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from deeplabelprop.cli import main
from deeplabelprop.data import LoadOptions, load_dataset
from deeplabelprop.data.problem.problem import images_fingerprint
from deeplabelprop.recipes import run_dmt
from deeplabelprop.review.rerun import rerun
from deeplabelprop.review.store import LabelStore
from tests.conftest import recipe_config
from tests.data.test_folder import NAMES, digit_images

wds = pytest.importorskip(
    "webdataset", reason="the shards extra: pip install 'deeplabelprop[shards]'"
)
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
hf = pytest.importorskip("datasets")


def png_bytes(array):
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def samples(n_labeled=3):
    """(key, png bytes, class or None, pixels) of 90 digit images (mixed sizes), 3 labeled per
    class."""
    out, seen = [], {0: 0, 1: 0, 2: 0}
    for j, (c, a) in enumerate(digit_images(30)):
        label = c if seen[c] < n_labeled else None
        seen[c] += 1
        out.append((f"s{j:04d}", png_bytes(a), label, a))
    return out


def write_webdataset(folder, items, per_shard=40):
    folder.mkdir(parents=True)
    pattern = str(folder / "shard-%06d.tar")
    with wds.ShardWriter(pattern, maxcount=per_shard) as sink:
        for key, data, label, _ in items:
            sample = {"__key__": key, "png": data}
            if label is not None:
                sample["cls"] = label
            sink.write(sample)
    n = len(list(folder.glob("*.tar")))
    return f"{folder}/shard-{{000000..{n - 1:06d}}}.tar"


def write_parquet(folder, items, per_file=50):
    folder.mkdir(parents=True)
    for start in range(0, len(items), per_file):
        part = items[start : start + per_file]
        table = pa.table(
            {
                "id": [k for k, *_ in part],
                "img": [d for _, d, *_ in part],
                "label": pa.array(
                    [None if c is None else NAMES[c] for *_, c, _ in part], pa.string()
                ),
            }
        )
        pq.write_table(table, folder / f"part-{start // per_file}.parquet")
    return f"{folder}/*.parquet"


def chosen_rows():
    return [0, 1, 2, 30, 31, 32, 60, 61, 62, 3, 33, 63]


def write_arrow(folder, items):
    features = hf.Features({"image": hf.Image(), "label": hf.ClassLabel(names=NAMES)})
    rows = {
        "image": [{"bytes": d, "path": None} for _, d, *_ in items],
        "label": [-1 if c is None else c for *_, c, _ in items],
    }
    train = hf.Dataset.from_dict(rows, features=features)
    chosen = chosen_rows()  # digit_images gives 30 per class, in class order
    test = hf.Dataset.from_dict(
        {"image": [rows["image"][j] for j in chosen], "label": [j // 30 for j in chosen]},
        features=features,
    )
    hf.DatasetDict({"train": train, "test": test}).save_to_disk(str(folder))
    return str(folder)


def small_run(spec):
    """A dmt config small enough for a test, on the data set ``spec``."""
    return recipe_config(
        "dmt",
        {
            "dataset": spec,
            "image_size": 16,
            "width": 4,
            "metric": {"epochs": 2, "batch_size": 32},
            "propagate": {"method": "spectral", "n_neighbors": 8, "n_components": 10},
            "finetune": {"epochs": 1, "batch_size": 16},
        },
    )


@pytest.mark.parametrize("kind", ["webdataset", "parquet", "arrow"])
def test_each_format_reads_as_written(tmp_path, kind):
    items = samples()
    where = {"webdataset": write_webdataset, "parquet": write_parquet, "arrow": write_arrow}
    spec = f"{kind}:{where[kind](tmp_path / kind, items)}"
    opts = LoadOptions(
        image_size=16,
        image_column="img" if kind == "parquet" else "image",
        key_column="id" if kind == "parquet" else None,
    )
    data = load_dataset(spec, options=opts)
    assert len(data) == 90 and data.shape == (16, 16, 1)
    keys = [k for k, *_ in items] if kind != "arrow" else [f"{kind}-train#{j}" for j in range(90)]
    assert list(data.paths) == keys  # the shards' own keys, in the shards' order
    names = {"webdataset": ["0", "1", "2"], "parquet": sorted(NAMES), "arrow": NAMES}[kind]
    assert list(data.classes) == names
    for j, (_, _, c, _) in enumerate(items):
        want = -1 if c is None else names.index(str(c) if kind == "webdataset" else NAMES[c])
        assert data.labels[j] == want
    # pixels: each image decoded and fitted exactly as a file of the same bytes would be
    from deeplabelprop.data.images.files import decode_image

    for j in (0, 41, 89):
        assert np.array_equal(data.images[j], decode_image(io.BytesIO(items[j][1]), (16, 16), 1))
    if kind == "arrow":
        test = load_dataset(spec, "test", options=LoadOptions(image_size=16, classes=data.classes))
        assert list(test.labels) == [NAMES.index(NAMES[j // 30]) for j in chosen_rows()]


def test_the_fingerprint_is_the_shard_files_not_the_pixels(tmp_path):
    spec = "webdataset:" + write_webdataset(tmp_path / "w", samples())
    data = load_dataset(spec, options=LoadOptions(image_size=16))
    first = images_fingerprint(data)
    assert data.source is not None and images_fingerprint(data) == first
    shard = sorted((tmp_path / "w").glob("*.tar"))[0]
    os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))
    assert images_fingerprint(load_dataset(spec, options=LoadOptions(image_size=16))) != first


def test_a_missing_shard_and_a_missing_column_are_named(tmp_path):
    from deeplabelprop.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        load_dataset(f"webdataset:{tmp_path}/shard-{{000000..000003}}.tar")
    spec = "parquet:" + write_parquet(tmp_path / "p", samples())
    with pytest.raises(InputError, match="no column 'image'"):
        load_dataset(spec, options=LoadOptions(image_size=16))


def test_run_embed_suggest_and_corrections_by_key(tmp_path, capsys):
    items = samples()
    spec = "webdataset:" + write_webdataset(tmp_path / "w", items)
    cfg = small_run(spec)
    run = tmp_path / "run"
    run_dmt(cfg, run)
    rows = list(csv.DictReader(open(run / "pseudo_labels.csv")))
    assert [r["path"] for r in rows] == [k for k, *_ in items]  # keyed by the shards' keys
    # embed the shards with the run's encoder, then suggest from embed's output
    out = tmp_path / "features.npz"
    assert (
        main(["embed", spec, "--model", f"encoder:{run / 'metric' / 'encoder.pt'}", "-o", str(out)])
        == 0
    )
    with np.load(out) as z:
        assert z["features"].shape[0] == 90 and list(z["paths"]) == [k for k, *_ in items]
    assert main(["suggest", str(out), "-n", "5", "-o", str(tmp_path / "to_label.csv")]) == 0
    picked = list(csv.DictReader(open(tmp_path / "to_label.csv")))
    assert len(picked) == 5 + 3 and all(p["path"].startswith("s") for p in picked)
    # a correction in the review store goes beside the run, by key, and wins over the shard's
    store = LabelStore(run)
    assert store.target.csv == run / "labels.csv"
    unlabeled = next(j for j, (_, _, c, _) in enumerate(items) if c is None)
    store.set_label(unlabeled, "2")
    store.set_label(0, "1")  # s0000 is a 0 in its shard
    rerun(run, [])  # the run reads its own labels.csv
    with np.load(run / "labels.npz") as z:
        given, classes = z["given"], list(z["classes"])
    assert classes[given[unlabeled]] == "2" and classes[given[0]] == "1"
    assert int((given >= 0).sum()) == 10
    record = json.loads((run / "run.json").read_text())
    assert record["round"] == 2 and record["stages"]["metric"]["status"] == "done"


def test_a_hugging_face_dataset_runs_through_run_embed_and_suggest(tmp_path):
    """``arrow:PATH`` (``save_to_disk``'s folder, its train and test splits) through the three
    commands, keyed by the dataset's own row keys."""
    items = samples()
    spec = "arrow:" + write_arrow(tmp_path / "hf", items)
    cfg = small_run(spec)
    run = tmp_path / "run"
    run_dmt(cfg, run)
    keys = [f"hf-train#{j}" for j in range(90)]
    rows = list(csv.DictReader(open(run / "pseudo_labels.csv")))
    assert [r["path"] for r in rows] == keys
    with np.load(run / "labels.npz") as z:
        given, classes = z["given"], list(z["classes"])
    assert int((given >= 0).sum()) == 9  # 3 per class, from the label column
    assert [classes[given[j]] for j in (0, 30, 60)] == NAMES[:3]
    out = tmp_path / "features.npz"
    assert (
        main(["embed", spec, "--model", f"encoder:{run / 'metric' / 'encoder.pt'}", "-o", str(out)])
        == 0
    )
    with np.load(out) as z:
        assert z["features"].shape[0] == len(z["paths"]) and set(keys) <= set(z["paths"])
    assert main(["suggest", str(out), "-n", "5", "-o", str(tmp_path / "to_label.csv")]) == 0
    picked = list(csv.DictReader(open(tmp_path / "to_label.csv")))
    assert len(picked) == 5 + 3 and all(p["path"].startswith("hf-") for p in picked)


def test_large_shards_are_decoded_once_to_a_mapped_file_and_reused(tmp_path, monkeypatch):
    from deeplabelprop.data.readers import shards

    spec = "webdataset:" + write_webdataset(tmp_path / "w", samples())
    in_memory = load_dataset(spec, options=LoadOptions(image_size=16))
    monkeypatch.setattr(shards, "MEMORY_LIMIT", 0)  # as if the decoded set were too large
    mapped = load_dataset(spec, options=LoadOptions(image_size=16))
    assert isinstance(mapped.images, np.memmap)
    np.testing.assert_array_equal(np.asarray(mapped.images), in_memory.images)
    (cached,) = list((tmp_path / "cache" / "shards").glob("*.npy"))
    stamp = cached.stat().st_mtime_ns
    again = load_dataset(spec, options=LoadOptions(image_size=16))
    assert cached.stat().st_mtime_ns == stamp  # read back, not decoded again
    np.testing.assert_array_equal(np.asarray(again.images), in_memory.images)
