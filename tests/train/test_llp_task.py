"""LLP's training pieces (issue 7): the aggregation loss, the NN accuracy and the task's loss;
the pseudo labels come from any registered method (issue 16)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deeplabelprop.data import ImageStream, ShiftFlip, load_dataset
from deeplabelprop.evaluate.metrics import nearest_neighbor_accuracy
from deeplabelprop.models import build_model
from deeplabelprop.propagation import Pipeline
from deeplabelprop.propagation.local import labeled_log_density, local_votes
from deeplabelprop.train.aggregation import aggregation_loss
from deeplabelprop.train.llp_task import LLPTask


@pytest.mark.parametrize("tau", [0.1, 0.02])  # 0.02: the masked log-sum-exp path
def test_aggregation_loss_matches_its_formula(tau):
    g = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(40, 6, generator=g), dim=1)
    bank_labels = torch.randint(0, 3, (40,), generator=g)
    emb = F.normalize(torch.randn(5, 6, generator=g), dim=1)
    targets = torch.tensor([0, 1, 2, 1, 0])
    got = aggregation_loss(emb, bank, bank_labels, targets, tau=tau)
    for b in range(5):  # LLP eq. (1)-(3) term by term
        p = [np.exp(float(bank[i] @ emb[b]) / tau) for i in range(40)]
        p_a = sum(p[i] for i in range(40) if bank_labels[i] == targets[b]) / sum(p)
        assert float(got[b]) == pytest.approx(-np.log(p_a), rel=1e-5, abs=2e-5)


def test_nearest_neighbor_accuracy_by_brute_force():
    rng = np.random.default_rng(1)
    bank = F.normalize(torch.from_numpy(rng.normal(size=(30, 4))).float(), dim=1)
    labels = torch.from_numpy(rng.integers(0, 3, 30))
    q = F.normalize(torch.from_numpy(rng.normal(size=(12, 4))).float(), dim=1)
    truth = rng.integers(0, 3, 12)
    pred = [
        int(labels[int(np.argmax([float(q[i] @ bank[j]) for j in range(30)]))]) for i in range(12)
    ]
    expected = np.mean(np.array(pred) == truth)
    assert nearest_neighbor_accuracy(q, bank, labels, truth, block=5) == pytest.approx(expected)


@pytest.fixture(scope="module")
def digits_task():
    d = load_dataset("digits")
    n = 200
    y = np.full(n, -1)
    y[:30] = d.labels[:30]
    rng = np.random.default_rng(0)
    stream = ImageStream(
        d.images[:n], ShiftFlip(shift=1), batch_size=32, normalization=d.normalization
    )
    bank = rng.normal(size=(n, 128)).astype(np.float32)
    return d, y, stream, bank


def make_task(digits_task, weight="own", **kw):
    d, y, stream, bank = digits_task
    settings = Pipeline("local", weight, {"n_voters": 5, "n_density": 8})
    return LLPTask(
        stream, y, 10, bank, lambda b: settings.run(b, y, 10), truth=d.labels[:200], **kw
    )


def test_epoch_pseudo_labels_are_the_density_weighted_votes(digits_task):
    task = make_task(digits_task)
    task.begin_epoch(None, 0)
    bank = task.bank.vectors
    lab = torch.from_numpy(np.flatnonzero(digits_task[1] >= 0))
    log_rho = labeled_log_density(bank, lab, tau=0.07, n_density=8)
    p = local_votes(
        bank, lab, torch.from_numpy(digits_task[1][lab.numpy()]), log_rho, 10, n_voters=5
    )
    conf, pseudo = p.max(1)
    unl = digits_task[1] < 0
    assert torch.equal(task.pseudo[unl], pseudo[unl])
    # the bank is re-normalised on the way through the propagator: equal up to float32 rounding
    torch.testing.assert_close(task.confidence[unl], conf[unl].float(), rtol=1e-4, atol=1e-5)
    assert (task.confidence[~unl] == 1).all()
    assert torch.equal(task.pseudo[~unl], torch.from_numpy(digits_task[1][~unl]))
    truth = digits_task[0].labels[:200]
    expected = float(np.mean(pseudo[unl].numpy() == truth[unl]))
    assert task.epoch_info["pseudo_label_accuracy"] == pytest.approx(expected)


def test_loss_is_confidence_times_category_plus_aggregation(digits_task):
    torch.manual_seed(0)
    model = build_model("small-cnn", 1, n_classes=10, width=4)
    model.eval()  # batch-norm in eval: the same outputs in every call below
    batch = next(iter(make_task(digits_task).batches(0)))
    idx = batch.index
    parts = {}
    for name, kw in {
        "full": {},
        "no_conf": {"weight": "uniform"},
        "no_ce": {"category_loss": False},
    }.items():
        task = make_task(digits_task, **kw)
        task.begin_epoch(model, 0)
        loss, _ = task.loss(model, batch._replace(generator=torch.Generator().manual_seed(5)), 0)
        parts[name] = float(loss.detach())
    with torch.no_grad():
        emb, logits = model.heads(
            task.stream.view(batch._replace(generator=torch.Generator().manual_seed(5)))
        )
        targets = task.pseudo[idx]
        agg = aggregation_loss(emb, task.bank.vectors, task.pseudo, targets, 0.07)
        ce = F.cross_entropy(logits, targets, reduction="none")
    c = task.confidence[idx]
    assert parts["full"] == pytest.approx(float((c * (ce + agg)).mean()), rel=1e-5)
    assert parts["no_conf"] == pytest.approx(float((ce + agg).mean()), rel=1e-5)
    assert parts["no_ce"] == pytest.approx(float((c * agg).mean()), rel=1e-5)
