"""The review server (issue 26): safe by default, every change on disk at once (a server killed
mid-review loses nothing), propagate again in the background once at a time."""

import csv
import http.client
import io
import json
import os
import signal
import time

import numpy as np
from PIL import Image

from deeplabelprop.recipes import run_dmt
from deeplabelprop.review.log import read_log
from deeplabelprop.review.store import LabelStore
from deeplabelprop.review.views import PAGE
from tests.data.test_folder import NAMES, user_folder
from tests.recipes.test_user_folder import small
from tests.review.server import get, post, request, serve


def test_safe_by_default(shared_run):
    root, run = shared_run
    secret = root.parent / "secret.txt"
    secret.write_text("not for the page")
    with serve(run) as (base, token, _):
        assert base.startswith("http://127.0.0.1:")
        # no token, a wrong one: refused, for data and for pages
        for path in ("/", "/api/overview", "/thumb/0", "/api/class?name=one"):
            assert request(base, path)[0] == 403
            assert request(base, path, "wrong")[0] == 403
        # DNS rebinding: a page on another name that resolves to 127.0.0.1
        status, _ = request(base, "/api/overview", token, headers={"Host": "attacker.example:80"})
        assert status == 403
        # changes: the token in the header, JSON, and no foreign origin
        assert post(base, "/api/label", None, {"index": 20, "label": "one"})[0] == 403
        status, _ = request(
            base,
            "/api/label",
            token,
            body={"index": 20, "label": "one"},
            headers={"Origin": "http://attacker.example"},
        )
        assert status == 403
        status, _ = request(
            base,
            f"/api/label?token={token}",
            None,
            body={"index": 20, "label": "one"},
        )
        assert status == 403  # the query token is not enough to change anything
        status, _ = request(
            base,
            "/api/label",
            token,
            body={"index": 20, "label": "one"},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 403
        assert not (root / "labels.csv").exists()
        # only the run's own images, by row: traversal of every kind is 404
        host, port = base.removeprefix("http://").split(":")
        for path in (
            "/thumb/../../secret.txt",
            "/thumb/%2e%2e/%2e%2e/secret.txt",
            "/thumb/..%2f..%2fsecret.txt",
            f"/thumb/{secret}",
            f"/thumb/{str(secret).replace('/', '%2f')}",
            "/thumb/-1",
            "/thumb/90",
            "/photos/labeled/one/img0.png",
            "/../secret.txt",
        ):
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", f"{path}?token={token}")  # sent as written (no normalising)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 404, path
            assert b"not for the page" not in body
        # a row is its own image
        status, png = request(base, "/thumb/0", token)
        assert status == 200
        image = np.asarray(Image.open(io.BytesIO(png)))
        key = LabelStore(run).target.keys[0]
        assert np.array_equal(image, np.asarray(Image.open(root / key)))  # small: kept as is
        assert any((run / "review" / "thumbs").glob("0-*.png"))  # cached on disk


def test_a_symlink_the_data_set_lists_is_served_as_that_image(tmp_path):
    root = user_folder(tmp_path / "photos")
    elsewhere = tmp_path / "elsewhere" / "real.png"
    elsewhere.parent.mkdir()
    linked = sorted((root / "unlabeled").rglob("*.png"))[0]
    linked.rename(elsewhere)
    linked.symlink_to(elsewhere)  # the data set lists the link
    run_dmt(small(root), tmp_path / "run")
    keys = LabelStore(tmp_path / "run").target.keys
    row = keys.index(str(linked.relative_to(root)))
    with serve(tmp_path / "run") as (base, token, _):
        status, png = request(base, f"/thumb/{row}", token)
    assert status == 200
    expected = np.asarray(Image.open(elsewhere))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), expected)


