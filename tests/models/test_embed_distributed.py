"""``embed`` across processes (issue 28 item 3): under torchrun each rank embeds its own chunks,
the output is one file in the data set's order, equal to one process's; a killed rank's job
resumes, each rank from its own chunks."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deeplabelprop.cli import main
from tests.test_distributed import torchrun_command, worker_pids


def tiny_model(path: Path, side: int) -> str:
    torch.manual_seed(0)
    body = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
    )
    meta = {"size": [side, side], "mean": [0.5] * 3, "std": [0.25] * 3}
    torch.jit.save(
        torch.jit.script(body), path, _extra_files={"preprocessing.json": json.dumps(meta)}
    )
    return f"torchscript:{path}"


def embed_args(model: str, out: Path, chunk_rows: int) -> list[str]:
    return [
        "embed",
        "digits",
        "--model",
        model,
        "--precision",
        "fp32",
        "--device",
        "cpu",
        "--chunk-rows",
        str(chunk_rows),
        "-o",
        str(out),
    ]


def test_two_processes_give_one_process_features(tmp_path):
    model = tiny_model(tmp_path / "m.pt", 32)
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    assert main(embed_args(model, one, 100)) == 0
    proc = subprocess.run(
        torchrun_command(*embed_args(model, two, 100)), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("wrote ") == 1  # rank 0 speaks
    with np.load(one) as a, np.load(two) as b:
        assert a["features"].shape == b["features"].shape == (1438, 32)
        # the same rows in the same batches: the same numbers, in the data set's order
        np.testing.assert_allclose(b["features"], a["features"], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(b["labels"], a["labels"])
    assert not list(tmp_path.glob(".two.npz.parts*"))  # the chunks are gone


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the workers in /proc")
def test_a_killed_rank_resumes_from_its_own_chunks(tmp_path):
    model = tiny_model(tmp_path / "m.pt", 96)  # slow enough to be caught half-way
    one, out = tmp_path / "one.npz", tmp_path / "two.npz"
    assert main(embed_args(model, one, 50)) == 0
    launcher = subprocess.Popen(
        torchrun_command(*embed_args(model, out, 50)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    parts = tmp_path / ".two.npz.parts"
    deadline = time.monotonic() + 300
    while not (parts / "chunk-000001.npy").exists() and time.monotonic() < deadline:
        assert launcher.poll() is None, "the job ended before it could be killed"
        time.sleep(0.005)
    os.kill(worker_pids(launcher.pid)[1], signal.SIGKILL)  # rank 1 dies after its first chunk
    launcher.communicate(timeout=120)
    assert launcher.returncode != 0 and not out.exists()
    done = sorted(p.name for p in parts.glob("chunk-*.npy"))
    assert "chunk-000001.npy" in done and len(done) < 29
    proc = subprocess.run(
        torchrun_command(*embed_args(model, out, 50)), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every rank's kept chunks are counted (rank 0 may have kept none when rank 1 died)
    kept = sum(min(50, 1438 - 50 * int(name[6:12])) for name in done)
    assert f", {kept} from an earlier run" in proc.stdout
    with np.load(one) as a, np.load(out) as b:
        np.testing.assert_allclose(b["features"], a["features"], rtol=0, atol=1e-6)
