"""`deeplabelprop propagate` end to end, and its errors: exit 2, one line, no output file (issue 2)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deeplabelprop.cli import main


@pytest.fixture
def files(tmp_path, blobs):
    x, truth, labels = blobs
    np.save(tmp_path / "feats.npy", x)
    np.save(tmp_path / "labels.npy", labels)
    return tmp_path, x, truth, labels


def test_propagate_writes_complete_output(files, capsys):
    d, x, truth, labels = files
    out = d / "pseudo.npz"
    assert (
        main(
            [
                "propagate",
                str(d / "feats.npy"),
                str(d / "labels.npy"),
                "--method",
                "diffusion",
                "--k",
                "10",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    z = np.load(out)
    assert set(z.files) >= {"labels", "probabilities", "confidence", "weights", "classes", "params"}
    assert z["labels"].shape == (300,) and z["probabilities"].shape == (300, 3)
    assert (z["labels"] == truth).mean() > 0.95
    params = json.loads(str(z["params"]))
    # the α fitted to the labeled share is recorded, so the run can be repeated exactly
    from deeplabelprop.propagation.diffusion import fitted_alpha

    labeled = int((np.load(d / "labels.npy") >= 0).sum())
    assert params["method"] == "diffusion" and params["n_neighbors"] == 10
    assert params["alpha"] == pytest.approx(fitted_alpha(labeled, 300))
    assert set(z.files) >= {"oof_index", "oof_probabilities", "calibrated", "estimated_accuracy"}
    text = capsys.readouterr().out
    assert "stage times" in text and "mean confidence" in text and "pseudo" in text
    assert "estimated accuracy of the pseudo labels" in text


def test_propagate_with_csv_names_and_npz(files):
    d, x, truth, labels = files
    np.savez(d / "feats.npz", features=x, other=np.zeros(3))
    names = ["ant", "bee", "cow"]
    lines = ["index,label"] + [f"{i},{names[labels[i]]}" for i in np.flatnonzero(labels >= 0)]
    (d / "labels.csv").write_text("\n".join(lines) + "\n")
    out = d / "o.npz"
    assert (
        main(
            [
                "propagate",
                str(d / "feats.npz"),
                str(d / "labels.csv"),
                "-m",
                "spectral",
                "--k",
                "10",
                "--eta",
                "20",
                "--param",
                "spectral_filter=inverse",
                "-o",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    z = np.load(out)
    assert z["classes"].tolist() == names
    assert (z["classes"][z["labels"]] == np.array(names)[truth]).mean() > 0.95
    assert json.loads(str(z["params"]))["spectral_filter"] == "inverse"


def _run_error(args, capsys):
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize(
    "make, extra, message",
    [
        (
            lambda d, x, y: (
                np.save(d / "f.npy", np.where(np.arange(300)[:, None] == 3, np.nan, x)),
                np.save(d / "l.npy", y),
            ),
            [],
            "NaN",
        ),
        (
            lambda d, x, y: (np.save(d / "f.npy", x), np.save(d / "l.npy", y[:10])),
            [],
            "have 10 entries but features have 300 rows",
        ),
        (
            lambda d, x, y: (np.save(d / "f.npy", x), np.save(d / "l.npy", np.full(300, -1))),
            [],
            "no labeled point",
        ),
        (
            lambda d, x, y: (np.save(d / "f.npy", x), np.save(d / "l.npy", np.where(y == 1, 7, y))),
            ["--n-classes", "3"],
            "outside the classes",
        ),
        (
            lambda d, x, y: (np.save(d / "f.npy", x), np.save(d / "l.npy", y)),
            ["--k", "300"],
            "must be smaller than the number of samples",
        ),
        (
            lambda d, x, y: (np.save(d / "f.npy", x[:, 0]), np.save(d / "l.npy", y)),
            [],
            "must be 2-D",
        ),
        (lambda d, x, y: ((d / "f.npy").write_bytes(b""), np.save(d / "l.npy", y)), [], "is empty"),
        (
            lambda d, x, y: (
                (d / "f.npy").write_bytes(b"\x93NUMPY garbage"),
                np.save(d / "l.npy", y),
            ),
            [],
            "corrupted",
        ),
        (
            lambda d, x, y: (np.save(d / "f.npy", x), (d / "l.npy").write_bytes(b"junk")),
            [],
            "corrupted",
        ),
        (
            lambda d, x, y: (np.save(d / "f.npy", x), np.save(d / "l.npy", y)),
            ["--param", "bogus=1"],
            "does not take bogus",
        ),
        (
            lambda d, x, y: (np.save(d / "f.npy", x), np.save(d / "l.npy", y)),
            ["--eta", "5"],
            "does not take n_components",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(
    tmp_path, blobs, capsys, make, extra, message
):
    x, _, labels = blobs
    make(tmp_path, x, labels)
    out = tmp_path / "out.npz"
    code, err = _run_error(
        ["propagate", str(tmp_path / "f.npy"), str(tmp_path / "l.npy"), "-o", str(out), *extra],
        capsys,
    )
    assert code == 2
    assert len(err) == 1 and err[0].startswith("deeplabelprop: error:") and message in err[0]
    assert not out.exists()
    assert not list(tmp_path.glob(".out.npz*"))  # no temporary left either


def test_missing_file(tmp_path, capsys):
    code, err = _run_error(
        [
            "propagate",
            str(tmp_path / "nope.npy"),
            str(tmp_path / "l.npy"),
            "-o",
            str(tmp_path / "o.npz"),
        ],
        capsys,
    )
    assert code == 2 and "does not exist" in err[0]


def test_csv_errors(files, capsys):
    d, *_ = files
    for text, message in [
        ("0,a\n0,b\n", "more than once"),
        ("0,a\n999,b\n", "outside 0..299"),
        ("0\n", "expected 'index,label'"),
    ]:
        (d / "l.csv").write_text(text)
        code, err = _run_error(
            ["propagate", str(d / "feats.npy"), str(d / "l.csv"), "-o", str(d / "o.npz")], capsys
        )
        assert code == 2 and message in err[0], err


def test_methods_lists_every_propagator(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in ["diffusion", "spectral", "knn-vote", "local"]:
        assert f"{name}:" in out


def test_console_script_demo_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "deeplabelprop", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "spectral" in proc.stdout and "supervised" in proc.stdout
    assert "Warning" not in proc.stderr and "calibrate" in proc.stdout  # said once, in words


def test_split_command_round_trip(tmp_path, capsys):
    from deeplabelprop.data import load_split
    from deeplabelprop.data.problem.problem import train_and_test

    out = tmp_path / "split.json"
    args = ["split", "digits", "--n-labeled", "20", "--seed", "3", "--n-validation", "10"]
    assert main([*args, "-o", str(out)]) == 0
    assert "20 labeled" in capsys.readouterr().out
    labels = train_and_test("digits")[0].labels  # the training images the recipes use
    s = load_split(out, labels, "digits")
    assert np.bincount(labels[s.labeled]).tolist() == [2] * 10 and s.validation.size == 10
    code, err = _run_error(
        ["split", "digits", "--n-labeled", "5", "-o", str(tmp_path / "s2.json")], capsys
    )
    assert code == 2 and "smaller than the number of classes" in err[0]
    assert not (tmp_path / "s2.json").exists()


def test_pretrain_then_split_then_propagate_connect(dataset, tmp_path, capsys):
    """The commands connect (issue 16): pretrain writes features.npy, split writes split.json,
    and propagate reads both."""
    run = tmp_path / "run"
    args = ["pretrain", "--dataset", f"npz:{dataset}", "--model", "small-cnn", "--set", "width=4"]
    args += ["--set", "metric.epochs=1", "--set", "metric.batch_size=64", "-o", str(run)]
    assert main(args) == 0
    feats = np.load(run / "features.npy")
    assert feats.shape == (300, 128) and np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    assert (run / "encoder.pt").exists() and (run / "checkpoint.pt").exists()
    assert (
        main(["split", f"npz:{dataset}", "--n-labeled", "9", "-o", str(tmp_path / "split.json")])
        == 0
    )
    out = tmp_path / "pseudo.npz"
    propagate = ["propagate", str(run / "features.npy"), str(tmp_path / "split.json"), "--k", "10"]
    assert main([*propagate, "-o", str(out), "-q"]) == 0
    z = np.load(out)
    truth = np.load(run / "labels.npz")["truth"]
    split = json.loads((tmp_path / "split.json").read_text())
    assert z["labels"].shape == (300,) and z["classes"].tolist() == ["a", "b", "c"]
    assert np.array_equal(z["labels"][split["labeled"]], truth[split["labeled"]])
    assert main(args) == 0  # finished run: resumes to the end at once and rewrites the outputs


def test_ctrl_c_says_one_line_exits_130_and_the_run_continues(tmp_path):
    """SIGINT during a run's training: no traceback, the shell's code for SIGINT, and the same
    command continues after the last finished epoch."""
    import signal

    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "deeplabelprop",
        "run",
        str(Path(__file__).resolve().parents[1] / "configs" / "digits" / "dmt.toml"),
        "--set",
        "metric.epochs=400",
        "-o",
        str(out),
    ]
    # as from a terminal: SIGINT at its default in the child (a disposition of SIG_IGN would be
    # inherited from this process, where something earlier in the suite sets it, and Python
    # then never raises KeyboardInterrupt)
    interruptible = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
        "text": True,
        "preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    }
    proc = subprocess.Popen(command, **interruptible)
    lines = []
    for line in proc.stdout:  # wait until two epochs have finished
        lines.append(line)
        if "epoch 2/400" in line:
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    said = "".join(lines) + rest
    assert proc.returncode == 130, said[-3000:]
    assert "Traceback" not in said and "deeplabelprop: interrupted." in said
    assert (out / "metric" / "checkpoint.pt").is_file()
    again = subprocess.Popen(command, **interruptible)
    for line in again.stdout:
        if "resuming" in line or "epoch 1/400" in line:
            break
    again.send_signal(signal.SIGINT)
    again.communicate(timeout=120)
    assert "resuming" in line and "after epoch" in line