def test_views_are_pages_of_the_run(shared_run):
    root, run = shared_run
    with serve(run) as (base, token, _):
        overview = get(base, "/api/overview", token)
        assert overview["round"] == 1 and overview["n_images"] == 90
        assert sum(c["pseudo"] for c in overview["classes"]) == 90
        assert sum(overview["histogram"]) == 90 - 9
        rows = list(csv.DictReader(open(run / "pseudo_labels.csv")))
        for c in overview["classes"]:
            page = get(base, f"/api/class?name={c['name']}", token)
            assert page["total"] == c["pseudo"] and len(page["items"]) <= PAGE
            mine = sorted(float(r["confidence"]) for r in rows if r["label"] == c["name"])
            assert [i["confidence"] for i in page["items"]] == [round(x, 4) for x in mine[:PAGE]]
        check = get(base, "/api/check", token)
        suspects = [r for r in rows if r["suspect"] == "1"]
        assert check["total"] == len(suspects)
        for item in check["items"]:
            row = rows[item["index"]]
            assert item["oof_guess"] == row["oof_label"] and item["label"] == row["label"]
        nxt = get(base, "/api/next", token)
        assert nxt["total"] == len(suspects) + 20 + 3
        assert {i["reason"] for i in nxt["items"]} >= {"audit"}


def test_a_server_killed_mid_review_loses_nothing(fresh_run):
    root, run = fresh_run
    keys = LabelStore(run).target.keys
    rows = [i for i, k in enumerate(keys) if k.startswith("unlabeled/")][:4]
    with serve(run) as (base, token, process):
        for row, label in zip(rows, ["one", "two", "zero", "one"], strict=True):
            status, said = post(base, "/api/label", token, {"index": row, "label": label})
            assert status == 200, said
        os.killpg(process.pid, signal.SIGKILL)  # no shutdown, no flush
        process.wait()
    named = {r["path"]: r["label"] for r in csv.DictReader(open(root / "labels.csv"))}
    assert named == {keys[r]: v for r, v in zip(rows, ["one", "two", "zero", "one"], strict=True)}
    assert len(read_log(root / "labels.log.jsonl")) == 4
    with serve(run) as (base, token, _):  # and undo goes on across the restart
        status, said = post(base, "/api/undo", token, {})
        assert status == 200 and said["entry"]["undoes"] == 4
    assert keys[rows[3]] not in {r["path"] for r in csv.DictReader(open(root / "labels.csv"))}


def test_label_values_are_checked(fresh_run):
    root, run = fresh_run
    with serve(run) as (base, token, _):
        for body in (
            {"index": 20, "label": "seven"},
            {"index": 20, "label": 3},
            {"index": "20", "label": "one"},
            {"index": 999, "label": "one"},
        ):
            status, said = post(base, "/api/label", token, body)
            assert status == 400 and said["error"]
        status, said = post(base, "/api/classes", token, {"action": "add", "name": "../x"})
        assert status == 400
    assert not (root / "labels.csv").exists()


def test_propagate_again_runs_once_in_the_background_and_shows_the_new_round(fresh_run):
    root, run = fresh_run
    keys = LabelStore(run).target.keys
    rows = [i for i, k in enumerate(keys) if k.startswith("unlabeled/")][:3]
    before = (run / "pseudo_labels.csv").read_text()
    with serve(run) as (base, token, _):
        for row in rows:
            post(base, "/api/label", token, {"index": row, "label": "two"})
        # an audit row of "Label next", labeled with its true class: remembered as random
        items = get(base, "/api/next", token)["items"]
        audit = next(i for i in items if i["reason"] == "audit" and i["index"] not in rows)
        label = NAMES[int(audit["key"].split("/x")[1][0])]
        assert post(base, "/api/label", token, {"index": audit["index"], "label": label})[0] == 200
        first = post(base, "/api/propagate", token, {})
        second = post(base, "/api/propagate", token, {})
        assert first[0] == 200 and second[0] == 409  # two clicks: one run
        assert post(base, "/api/label", token, {"index": 30, "label": "one"})[0] == 409
        deadline = time.monotonic() + 120
        while (progress := get(base, "/api/progress", token))["running"]:
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert progress["returncode"] == 0 and progress["round"] == 2
        overview = get(base, "/api/overview", token)
        assert overview["round"] == 2 and [r["round"] for r in overview["rounds"]] == [1, 2]
        assert overview["rounds"][1]["n_given"] == 13
        assert "labels: 4 added" in overview["since_last_round"]
    assert (run / "audit.txt").read_text() == audit["key"] + "\n"
    estimate = json.loads((run / "results.json").read_text())["estimated_accuracy"]
    assert estimate["audit"]["n"] == 1
    record = json.loads((run / "run.json").read_text())
    assert record["stages"]["metric"]["status"] == "done"  # kept, not trained again
    assert (run / "pseudo_labels.csv").read_text() != before
