"""``suggest`` (issue 25 item 2): which images to label next. Cold start on features nobody has
labeled, later rounds on a run, suspects first, an audit sample, to_label.csv filled in and
read back by ``run --labels-from``; bad input is one line with nothing written."""

import csv

import numpy as np
import pytest

from deeplabelprop.cli import main
from deeplabelprop.graph import l2_normalize
from deeplabelprop.selection import suggest
from deeplabelprop.selection.typicality import cluster_typicality
from tests.data.test_folder import NAMES, user_folder
from tests.recipes.test_user_folder import small


def clusters(n_per=60, c=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(c, 6)) * 4
    truth = np.repeat(np.arange(c), n_per)
    return (centres[truth] + rng.normal(size=(truth.size, 6))).astype(np.float32), truth


def test_cold_start_covers_the_clusters_with_their_most_typical_points():
    # k-means from one seeding can merge two clusters and split a third, so coverage is
    # measured over 12 draws of the data (8 draws covered all 6 clusters; the earlier rule,
    # faiss k-means on a subsample with typicality over all rows, 6 of 12)
    rng = np.random.default_rng(0)
    covered, random_covered = [], []
    for seed in range(12):
        x, truth = clusters(seed=seed)
        unit = l2_normalize(x)
        s = suggest(unit, np.full(truth.size, -1), 6)
        assert s.reason == ["typical"] * 6 and (s.guess == -1).all()
        covered.append(np.unique(truth[s.index]).size)
        if covered[-1] == 6:  # the clusters found: each pick is its cluster's most typical
            typ = cluster_typicality(unit, truth)  # TypiClust's eq. 2 within each cluster
            for i in s.index:
                assert typ[i] == typ[truth == truth[i]].max()
        random_covered += [
            np.unique(truth[rng.choice(truth.size, 6, replace=False)]).size for _ in range(20)
        ]
    assert np.mean(covered) > 5.5 and min(covered) >= 5
    assert np.mean(random_covered) < 4.8


def test_suggest_features_then_a_filled_file_goes_back_into_propagate(tmp_path, capsys):
    x, truth = clusters()
    np.save(tmp_path / "f.npy", x)
    out = tmp_path / "to_label.csv"
    assert (
        main(["suggest", str(tmp_path / "f.npy"), "-n", "6", "--audit", "2", "-o", str(out)]) == 0
    )
    rows = list(csv.DictReader(open(out)))
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 9)]
    assert [r["reason"] for r in rows] == ["typical"] * 6 + ["audit"] * 2
    assert list(rows[0]) == [
        "rank",
        "index",
        "path",
        "reason",
        "guess",
        "guess_confidence",
        "label",
    ]
    assert all(r["label"] == "" for r in rows) and len({r["index"] for r in rows}) == 8
    # -n above the unlabeled count: one line, nothing written
    assert (
        main(["suggest", str(tmp_path / "f.npy"), "-n", "1000", "-o", str(tmp_path / "x.csv")]) == 2
    )
    assert "more than the 360 unlabeled" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_later_rounds_list_suspects_first_with_their_held_out_class():
    x, truth = clusters(seed=3)
    y = np.where(np.arange(truth.size) % 12 == 0, truth, -1)
    y[0] = (truth[0] + 1) % 6  # a wrong label
    from deeplabelprop import propagate

    r = propagate(x, y)
    s = suggest(l2_normalize(x), y, 5, result=r)
    assert s.index[0] == 0 and s.reason[0] == "check this label" and s.guess[0] == truth[0]
    assert s.reason[1:] == ["uncertain"] * 5  # 5 labels per class: past the cold start
    assert not np.isin(s.index[1:], np.flatnonzero(y >= 0)).any()


def test_a_run_round_trip_with_labels_from(tmp_path, capsys):
    root = user_folder(tmp_path / "photos")
    run = tmp_path / "run"
    from deeplabelprop.recipes import run_dmt

    run_dmt(small(root), run)
    assert main(["suggest", str(run), "-n", "4", "--audit", "0"]) == 0
    to_label = run / "rounds" / "1" / "to_label.csv"
    rows = list(csv.DictReader(open(to_label, encoding="utf-8")))
    assert len(rows) >= 4 and all(r["path"] for r in rows)
    # the person fills in the labels (from the file names the fixture gave them), in Excel
    filled = ["\ufeffrank;index;path;reason;guess;guess_confidence;label"]
    for r in rows:
        if r["reason"] != "check this label" and "/x" in r["path"]:
            label = NAMES[int(r["path"].split("/x")[1][0])]
            filled.append(";".join([*(r[k] for k in list(r)[:-1]), label]))
    (tmp_path / "filled.csv").write_bytes("\r\n".join(filled).encode())
    run_dmt(small(root, labels_from=str(tmp_path / "filled.csv")), run)
    given = [r for r in csv.DictReader(open(run / "pseudo_labels.csv")) if r["given"] == "1"]
    assert len(given) == 9 + len(filled) - 1
    # a label that is not a class, without saying so: one line naming the fix
    (tmp_path / "bad.csv").write_text("path,label\nunlabeled/batch0/x0_004.png,zebra\n")
    with pytest.raises(Exception, match="write new:zebra to add it as a new class"):
        run_dmt(small(root, labels_from=str(tmp_path / "bad.csv")), run)


