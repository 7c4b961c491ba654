"""Several processes under torchrun (issue 19): they train like one process, a run killed in
any process resumes exactly, and a setting that cannot work is refused before anything is
written. Real processes, the gloo backend on the CPU; fp32 so that the only difference between
one process and two is the order of floating-point sums."""

import csv
import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image

from deeplabelprop import distributed
from deeplabelprop.cli import main
from deeplabelprop.data import ImageStream, ShiftFlip
from deeplabelprop.errors import InputError
from deeplabelprop.models import build_model
from deeplabelprop.pretrain.tasks import InstanceDiscrimination
from deeplabelprop.propagation import Pipeline
from deeplabelprop.train import TrainConfig, load_checkpoint, train
from deeplabelprop.train.llp_task import LLPTask
from tests.conftest import blocks as block_images
from tests.conftest import write_blocks
from tests.data.test_folder import user_folder

TORCHRUN = Path(sys.executable).with_name("torchrun")

COMMON = {
    "model": "small-cnn-gn",  # GroupNorm: no batch statistics, so the split does not show
    "width": 8,
    "seed": 0,
    "precision": "fp32",
}
CONFIGS = {
    "dmt": {
        "n_labeled": 6,
        "metric": {"epochs": 10, "batch_size": 64, "crop_scale": 0.6},
        "propagate": {"method": "spectral", "n_neighbors": 8, "n_components": 10},
        "finetune": {"epochs": 3, "batch_size": 32, "shift": 1},
    },
    "llp": {
        "n_labeled": 9,
        "metric": {"epochs": 10, "batch_size": 64, "crop_scale": 0.6},
        "propagate": {"method": "local", "n_density": 8, "n_voters": 3},
        "llp": {"epochs": 3, "batch_size": 32, "shift": 1},
    },
    "lpdssl": {
        "n_labeled": 9,
        "supervised": {"epochs": 3, "batch_size": 10},
        "propagate": {"n_neighbors": 10},
        "iterative": {
            "epochs": 3,
            "batch_labeled": 8,
            "batch_unlabeled": 24,
            "shift": 1,
            "mean_teacher": True,
        },
    },
}
TRAINED = {
    "dmt": ("metric", "finetune"),
    "llp": ("metric", "llp"),
    "lpdssl": ("supervised", "iterative"),
}


