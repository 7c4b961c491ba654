"""Pretrained backbones (issue 21): each spec loads real weights through its library, the
preprocessing is the model's own (pixel for pixel), the key mapping of torchvision's ResNet is
complete and exact, and a killed embedding resumes to the same features."""

import json
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from deeplabelprop.data import LoadOptions, load_dataset
from deeplabelprop.data.arrays import load_labels
from deeplabelprop.data.images.augment import normalize, to_tensor
from deeplabelprop.data.images.files import decode_image
from deeplabelprop.errors import InputError
from deeplabelprop.models import build_model
from deeplabelprop.models.embed import embed_dataset
from deeplabelprop.models.pretrained import (
    TORCHVISION_IMAGENET,
    fit_tensor,
    load_pretrained,
    pretrained_network,
)
from deeplabelprop.models.resnet import resnet18, resnet50
from deeplabelprop.models.saved import Preprocessing, save_model
from tests.data.test_folder import user_folder

transformers = pytest.importorskip("transformers", reason="the hub extra: make hub")


def tiny_dinov2(folder, *, seed=0):
    """A 2-layer DINOv2 (random weights) and a BiT processor (resize 36, crop 32, bicubic),
    saved as a hub folder."""
    config = transformers.Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
    )
    torch.manual_seed(seed)
    transformers.Dinov2Model(config).save_pretrained(folder)
    transformers.BitImageProcessor(
        size={"shortest_edge": 36},
        crop_size={"height": 32, "width": 32},
        do_center_crop=True,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
        resample=3,
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def dino(tmp_path_factory):
    return tiny_dinov2(tmp_path_factory.mktemp("hub") / "tiny-dinov2")


def processor_pixels(folder, files):
    processor = transformers.AutoImageProcessor.from_pretrained(folder)
    return processor(images=[Image.open(f) for f in files], return_tensors="pt")["pixel_values"]


def image_files(tmp_path, shapes, seed=0):
    rng = np.random.default_rng(seed)
    files = []
    for i, shape in enumerate(shapes):
        files.append(tmp_path / f"img{i}.png")
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(files[-1])
    return files


def ours(model, files):
    pre = model.preprocessing
    pixels = np.stack(
        [decode_image(f, pre.size, 3, pre.resize, pre.short_side, pre.interpolation) for f in files]
    )
    return normalize(to_tensor(pixels), pre.mean, pre.std)


def test_hf_preprocessing_is_the_processors_pixel_for_pixel(dino, tmp_path):
    model = load_pretrained(f"hf:{dino}")
    pre = model.preprocessing
    assert (pre.size, pre.short_side, pre.interpolation) == ((32, 32), 36, "bicubic")
    files = image_files(tmp_path, [(50, 70, 3), (70, 50, 3), (36, 36, 3), (200, 33, 3), (9, 9, 3)])
    Image.open(files[0]).convert("L").save(tmp_path / "grey.png")  # grey comes back as RGB
    Image.open(files[1]).convert("RGBA").save(tmp_path / "rgba.png")
    files += [tmp_path / "grey.png", tmp_path / "rgba.png"]
    torch.testing.assert_close(ours(model, files), processor_pixels(dino, files), atol=1e-6, rtol=0)


def test_hf_embedding_is_the_models_own_output(dino, tmp_path):
    files = image_files(tmp_path, [(40, 60, 3), (33, 33, 3), (64, 48, 3)])
    pixels = processor_pixels(dino, files)
    own = transformers.AutoModel.from_pretrained(dino).eval()
    with torch.no_grad():
        out = own(pixel_values=pixels)
        expected = {
            "auto": out.pooler_output,  # DINOv2: the layer-normed CLS token
            "pooled": out.pooler_output,
            "cls": out.last_hidden_state[:, 0],
            "mean": out.last_hidden_state[:, 1:].mean(dim=1),
        }
        for pooling, want in expected.items():
            model = load_pretrained(f"hf:{dino}", pooling)
            torch.testing.assert_close(model(pixels), F.normalize(want, dim=1))
    assert model.out_dim == 32 and model.spec == f"hf:{dino}"


def test_hf_squash_processor_and_refused_processors(tmp_path):
    folder = tmp_path / "vit"
    config = transformers.ViTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=24,
        patch_size=8,
    )
    transformers.ViTModel(config).save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 24, "width": 24}, resample=2).save_pretrained(
        folder
    )
    model = load_pretrained(f"hf:{folder}")
    assert (model.preprocessing.resize, model.preprocessing.size) == ("squash", (24, 24))
    files = image_files(tmp_path, [(50, 70, 3), (10, 31, 3)])
    torch.testing.assert_close(
        ours(model, files), processor_pixels(folder, files), atol=1e-6, rtol=0
    )
    transformers.ViTImageProcessor(size={"height": 24, "width": 24}, resample=0).save_pretrained(
        folder
    )
    with pytest.raises(InputError, match="resample code 0.*torchscript"):
        load_pretrained(f"hf:{folder}")