def test_pretrain_on_a_folder_nobody_labeled_then_the_cold_start(tmp_path, capsys):
    """Issue 25: a folder with no labels is a valid data set for pretrain (instance
    discrimination reads no label) and suggest; pretrain writes its features by file."""
    from deeplabelprop.recipes import run_pretrain
    from tests.conftest import recipe_config
    from tests.data.test_folder import digit_images, png

    for i, (k, a) in enumerate(digit_images(n_per_class=20)):
        png(tmp_path / "flat" / f"img {i:03d}.png", a)
        if i % 6 == 0:  # a test folder with classes nobody has labeled yet: no kNN monitor
            png(tmp_path / "flat" / "test" / NAMES[k] / f"t{i}.png", a)
    cfg = recipe_config(
        "pretrain",
        {"dataset": f"folder:{tmp_path / 'flat'}", "image_size": 16, "width": 4},
        {"metric": {"epochs": 1, "batch_size": 32}},
    )
    run_pretrain(cfg, tmp_path / "pre")
    z = np.load(tmp_path / "pre" / "features.npz")
    assert z["features"].shape[0] == 60 and (z["labels"] == -1).all()
    assert sorted(z["paths"].tolist()) == [f"img {i:03d}.png" for i in range(60)]
    assert main(["suggest", str(tmp_path / "pre"), "-n", "5", "--audit", "1"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "pre" / "rounds" / "1" / "to_label.csv")))
    assert [r["reason"] for r in rows] == ["typical"] * 5 + ["audit"]
    assert all(r["path"].startswith("img ") and r["guess"] == "" for r in rows)
    # round 1: the person names the classes as they come (no class exists yet, so a plain name
    # and new:NAME both add one); the run keeps them in the folder's labels.csv, which the
    # folder had no
    for j, r in enumerate(rows):
        r["label"] = ("new:" if j % 2 else "") + NAMES[int(r["path"][4:7]) // 20]
    with open(tmp_path / "filled.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    config = tmp_path / "dmt.toml"
    config.write_text(
        f'recipe = "dmt"\ndataset = "folder:{tmp_path / "flat"}"\nimage_size = 16\nwidth = 4\n'
        '[metric]\nsource = "none"\n[propagate]\nmethod = "knn-vote"\n'
        "[finetune]\nepochs = 1\nbatch_size = 16\n"
    )
    run = ["run", str(config), "-o", str(tmp_path / "run")]
    assert main([*run, "--labels-from", str(tmp_path / "filled.csv")]) == 0
    kept = {r["path"]: r["label"] for r in csv.DictReader(open(tmp_path / "flat" / "labels.csv"))}
    assert kept == {r["path"]: r["label"].removeprefix("new:") for r in rows}


def fill(to_label, out, *, reasons=("typical", "uncertain", "audit")):
    """The person: the label of each suggested image of ``reasons`` (from its file name)."""
    rows = list(csv.DictReader(open(to_label, encoding="utf-8")))
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            if r["reason"] in reasons and "/x" in r["path"]:
                r["label"] = NAMES[int(r["path"].split("/x")[1][0])]
            w.writerow(r)
    return [r for r in rows if r["label"]]


def test_three_rounds_keep_every_filled_file_and_their_audit_rows(tmp_path, capsys):
    """Each round's --labels-from goes on top of the labels kept before it, not instead of
    them; audit rows are remembered, and the estimate says how they fared."""
    import json

    root = user_folder(tmp_path / "photos")
    config = tmp_path / "dmt.toml"
    config.write_text(
        f'recipe = "dmt"\ndataset = "folder:{root}"\nimage_size = 16\nwidth = 4\n'
        '[metric]\nepochs = 2\nbatch_size = 32\n[propagate]\nmethod = "spectral"\n'
        "n_neighbors = 8\nn_components = 10\n[finetune]\nepochs = 1\nbatch_size = 16\n"
    )
    run = tmp_path / "run"
    command = ["run", str(config), "-o", str(run)]
    assert main(command) == 0
    filled: list[dict] = []
    for k in (1, 2):
        assert main(["suggest", str(run), "-n", "3", "--audit", "2"]) == 0
        out = tmp_path / f"filled{k}.csv"
        filled += fill(run / "rounds" / str(k) / "to_label.csv", out)
        capsys.readouterr()
        assert main([*command, "--labels-from", str(out)]) == 0
        said = capsys.readouterr().out
        assert f"kept the labels of {out} in {root / 'labels.csv'}" in said
        given = {
            r["path"] for r in csv.DictReader(open(run / "pseudo_labels.csv")) if r["given"] == "1"
        }
        assert {r["path"] for r in filled} <= given and len(given) == 9 + len(filled)
        audit = {r["path"] for r in filled if r["reason"] == "audit"}
        assert set((run / "audit.txt").read_text().split("\n")) - {""} == audit
        est = json.loads((run / "results.json").read_text())["estimated_accuracy"]
        assert est["audit"]["n"] == len(audit) and est["held_out"] >= 9 + len(filled) - 3
    # a third run with no file: the kept labels are read from the folder's labels.csv, so
    # nothing changed and nothing reruns
    record = json.loads((run / "run.json").read_text())
    assert main(command) == 0
    assert json.loads((run / "run.json").read_text())["round"] == record["round"] == 3
    # a correction in the review page of a row a file gave wins in its next round: the page's
    # rerun does not put the recorded file back on top
    from deeplabelprop.review.rerun import rerun
    from deeplabelprop.review.store import LabelStore

    store = LabelStore(run)
    key = filled[0]["path"]
    other = next(n for n in NAMES if n != store.label(key))
    store.set_label(store.target.keys.index(key), other)
    rerun(run, ["labels_from=none"])
    rows = {r["path"]: r for r in csv.DictReader(open(run / "pseudo_labels.csv"))}
    assert rows[key]["given"] == "1" and rows[key]["label"] == other
