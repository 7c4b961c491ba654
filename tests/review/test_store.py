"""The labels a person changes (issue 26): written at once to the file the data set reads, each
change logged with its provenance, undo across restarts, another program's edit kept, one
writer at a time."""

import csv
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from deeplabelprop.data import LoadOptions, load_dataset
from deeplabelprop.errors import InputError
from deeplabelprop.locking import labels_lock
from deeplabelprop.review.log import read_log
from deeplabelprop.review.rerun import rerun
from deeplabelprop.review.store import LabelStore
from tests.review.conftest import digits_run


def reader_labels(root):
    """{path: class} as the data set reads the folder now (what the next round sees)."""
    data = load_dataset(f"folder:{root}", options=LoadOptions(image_size=16))
    return {p: data.classes[k] for p, k in zip(data.paths, data.labels, strict=True) if k >= 0}


def unlabeled_rows(store, n):
    return [i for i, k in enumerate(store.target.keys) if k.startswith("unlabeled/")][:n]


def test_a_label_reaches_the_data_set_and_the_log(fresh_run):
    root, run = fresh_run
    store = LabelStore(run)
    assert store.target.csv == root / "labels.csv" and not store.target.csv.exists()
    a, b = unlabeled_rows(store, 2)
    store.set_label(a, "two")
    store.set_label(b, "one", "accepted")
    store.set_label(0, "zero")  # labeled/one/img0.png: a given label changed
    seen = reader_labels(root)
    assert seen[store.target.keys[a]] == "two" and seen[store.target.keys[b]] == "one"
    assert seen[store.target.keys[0]] == "zero"  # the CSV wins over the class folder
    assert len(seen) == 9 + 2
    log = read_log(root / "labels.log.jsonl")
    assert [e["provenance"] for e in log] == ["typed", "accepted", "corrected"]
    assert log[0]["changes"] == [[store.target.keys[a], None, "two"]]
    assert all(e["round"] == 1 for e in log)


def test_a_label_that_is_not_a_class_is_refused_and_nothing_is_written(fresh_run):
    root, run = fresh_run
    store = LabelStore(run)
    with pytest.raises(InputError, match="not a class"):
        store.set_label(20, "seven")
    with pytest.raises(InputError, match="not in this run"):
        store.set_label(10_000, "one")
    assert not (root / "labels.csv").exists() and not (root / "labels.log.jsonl").exists()


def test_undo_works_across_restarts_and_back_to_no_file(fresh_run):
    root, run = fresh_run
    store = LabelStore(run)
    a, b = unlabeled_rows(store, 2)
    store.set_label(a, "two")
    store.set_label(b, "one")
    again = LabelStore(run)  # a restarted server
    again.undo()
    assert reader_labels(root).get(store.target.keys[b]) is None
    assert reader_labels(root)[store.target.keys[a]] == "two"
    LabelStore(run).undo()
    assert not (root / "labels.csv").exists()  # no row left: the folder is as it was
    assert len(reader_labels(root)) == 9
    with pytest.raises(InputError, match="nothing to undo"):
        LabelStore(run).undo()
    log = read_log(root / "labels.log.jsonl")
    assert [e["action"] for e in log] == ["label", "label", "undo", "undo"]
    assert [e.get("undoes") for e in log[2:]] == [2, 1]


def test_an_edit_made_in_another_program_is_kept_and_logged(fresh_run):
    root, run = fresh_run
    store = LabelStore(run)
    a, b = unlabeled_rows(store, 2)
    store.set_label(a, "two")
    # the person adds a row in a text editor while the page is open
    with open(root / "labels.csv", "a", encoding="utf-8") as fh:
        fh.write(f"{store.target.keys[b]},zero\n")
    outcome = store.set_label(0, "two")
    assert outcome.outside == 1
    seen = reader_labels(root)
    assert seen[store.target.keys[b]] == "zero" and seen[store.target.keys[0]] == "two"
    log = read_log(root / "labels.log.jsonl")
    assert log[1]["action"] == "external" and log[1]["provenance"] == "outside"
    assert log[1]["changes"] == [[store.target.keys[b], None, "zero"]]


