"""Images per second of ``embed`` (issue 21) for this package's small-cnn, a torchvision-layout
ResNet-18 and a ViT-S-sized DINOv2 (``hf:``), each at its native input size, decoding a folder
of JPEG photos (640 × 480) with 0 and 2 DataLoader workers. Random weights: the speed is that of
real ones.

    .venv/bin/python benchmarks/embed_speed.py --n 256 --out /tmp/embed_speed.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import machine
from PIL import Image

from deeplabelprop.data import LoadOptions, load_dataset
from deeplabelprop.models import build_model
from deeplabelprop.models.embed import embed_dataset
from deeplabelprop.models.pretrained import load_pretrained
from deeplabelprop.models.saved import Preprocessing, save_model


def photo_folder(root: Path, n: int) -> Path:
    """n smooth random 640 × 480 JPEGs under root/unlabeled/, three labeled ones."""
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        im = Image.fromarray(small).resize((640, 480), Image.BICUBIC)
        where = root / ("labeled/a" if i < 3 else "unlabeled")
        where.mkdir(parents=True, exist_ok=True)
        im.save(where / f"{i:05d}.jpg", quality=90)
    return root


def models(tmp: Path) -> dict[str, str]:
    torch.manual_seed(0)
    cnn = build_model("small-cnn", 3)
    save_model(
        tmp / "small-cnn.pt",
        cnn,
        {
            "name": "small-cnn",
            "in_channels": 3,
            "n_classes": None,
            "embedding_dim": 128,
            "width": None,
        },
        Preprocessing((32, 32), 3, (0.5,) * 3, (0.25,) * 3),
    )
    from deeplabelprop.models.resnet import resnet18

    net = resnet18(3, "imagenet")
    # this package's keys written back in torchvision's layout (the loader maps them again)
    names = {"stem.0": "conv1", "stem.1": "bn1"}
    tv = {}
    starts = [0, 2, 4, 6]
    for key, value in net.state_dict().items():
        head = ".".join(key.split(".")[:2])
        if head in names:
            tv[key.replace(head, names[head], 1)] = value
        else:
            k = int(key.split(".")[1])
            stage = max(i for i, s in enumerate(starts) if s <= k)
            rest = ".".join(key.split(".")[2:]).replace("down.", "downsample.")
            tv[f"layer{stage + 1}.{k - starts[stage]}.{rest}"] = value
    torch.save(tv, tmp / "resnet18.pth")
    import transformers

    config = transformers.Dinov2Config(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        intermediate_size=1536,
        image_size=224,
        patch_size=14,
    )
    transformers.Dinov2Model(config).save_pretrained(tmp / "vit-s")
    transformers.BitImageProcessor(
        size={"shortest_edge": 256},
        crop_size={"height": 224, "width": 224},
        do_center_crop=True,
        resample=3,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(tmp / "vit-s")
    return {
        "small-cnn (32 px)": f"encoder:{tmp / 'small-cnn.pt'}",
        "resnet18 (224 px)": f"resnet18:{tmp / 'resnet18.pth'}",
        "ViT-S/14 DINOv2-sized (224 px)": f"hf:{tmp / 'vit-s'}",
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--out")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = photo_folder(tmp / "photos", args.n)
        for name, spec in models(tmp).items():
            model = load_pretrained(spec)
            pre = model.preprocessing
            opts = LoadOptions(
                cache="none", size=pre.size, channels=3, normalization=(pre.mean, pre.std)
            )
            data = load_dataset(f"folder:{root}", options=opts)
            runs = [(w, False) for w in args.workers] + [(max(args.workers), True)]
            fp32 = None
            for workers, bf16 in runs:
                out = tmp / f"f{len(rows)}.npy"
                start = time.perf_counter()
                feats = embed_dataset(
                    model, data, out, batch_size=64, num_workers=workers, bfloat16=bf16
                )
                s = time.perf_counter() - start
                fp32 = feats if fp32 is None else fp32
                cosine = float((feats * fp32).sum(1).min())  # unit rows: the worst agreement
                rows.append(
                    {
                        "model": name,
                        "workers": workers,
                        "bfloat16": bf16,
                        "seconds": s,
                        "images_per_second": args.n / s,
                        "min_cosine_to_fp32": cosine,
                    }
                )
                print(
                    f"{name:32s} {workers} workers {'bf16' if bf16 else 'fp32'}: "
                    f"{args.n / s:7.1f} images/s (cosine to fp32 >= {cosine:.5f})",
                    flush=True,
                )
    print(machine())
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
