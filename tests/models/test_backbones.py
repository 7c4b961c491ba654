"""Every backbone: output shapes, unit embeddings, classifier logits (issue 4)."""

import pytest
import torch

from deeplabelprop import InputError
from deeplabelprop.models import BACKBONES, build_model

INPUTS = {
    "small-cnn": (1, 28),
    "small-cnn-gn": (1, 28),
    "conv4": (3, 32),
    "conv13": (3, 32),
    "wrn-28-2": (3, 32),
    "wrn-28-10": (3, 32),
    "resnet18": (3, 32),
    "resnet18-imagenet": (3, 64),
    "resnet50": (3, 32),
    "resnet50-imagenet": (3, 64),
}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_shapes_and_unit_embeddings(name):
    channels, size = INPUTS[name]
    torch.manual_seed(0)
    model = build_model(name, channels, n_classes=7, embedding_dim=32).eval()
    x = torch.randn(2, channels, size, size)
    with torch.no_grad():
        emb, logits = model.heads(x)
        assert emb.shape == (2, 32) and logits.shape == (2, 7)
        torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))
        torch.testing.assert_close(model.embed(x), emb)
        torch.testing.assert_close(model(x), logits)
        assert model.features(x).shape == (2, model.backbone.out_dim)


def test_without_classifier_forward_is_the_embedding():
    model = build_model("small-cnn", 1, width=8).eval()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.embed(x))
    model.set_classifier(4)
    assert model(x).shape == (3, 4)


def test_unknown_model():
    with pytest.raises(InputError, match="unknown model"):
        build_model("vit-h", 3)