def toml(recipe: str, data: Path, path: Path, **stage_over) -> Path:
    lines = [f'recipe = "{recipe}"', f'dataset = "npz:{data}"']
    body = {**COMMON, **CONFIGS[recipe]}
    for key, value in body.items():
        if not isinstance(value, dict):
            lines.append(f"{key} = {json.dumps(value)}")
    for section, values in body.items():
        if isinstance(value := values, dict):
            lines.append(f"[{section}]")
            for k, v in {**value, **stage_over.get(section, {})}.items():
                lines.append(f"{k} = {json.dumps(v)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def torchrun_command(*args: str, n: int = 2) -> list[str]:
    return [str(TORCHRUN), "--standalone", f"--nproc_per_node={n}", "-m", "deeplabelprop", *args]


def torchrun(*args: str, n: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run(torchrun_command(*args, n=n), capture_output=True, text=True, timeout=600)


def weights(run: Path, stage: str) -> dict:
    return load_checkpoint(run / stage / "checkpoint.pt")["model"]


def pseudo_labels(run: Path) -> list[tuple[str, str]]:
    return [(r["path"], r["label"]) for r in csv.DictReader(open(run / "pseudo_labels.csv"))]


@pytest.fixture(scope="module")
def blocks(tmp_path_factory):
    return write_blocks(tmp_path_factory.mktemp("data") / "blocks.npz")[0]


@pytest.fixture(scope="module")
def runs(blocks, tmp_path_factory):
    """Each recipe run once in one process and once in two (recipe -> (one, two))."""
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for recipe in CONFIGS:
        config = toml(recipe, blocks, base / f"{recipe}.toml")
        one, two = base / f"{recipe}-1", base / f"{recipe}-2"
        assert main(["run", str(config), "-o", str(one)]) == 0
        proc = torchrun("run", str(config), "-o", str(two))
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.count("wrote ") == 1  # one voice per job: rank 0 prints
        out[recipe] = (one, two)
    return out


@pytest.mark.parametrize("recipe", sorted(CONFIGS))
def test_two_processes_train_like_one(runs, recipe):
    one, two = runs[recipe]
    for stage in TRAINED[recipe]:
        a, b = weights(one, stage), weights(two, stage)
        for name, tensor in a.items():
            # the same updates: only the order of the gradient sums differs (float32 rounding)
            torch.testing.assert_close(b[name], tensor, rtol=0, atol=1e-5, msg=name)
    assert pseudo_labels(two) == pseudo_labels(one)
    np.testing.assert_array_equal(
        np.load(two / "test_predictions.npy"), np.load(one / "test_predictions.npy")
    )
    r1, r2 = (json.loads((r / "results.json").read_text()) for r in (one, two))
    assert r2["test_accuracy"] == r1["test_accuracy"]
    # one writer: no temporary or per-rank file is left in the run folder
    assert not [p for p in two.rglob("*") if p.name.endswith(".tmp") or "rank" in p.name]


def worker_pids(launcher: int) -> dict[int, int]:
    """{local rank: pid} of torchrun's worker processes."""
    out = {}
    for task in Path(f"/proc/{launcher}/task").iterdir():
        for pid in (task / "children").read_text().split():
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            rank = [e for e in env if e.startswith(b"LOCAL_RANK=")]
            if rank:
                out[int(rank[0].split(b"=")[1])] = int(pid)
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the workers in /proc")
def test_a_killed_process_stops_the_job_and_the_run_resumes_exactly(runs, blocks, tmp_path):
    config = toml("dmt", blocks, tmp_path / "dmt.toml")
    run = tmp_path / "run"
    launcher = subprocess.Popen(
        torchrun_command("run", str(config), "-o", str(run)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoint = run / "metric" / "checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and launcher.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(worker_pids(launcher.pid)[1], signal.SIGKILL)  # process 1 dies mid-stage
    start = time.monotonic()
    _, stderr = launcher.communicate(timeout=120)
    # the others are stopped at once, not left waiting for the dead one
    assert launcher.returncode != 0 and time.monotonic() - start < 60, stderr[-2000:]
    record = json.loads((run / "run.json").read_text())
    assert record["stages"]["metric"]["status"] != "done" and not (run / "results.json").exists()
    assert load_checkpoint(checkpoint)["epoch"] < 9  # killed before the stage's last epoch

    proc = torchrun("run", str(config), "-o", str(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming" in proc.stderr
    whole = runs["dmt"][1]
    for stage in TRAINED["dmt"]:
        a, b = weights(whole, stage), weights(run, stage)
        for name, tensor in a.items():
            assert torch.equal(b[name], tensor), (stage, name)  # bitwise the uninterrupted run
    assert pseudo_labels(run) == pseudo_labels(whole)


def test_a_batch_that_does_not_split_is_refused_before_anything_is_written(blocks, tmp_path):
    config = toml("dmt", blocks, tmp_path / "dmt.toml", finetune={"batch_size": 33})
    proc = torchrun("run", str(config), "-o", str(tmp_path / "run"))
    assert proc.returncode != 0
    assert (
        "deeplabelprop: error (process 0 of 2): finetune.batch_size = 33 does not split evenly "
        "over 2 processes; set it to a multiple of 2 (e.g. --set finetune.batch_size=34)"
    ) in proc.stderr
    assert not (tmp_path / "run").exists()


def test_a_folder_that_is_not_a_run_is_refused_once_for_every_process(blocks, tmp_path):
    config = toml("dmt", blocks, tmp_path / "dmt.toml")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    proc = torchrun("run", str(config), "-o", str(tmp_path / "run"))
    assert proc.returncode != 0
    # rank 0 decides and reports; the others stop with it (no second message, no hang)
    assert f"error (process 0 of 2): {tmp_path / 'run'} exists and is not a" in proc.stderr
    assert "process 1 of 2" not in proc.stderr and "Traceback" not in proc.stderr.split("E1")[0]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["notes.txt"]


def test_an_unreadable_image_stops_the_job_naming_it(tmp_path):
    """A JPEG cut short passes the listing (its header is whole) and fails when decoded: the
    first process to decode it names it, every process stops, nothing is written."""
    root = user_folder(tmp_path / "photos", with_test=False)
    for path in sorted(root.rglob("*.png")):
        Image.open(path).convert("L").save(path.with_suffix(".jpg"), quality=90)
        path.unlink()
    bad = sorted(root.rglob("*.jpg"))[-1]
    bad.write_bytes(bad.read_bytes()[:-40])
    config = tmp_path / "dmt.toml"
    config.write_text(
        f'recipe = "dmt"\ndataset = "folder:{root}"\nimage_size = 16\nwidth = 4\n'
        'cache = "none"\n[metric]\nepochs = 2\nbatch_size = 32\n'
        '[propagate]\nmethod = "spectral"\nn_neighbors = 8\nn_components = 10\n'
        "[finetune]\nepochs = 2\nbatch_size = 16\n"
    )
    start = time.monotonic()
    proc = torchrun("run", str(config), "-o", str(tmp_path / "run"))
    assert proc.returncode != 0 and time.monotonic() - start < 120
    assert f"(process 0 of 2): image {bad} cannot be decoded" in proc.stderr
    assert not (tmp_path / "run").exists()


# -- the collectives, checked against one process in a two-process gloo group ----------------
def _in_group(rank: int, world: int, init: str, check) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        check()
    finally:
        dist.destroy_process_group()


def _spawn(check, tmp_path, world: int = 2) -> None:
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_in_group, args=(world, init, check), nprocs=world, join=True)


def _check_gathers() -> None:
    for n in (7, 8, 1):  # uneven shards, even shards, fewer rows than processes
        part = distributed.shard(n)
        rows = torch.arange(n, dtype=torch.float32)[part, None].repeat(1, 3)
        full = distributed.gather_rows(rows, n)
        assert torch.equal(full, torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3))


def _check_gradients_add_up() -> None:
    """A loss over the gathered batch (in-batch negatives), scaled by the number of processes:
    after DDP's mean over processes the gradient of a shared parameter is the one-process one."""
    torch.manual_seed(0)
    x = torch.randn(8, 3, dtype=torch.float64)
    theta = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)

    def loss(z):
        return torch.logsumexp(z @ z.T, dim=1).mean()

    local = x[distributed.shard(8, 8)] @ theta
    (loss(distributed.gather_batch_with_grad(local)) * distributed.world_size()).backward()
    grad = theta.grad.clone()
    dist.all_reduce(grad)  # DDP: the mean of the processes' gradients
    grad /= distributed.world_size()
    whole = theta.detach().clone().requires_grad_(True)
    loss(x @ whole).backward()
    torch.testing.assert_close(grad, whole.grad)


def _check_errors_reach_every_process() -> None:
    def refuse():
        raise InputError("bad data")

    with pytest.raises(InputError, match="bad data"):
        distributed.from_main(refuse)
    assert distributed.from_main(lambda: [distributed.rank(), "x"]) == [0, "x"]
    assert distributed.mean_of(float(distributed.rank())) == 0.5


@pytest.mark.parametrize(
    "check", [_check_gathers, _check_gradients_add_up, _check_errors_reach_every_process]
)
def test_collectives(check, tmp_path):
    _spawn(check, tmp_path)


def _train_with_a_bank(kind: str, out: Path) -> None:
    """Two epochs of a task with a memory bank; every process saves the bank it holds (and
    LLP's pseudo labels) beside the run. (Width 8: at width 4 the GroupNorm network is so
    sensitive that float32 rounding alone grows to 1e-2 in a few steps, in one process too.)"""
    images, truth = block_images(96, np.random.default_rng(0))
    images = images[..., None]
    stream = ImageStream(images, ShiftFlip(1), batch_size=16, seed=0)
    torch.manual_seed(0)
    if kind == "llp":
        labels = np.full(96, -1)
        labels[:9] = truth[:9]
        net = build_model("small-cnn-gn", 1, n_classes=3, embedding_dim=16, width=8)
        local = Pipeline("local", params={"n_density": 5, "n_voters": 3})
        task = LLPTask(
            stream,
            labels,
            3,
            stream.embed(net).numpy(),
            lambda bank: local.run(bank, labels, 3, calibrate=False),
        )
    else:
        net = build_model("small-cnn-gn", 1, embedding_dim=16, width=8)
        task = InstanceDiscrimination(
            stream, embedding_dim=16, objective="memory-bank", n_negatives=32
        )
    config = TrainConfig(epochs=2, lr=0.01, seed=0, progress=False, mixed_precision=False)
    train(net, task, config, out / "run")
    held = {"bank": task.bank.vectors}
    if kind == "llp":
        held |= {"pseudo": task.pseudo, "confidence": task.confidence}
    torch.save(held, out / f"{kind}-rank{distributed.rank()}-of-{distributed.world_size()}.pt")


@pytest.mark.parametrize("kind", ["llp", "instance"])
def test_every_process_holds_the_same_bank_and_pseudo_labels(kind, tmp_path):
    _spawn(functools.partial(_train_with_a_bank, kind, tmp_path / "two"), tmp_path)
    r0, r1 = (torch.load(tmp_path / "two" / f"{kind}-rank{r}-of-2.pt") for r in (0, 1))
    for name in r0:
        assert torch.equal(r0[name], r1[name]), name
    _train_with_a_bank(kind, tmp_path / "one")  # and the one-process run's
    one = torch.load(tmp_path / "one" / f"{kind}-rank0-of-1.pt")
    torch.testing.assert_close(r0["bank"], one["bank"], rtol=0, atol=1e-5)
    if kind == "llp":
        assert torch.equal(r0["pseudo"], one["pseudo"])


def test_one_process_is_the_identity():
    assert not distributed.active() and distributed.world_size() == 1 and distributed.is_main()
    x = torch.randn(5, 2)
    assert distributed.gather_rows(x, 5) is x and distributed.gather_batch_with_grad(x) is x
    assert distributed.shard(5) == slice(0, 5) and distributed.from_main(lambda: 3) == 3


def test_two_processes_differ_from_one_only_as_float_order_does(tmp_path):
    """Issue 27: on images with augmentation (digits, small-cnn-gn, fp32, 20 labels) 2
    processes match 1 process exactly for the first epoch and then drift. The drift is float
    order, not a systematic difference (sample order, augmentation draws, bank writes): one
    process with 1 thread instead of 2 (the same arithmetic summed in another order) drifts
    from it just as much, and every configuration repeats bitwise."""
    digits = Path(__file__).resolve().parents[1] / "src" / "deeplabelprop" / "configs" / "digits"
    settings = [
        "--set", "model=small-cnn-gn", "--set", "precision=fp32", "--set", "n_labeled=20",
        "--set", "metric.epochs=3", "--set", "finetune.epochs=1",
    ]  # fmt: skip
    args = ["run", str(digits / "dmt.toml"), *settings]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for name, threads in (("one, 2 threads", "2"), ("one, 1 thread", "1")):
        out = tmp_path / name.replace(", ", "-").replace(" ", "")
        command = [str(TORCHRUN.with_name("deeplabelprop")), *args, "-o", str(out)]
        done = subprocess.run(
            command, env={**env, "OMP_NUM_THREADS": threads}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        runs[name] = out
    done = subprocess.run(
        torchrun_command(*args, "-o", str(tmp_path / "two")),
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    runs["two"] = tmp_path / "two"
    losses = {
        k: [json.loads(line)["loss"] for line in open(p / "metric" / "metrics.jsonl")]
        for k, p in runs.items()
    }
    features = {k: np.load(p / "metric" / "features.npy") for k, p in runs.items()}
    one, other = losses["one, 2 threads"], losses["one, 1 thread"]
    assert len(one) == 3
    assert abs(losses["two"][0] - one[0]) < 1e-5  # the first epoch: the same updates
    float_order = np.abs(features["one, 2 threads"] - features["one, 1 thread"]).max()
    processes = np.abs(features["one, 2 threads"] - features["two"]).max()
    assert abs(other[0] - one[0]) < 1e-5
    assert float_order > 1e-4  # the setup does drift: a test that cannot fail proves nothing
    # the same order of magnitude (measured: 0.113 against 0.037 after 3 epochs, 0.27-0.33
    # against 0.28 after 12): the gradient all-reduce sums two float32 halves, a larger seed
    # for the same amplification than a change of thread count
    assert processes < 10 * float_order, (processes, float_order)