def test_classes_added_renamed_and_merged_are_recorded_and_undone(fresh_run):
    root, run = fresh_run
    store = LabelStore(run)
    store.add_class("eight")
    assert store.classes() == ["eight", "one", "two", "zero"]
    store.set_label(unlabeled_rows(store, 1)[0], "eight")
    store.rename_class("one", "uno")  # every image of labeled/one/ is now "uno"
    seen = reader_labels(root)
    assert sorted(set(seen.values())) == ["eight", "two", "uno", "zero"]
    assert [p for p, c in seen.items() if c == "uno"] == [
        f"labeled/one/img{j}.png" for j in range(3)
    ]
    store.merge_classes("eight", "zero")
    assert "eight" not in store.classes() and "eight" not in reader_labels(root).values()
    with pytest.raises(InputError, match="exists already"):
        store.rename_class("two", "zero")
    store.undo()  # the merge
    assert "eight" in store.classes() and "eight" in reader_labels(root).values()
    actions = [e["action"] for e in read_log(root / "labels.log.jsonl")]
    assert actions == ["add-class", "label", "rename-class", "merge-classes", "undo"]


def test_none_of_these_leaves_the_data_set_and_the_next_round(fresh_run):
    root, run = fresh_run
    store = LabelStore(run)
    row = unlabeled_rows(store, 1)[0]
    key = store.target.keys[row]
    store.mark_out_of_scope(row)
    data = load_dataset(f"folder:{root}", options=LoadOptions(image_size=16))
    assert key not in data.paths and len(data.paths) == 89
    rerun(run, [])
    with np.load(run / "labels.npz") as z:
        assert key not in z["names"].tolist() and len(z["names"]) == 89
    rows = list(csv.DictReader(open(run / "pseudo_labels.csv")))
    assert key not in {r["path"] for r in rows}
    assert json.loads((run / "run.json").read_text())["round"] == 2


def take_lock(path, **kw) -> bool:
    """True once the lock of ``path`` was held (it raises when it cannot be)."""
    with labels_lock(path, **kw):
        return True


def test_one_writer_at_a_time(fresh_run):
    root, run = fresh_run
    store = LabelStore(run)
    store.set_label(unlabeled_rows(store, 1)[0], "two")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from deeplabelprop.locking import labels_lock\n"
            f"with labels_lock({str(root / 'labels.csv')!r}):\n"
            "    print('held', flush=True); time.sleep(3)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(InputError, match="locked by another writer"):
        with labels_lock(root / "labels.csv", wait=0.3):
            pass
    with (
        pytest.raises(InputError, match="locked"),
        labels_lock(root / "labels.csv", shared=True, wait=0.3),
    ):
        pass  # a reader waits for the writer too
    t0 = time.monotonic()
    store.set_label(unlabeled_rows(store, 2)[1], "one")  # waits for the other writer, then writes
    assert time.monotonic() - t0 > 0.5
    holder.wait()
    assert len(read_log(root / "labels.log.jsonl")) == 2


def test_a_benchmark_set_is_corrected_beside_the_run_by_its_own_key(tmp_path):
    run = digits_run(tmp_path / "run")
    store = LabelStore(run)
    assert store.target.csv == run / "labels.csv" and store.target.keys[0] == "digits#0"
    with np.load(run / "labels.npz") as z:
        given, truth = z["given"], z["truth"]
    row = int(np.flatnonzero(given < 0)[0])
    labeled = int(np.flatnonzero(given >= 0)[0])
    wrong = str((truth[labeled] + 1) % 10)
    store.set_label(row, str(truth[row]))
    store.set_label(labeled, wrong)
    assert store.target.base[f"digits#{labeled}"] == str(truth[labeled])
    with pytest.raises(InputError, match="fixed classes"):
        store.add_class("ten")
    with pytest.raises(InputError, match="fixed classes"):
        store.mark_out_of_scope(row)
    rerun(run, [])  # the run reads its own labels.csv
    with np.load(run / "labels.npz") as z:
        assert z["given"][row] == truth[row] and z["given"][labeled] == int(wrong)
        assert int((z["given"] >= 0).sum()) == int((given >= 0).sum()) + 1
        assert (z["truth"] == truth).all()  # the truth of a benchmark set never changes
