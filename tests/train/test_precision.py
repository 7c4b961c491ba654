"""bfloat16 autocast, full-precision losses and channels-last layout (train/precision.py)."""

import torch

from deeplabelprop.models import build_model
from deeplabelprop.pretrain.losses import two_view_loss
from deeplabelprop.train.aggregation import aggregation_loss
from deeplabelprop.train.losses import weighted_cross_entropy
from deeplabelprop.train.precision import channels_last, full_precision, use_autocast


def unit(n, d, seed):
    return torch.nn.functional.normalize(
        torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1
    )


def test_explicit_setting_wins():
    cpu = torch.device("cpu")
    assert use_autocast(True, cpu) is True and use_autocast(False, cpu) is False


def test_losses_under_autocast_equal_their_float32_values():
    z1, z2, bank = unit(64, 32, 0), unit(64, 32, 1), unit(500, 32, 2)
    labels = torch.randint(0, 5, (500,), generator=torch.Generator().manual_seed(3))
    targets = labels[:64]
    logits = torch.randn(64, 5, generator=torch.Generator().manual_seed(4))
    cases = [
        (two_view_loss, (z1, z2, 0.1)),
        (aggregation_loss, (z1, bank, labels, targets, 0.07)),
        (weighted_cross_entropy, (logits, targets)),
    ]
    for loss, args in cases:
        ref = loss(*args)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = loss(*args)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, ref, rtol=0, atol=0)


def test_without_the_wrapper_autocast_would_round_the_similarities():
    """The property the wrapper exists for: bfloat16 similarities change a τ = 0.1 loss."""
    z1, z2 = unit(64, 32, 0), unit(64, 32, 1)
    raw = two_view_loss.__wrapped__
    ref = raw(z1, z2, 0.1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rounded = raw(z1, z2, 0.1)
    assert abs(float(rounded) - float(ref)) > 1e-4


def test_full_precision_upcasts_half_precision_tensors_only():
    seen = {}

    @full_precision
    def probe(a, k, d, *, b, name):
        on = torch.is_autocast_enabled("cpu")
        seen.update(a=a.dtype, k=k.dtype, d=d.dtype, b=b.dtype, name=name, on=on)
        return a.sum()

    a, d = torch.ones(3, dtype=torch.bfloat16), torch.ones(3, dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        probe(a, torch.arange(3), d, b=torch.ones(2, dtype=torch.float16), name="x")
    expected = dict(a=torch.float32, k=torch.int64, d=torch.float64, b=torch.float32, name="x")
    assert seen == {**expected, "on": False}


def test_channels_last_keeps_outputs():
    torch.manual_seed(0)
    model = build_model("small-cnn", 1, width=4, embedding_dim=8).eval()
    x = torch.rand(5, 1, 16, 16)
    before = model.embed(x)
    channels_last(model)
    conv = model.backbone.body[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model.embed(x), before, rtol=1e-5, atol=1e-5)
