"""Weighted (pseudo-)label classification through the training loop; the ImageStream subset."""

import numpy as np
import pytest
import torch

from deeplabelprop.data import ImageStream, ShiftFlip, load_dataset
from deeplabelprop.models import build_model
from deeplabelprop.train import (
    AccuracyMonitor,
    TrainConfig,
    WeightedClassification,
    train,
    weighted_cross_entropy,
)


def test_stream_batches_only_the_chosen_rows():
    images = np.zeros((50, 4, 4, 1), np.uint8)
    stream = ImageStream(images, ShiftFlip(shift=1), batch_size=8, indices=np.arange(10, 30))
    seen = [i for idx, *_ in stream.batches(0) for i in idx.tolist()]
    assert stream.steps_per_epoch == 2 and len(seen) == 16 and set(seen) <= set(range(10, 30))
    with pytest.raises(ValueError):
        ImageStream(images, ShiftFlip(), indices=np.array([], dtype=int))


def test_small_pool_is_cycled_to_the_epoch_size():
    images = np.zeros((50, 4, 4, 1), np.uint8)
    pool = np.arange(5, 15)
    stream = ImageStream(images, ShiftFlip(), batch_size=8, indices=pool, epoch_size=45)
    seen = np.array([i for idx, *_ in stream.batches(3) for i in idx.tolist()])
    # 45 // 8 = 5 steps of 8; every pool row appears 4 times in the 40 drawn (passes 1-4 complete)
    assert stream.steps_per_epoch == 5 and seen.size == 40
    assert np.array_equal(np.bincount(seen, minlength=50)[pool], np.full(10, 4))
    again = np.array([i for idx, *_ in stream.batches(3) for i in idx.tolist()])
    assert np.array_equal(seen, again)
    # a pool larger than the epoch size is passed over once, as without epoch_size
    plain = ImageStream(images, ShiftFlip(), batch_size=8, indices=pool, epoch_size=3)
    assert plain.steps_per_epoch == 1


def test_loss_is_the_weighted_formula_on_the_batch():
    digits = load_dataset("digits")
    stream = ImageStream(
        digits.images, ShiftFlip(shift=1), batch_size=32, normalization=digits.normalization
    )
    weights = np.linspace(0, 1, len(digits.labels))
    zeta = np.arange(1, 11, dtype=np.float32) / 5.5
    task = WeightedClassification(
        stream, digits.labels, example_weights=weights, class_weights=zeta
    )
    torch.manual_seed(0)
    model = build_model("small-cnn", 1, n_classes=10, width=4)
    batch = next(iter(task.batches(0)))
    idx, gen = batch.index, batch.generator
    state = gen.get_state()
    loss, _ = task.loss(model, batch, 0)
    gen.set_state(state)  # the same augmentation draw
    logits = model(stream.view(batch))
    expected = weighted_cross_entropy(
        logits,
        torch.as_tensor(digits.labels)[idx],
        torch.as_tensor(weights, dtype=torch.float32)[idx],
        torch.as_tensor(zeta),
    )
    torch.testing.assert_close(loss, expected)


def test_training_on_labels_learns(tmp_path):
    digits = load_dataset("digits")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(digits.labels))
    train_idx, test_idx = order[:1500], order[1500:]
    stream = ImageStream(
        digits.images,
        ShiftFlip(shift=1),
        batch_size=64,
        normalization=digits.normalization,
        indices=train_idx,
    )
    monitor = AccuracyMonitor(digits.images[test_idx], digits.labels[test_idx])
    task = WeightedClassification(stream, digits.labels, monitor=monitor)
    torch.manual_seed(0)
    model = build_model("small-cnn", 1, n_classes=10, width=8)
    metrics = train(model, task, TrainConfig(epochs=6, lr=0.1, progress=False), tmp_path)
    assert metrics["test_accuracy"] > 0.8  # chance is 0.1