def test_a_hub_name_that_is_not_cached_fails_at_once_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        load_pretrained("hf:some-org/not-cached-model")
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert "\n" not in message and "save_pretrained" in message and "HF_HUB_OFFLINE" in message
    # no network (nothing listens here): refused at once, not after the hub's retries
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"127.0.0.1:9 cannot be reached\); give a folder"):
        load_pretrained("hf:some-org/not-cached-model")
    assert time.perf_counter() - start < 5
    with pytest.raises(InputError, match="pooling must be one of"):
        load_pretrained("hf:x", "max")
    with pytest.raises(InputError, match="unknown kind 'onnx'"):
        load_pretrained("onnx:model.onnx")


def torchvision_names(blocks, bottleneck):
    """The state-dict keys of torchvision's ResNet, in its order (its published layout)."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    names = ["conv1.weight", *(f"bn1.{k}" for k in bn)]
    convs = 3 if bottleneck else 2
    for stage, n in enumerate(blocks, start=1):
        for j in range(n):
            prefix = f"layer{stage}.{j}"
            for c in range(1, convs + 1):
                names += [f"{prefix}.conv{c}.weight", *(f"{prefix}.bn{c}.{k}" for k in bn)]
            if j == 0 and (stage > 1 or bottleneck):
                names += [
                    f"{prefix}.downsample.0.weight",
                    *(f"{prefix}.downsample.1.{k}" for k in bn),
                ]
    return names + ["fc.weight", "fc.bias"]


@pytest.mark.parametrize(
    ("arch", "build", "blocks", "bottleneck"),
    [("resnet18", resnet18, [2, 2, 2, 2], False), ("resnet50", resnet50, [3, 4, 6, 3], True)],
)
def test_torchvision_resnet_weights_load_by_the_key_mapping(
    tmp_path, arch, build, blocks, bottleneck
):
    torch.manual_seed(0)
    net = build(3, "imagenet").eval()
    for m in net.modules():  # batch-norm statistics that are not the defaults
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    values = list(net.state_dict().values())
    names = torchvision_names(blocks, bottleneck)
    fc = {"fc.weight": torch.randn(1000, net.out_dim), "fc.bias": torch.randn(1000)}
    assert len(names) == len(values) + 2
    torchvision = dict(zip(names[:-2], values, strict=True)) | fc
    torch.save(torchvision, tmp_path / "weights.pth")
    model = load_pretrained(f"{arch}:{tmp_path / 'weights.pth'}")
    assert model.preprocessing == TORCHVISION_IMAGENET
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), F.normalize(net(x), dim=1))
    torchvision["layer1.0.conv1.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(torchvision, tmp_path / "bad.pth")
    with pytest.raises(InputError, match=r"layers\.0\.conv1\.weight has shape \(3, 3, 3, 3\)"):
        load_pretrained(f"{arch}:{tmp_path / 'bad.pth'}")


def test_torchscript_with_its_preprocessing(tmp_path):
    torch.manual_seed(0)
    body = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
    )
    scripted = torch.jit.script(body)
    meta = {"size": [20, 20], "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2], "short_side": 24}
    torch.jit.save(
        scripted, tmp_path / "m.pt", _extra_files={"preprocessing.json": json.dumps(meta)}
    )
    model = load_pretrained(f"torchscript:{tmp_path / 'm.pt'}")
    assert model.preprocessing.short_side == 24 and model.out_dim == 4
    x = torch.randn(3, 3, 20, 20)
    with torch.no_grad():
        torch.testing.assert_close(model(x), F.normalize(body(x), dim=1))
    torch.jit.save(scripted, tmp_path / "bare.pt")
    with pytest.raises(InputError, match="no preprocessing.json"):
        load_pretrained(f"torchscript:{tmp_path / 'bare.pt'}")


def test_fit_tensor_crops_like_the_decoder():
    pre = Preprocessing((4, 4), 3, (0, 0, 0), (1, 1, 1), "crop", None, "bilinear")
    x = torch.arange(2 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    out = fit_tensor(x, pre)
    assert out.shape == (2, 3, 4, 4)  # grey repeated, the shorter side scaled to 4
    torch.testing.assert_close(out[:, 0], out[:, 2])
    wide = fit_tensor(torch.ones(1, 3, 4, 8), pre)
    assert wide.shape == (1, 3, 4, 4)


def test_our_encoder_and_the_identity_head(tmp_path):
    torch.manual_seed(0)
    net = build_model("small-cnn", 1, embedding_dim=16).eval()
    save_model(
        tmp_path / "encoder.pt",
        net,
        {
            "name": "small-cnn",
            "in_channels": 1,
            "n_classes": None,
            "embedding_dim": 16,
            "width": None,
        },
        Preprocessing((12, 12), 1, (0.5,), (0.25,)),
    )
    model = load_pretrained(f"encoder:{tmp_path / 'encoder.pt'}")
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(model(x), net.embed(x))
        wrapped = pretrained_network(f"encoder:{tmp_path / 'encoder.pt'}", n_classes=3).eval()
        torch.testing.assert_close(wrapped.embed(x), model(x))  # the identity head keeps it


class Killed(Exception):
    """Raised by :class:`DiesAfter` in place of a killed process."""


class DiesAfter(torch.nn.Module):
    """The model, dying on its ``n``-th batch (a killed process)."""

    def __init__(self, model, n):
        super().__init__()
        self.model, self.n, self.calls = model, n, 0
        self.preprocessing, self.spec = model.preprocessing, model.spec
        self.pooling, self.out_dim = model.pooling, model.out_dim

    def forward(self, x):
        self.calls += 1
        if self.calls == self.n:
            raise Killed
        return self.model(x)


def test_embed_a_folder_killed_and_rerun_is_the_uninterrupted_file(dino, tmp_path):
    root = user_folder(tmp_path / "photos")
    data = load_dataset(f"folder:{root}", options=LoadOptions(cache="none", size=(32, 32)))
    model = load_pretrained(f"hf:{dino}")
    whole = embed_dataset(model, data, tmp_path / "whole.npz", batch_size=8, chunk_rows=24)
    with pytest.raises(Killed):
        embed_dataset(DiesAfter(model, 7), data, tmp_path / "f.npz", batch_size=8, chunk_rows=24)
    parts = tmp_path / ".f.npz.parts"
    assert sorted(p.name for p in parts.glob("chunk-*")) == ["chunk-000000.npy", "chunk-000001.npy"]
    assert not (tmp_path / "f.npz").exists()
    counting, stats = DiesAfter(model, -1), {}
    embed_dataset(counting, data, tmp_path / "f.npz", batch_size=8, chunk_rows=24, stats=stats)
    assert counting.calls == 6  # 90 rows: the two chunks of 24 done before are not redone
    assert stats == {"embedded": 42, "earlier": 48}
    assert not parts.exists()
    with np.load(tmp_path / "f.npz") as a, np.load(tmp_path / "whole.npz") as b:
        assert a.files == b.files
        for key in a.files:
            assert np.array_equal(a[key], b[key]), key
        # the files are the processor's images through the model
        pixels = processor_pixels(dino, [root / p for p in a["paths"][:5]])
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(a["features"][:5]), model(pixels))
    assert np.array_equal(whole, np.load(tmp_path / "whole.npz")["features"])
    names = load_labels(tmp_path / "f.npz", len(data))
    assert list(names[:3]) == [data.classes[c] for c in data.labels[:3]] and names[-1] is None


def test_embed_refuses_chunks_of_other_work(dino, tmp_path):
    root = user_folder(tmp_path / "photos")
    data = load_dataset(f"folder:{root}", options=LoadOptions(cache="none", size=(32, 32)))
    model = load_pretrained(f"hf:{dino}")
    with pytest.raises(Killed):
        embed_dataset(DiesAfter(model, 2), data, tmp_path / "f.npz", batch_size=8, chunk_rows=8)
    with pytest.raises(InputError, match="other chunk_rows; delete it"):
        embed_dataset(model, data, tmp_path / "f.npz", batch_size=8, chunk_rows=16)
    with pytest.raises(InputError, match=r"write \.npz"):
        embed_dataset(model, data, tmp_path / "f.csv")
    assert not (tmp_path / "f.csv").exists()


def test_embed_then_propagate_from_the_command_line(dino, tmp_path, capsys):
    from deeplabelprop.cli import main

    root = user_folder(tmp_path / "photos")
    out = tmp_path / "features.npz"
    assert main(["embed", f"folder:{root}", "--model", f"hf:{dino}", "-o", str(out)]) == 0
    assert "embedded 90 images" in capsys.readouterr().out
    with np.load(out) as z:
        assert z["features"].shape == (90, 32) and str(z["model"]) == f"hf:{dino}"
        assert list(z["classes"]) == ["one", "two", "zero"] and (z["labels"] >= 0).sum() == 9
    assert (
        main(
            [
                "embed",
                f"folder:{root}",
                "--model",
                f"hf:{dino}",
                "--split",
                "test",
                "-o",
                str(tmp_path / "test.npy"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "test.npy").shape == (30, 32)
    assert main(["propagate", str(out), str(out), "-o", str(tmp_path / "pseudo.npz")]) == 0
    rows = (tmp_path / "pseudo.csv").read_text().splitlines()
    assert len(rows) == 91 and rows[1].split(",")[1].startswith("labeled/")
    assert (
        main(["embed", f"folder:{root}", "--model", f"hf:{dino}", "-o", str(tmp_path / "f.txt")])
        == 2
    )
    assert "write .npz" in capsys.readouterr().err and not (tmp_path / "f.txt").exists()


def test_hf_convnext_crop_pct_and_its_pooled_output(tmp_path):
    folder = tmp_path / "convnext"
    config = transformers.ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)
    transformers.ConvNextModel(config).save_pretrained(folder)
    transformers.ConvNextImageProcessor(
        size={"shortest_edge": 32}, crop_pct=0.875, resample=3
    ).save_pretrained(folder)
    model = load_pretrained(f"hf:{folder}")
    assert (model.preprocessing.size, model.preprocessing.short_side) == ((32, 32), 36)
    files = image_files(tmp_path, [(50, 70, 3), (70, 50, 3), (36, 36, 3)])
    pixels = processor_pixels(folder, files)
    torch.testing.assert_close(ours(model, files), pixels, atol=1e-6, rtol=0)
    own = transformers.AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model(pixels), F.normalize(own(pixel_values=pixels).pooler_output, dim=1)
        )
        mean = load_pretrained(f"hf:{folder}", "mean")(pixels)  # the spatial mean of the last map
        want = own(pixel_values=pixels).last_hidden_state.mean(dim=(2, 3))
        torch.testing.assert_close(mean, F.normalize(want, dim=1))


def test_hf_clip_gives_its_image_embedding(tmp_path):
    folder = tmp_path / "clip"
    small = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = transformers.CLIPConfig(
        text_config={**small, "intermediate_size": 32, "vocab_size": 100},
        vision_config={**small, "intermediate_size": 32, "image_size": 32, "patch_size": 8},
        projection_dim=12,
    )
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(folder)
    transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    model = load_pretrained(f"hf:{folder}")
    own = transformers.AutoModel.from_pretrained(folder).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():  # CLIP's image features: the projected pooled vision output
        want = own.visual_projection(own.vision_model(pixel_values=x).pooler_output)
        torch.testing.assert_close(model(x), F.normalize(want, dim=1))
    assert model.out_dim == 12
