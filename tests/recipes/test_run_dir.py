"""The run directory contract (issue 16): run.json, stages skipped only for equal settings, and a
refused run that changes nothing on disk."""

import hashlib
import json

import pytest

from deeplabelprop import InputError
from deeplabelprop.cli import main
from deeplabelprop.evaluate.report import build_report
from deeplabelprop.recipes import dmt as dmt_module
from deeplabelprop.recipes import run_dmt, run_lpdssl
from tests.conftest import recipe_config
from tests.recipes.test_dmt import config


def snapshot(folder):
    """Every file's path, bytes and mtime: what a refused run must leave as it was."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def finished(dataset, tmp_path):
    out = tmp_path / "run"
    run_dmt(config(dataset), out)
    return out


def test_changed_settings_are_refused_naming_the_keys_and_nothing_changes(dataset, finished):
    before = snapshot(finished)
    with pytest.raises(InputError) as err:
        run_dmt(config(dataset, metric__epochs=3, finetune__lr=0.1), finished)
    message = str(err.value)
    assert (
        "metric: metric.epochs (2 → 3)" in message
        and "finetune: finetune.lr (0.05 → 0.1)" in message
    )
    assert "metric.checkpoint" in message  # how to reuse the finished metric
    assert snapshot(finished) == before
    # a setting that changes speed only is not a difference
    run_dmt(config(dataset, num_workers=1), finished)


def test_a_stage_not_yet_started_may_change(dataset, tmp_path):
    out = tmp_path / "run"

    class Killed(Exception):
        pass

    def dying(*args, **kwargs):
        raise Killed()

    with pytest.MonkeyPatch.context() as mp:  # killed at the start of the finetune's training
        mp.setattr(dmt_module, "train", dying)
        with pytest.raises(Killed):
            run_dmt(config(dataset), out)
    record = json.loads((out / "run.json").read_text())
    assert record["stages"]["propagate"]["status"] == "done"
    assert record["stages"]["finetune"]["status"] == "running"  # recorded: its settings are fixed
    with pytest.raises(InputError, match="finetune.epochs"):
        run_dmt(config(dataset, finetune__epochs=1), out)
    run_dmt(config(dataset), out)  # the same settings resume
    assert json.loads((out / "run.json").read_text())["status"] == "done"


def test_other_recipes_fast_dev_runs_and_foreign_folders_are_refused(dataset, finished, tmp_path):
    before = snapshot(finished)
    lpdssl = recipe_config("lpdssl", {"dataset": f"npz:{dataset}", "n_labeled": 6, "width": 4})
    with pytest.raises(InputError, match="holds a dmt run; write the lpdssl run to another folder"):
        run_lpdssl(lpdssl, finished)
    with pytest.raises(InputError, match="holds a full run; give --fast-dev-run its own folder"):
        run_dmt(config(dataset), finished, fast_dev_run=True)
    assert snapshot(finished) == before
    quick = tmp_path / "quick"
    run_dmt(
        recipe_config(
            "dmt", {"dataset": f"npz:{dataset}", "width": 4, "n_labeled": 6}, fast_dev_run=True
        ),
        quick,
        fast_dev_run=True,
    )
    with pytest.raises(InputError, match="holds a --fast-dev-run run .*another folder"):
        run_dmt(config(dataset), quick)
    build_report([quick], tmp_path / "report")  # a fast dev run's folder reports too
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not a deeplabelprop run directory"):
        run_dmt(config(dataset), other)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


def test_bad_data_leave_nothing_behind(dataset, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(InputError, match="smaller than the number of classes"):
        run_dmt(config(dataset, n_labeled=2), out)
    assert not out.exists()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'recipe = "dmt"\ndataset = "npz:{tmp_path / "missing.npz"}"\n')
    assert main(["run", str(cfg), "-o", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not out.exists()
