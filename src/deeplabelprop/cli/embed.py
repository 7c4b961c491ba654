"""``deeplabelprop embed DATASET --model SPEC -o features.npz``: a data set's images through a
pretrained model (Hugging Face, TorchScript, torchvision ResNet weights, an encoder.pt), as
``propagate`` reads them."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

NAME = "embed"
HELP = "embed a data set's images with a pretrained model; writes features (.npz or .npy)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..data import datasets
    from ..models.pretrained import POOLINGS

    p.add_argument("dataset", help=", ".join(sorted(e.usage for e in datasets().values())))
    p.add_argument(
        "--model",
        required=True,
        help="hf:NAME_OR_PATH, torchscript:PATH, resnet18:PATH, resnet50:PATH (torchvision "
        "ImageNet weights) or encoder:PATH",
    )
    p.add_argument(
        "-o", "--output", type=Path, required=True, help=".npz (with labels, paths) or .npy"
    )
    p.add_argument("--split", choices=["train", "test"], default="train", help="which images")
    p.add_argument("--pooling", choices=POOLINGS, default="auto", help="hf: the embedding taken")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers that decode")
    p.add_argument("--chunk-rows", type=int, default=4096, help="images per resumable chunk")
    p.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        default="auto",
        help="auto: bfloat16 autocast where the device runs it natively (1.5x for a ViT-S on such "
        "a CPU, benchmarks/RESULTS.md), else float32",
    )
    p.add_argument("--data-dir", type=Path, help="where the data set's files are")
    p.add_argument("--labels", help="a path,label CSV naming a folder's labeled images")
    p.add_argument(
        "--unreadable", choices=["stop", "skip"], default="stop", help="files that cannot be read"
    )
    p.add_argument("--image-column", default="image", help="parquet: / arrow: image column")
    p.add_argument("--label-column", default="label", help="parquet: / arrow: label column")
    p.add_argument("--key-column", help="parquet: / arrow: the column that keys each sample")


def use_bfloat16(precision: str, device: str) -> bool:
    """``--precision``: bf16, fp32, or auto (bfloat16 where the device has it natively)."""
    import torch

    from ..train.precision import native_bfloat16

    chosen = {"auto": None, "bf16": True, "fp32": False}[precision]
    return native_bfloat16(torch.device(device)) if chosen is None else chosen


def main(args: argparse.Namespace) -> int:
    from ..data import LoadOptions, dataset_entry
    from ..data.problem.problem import train_and_test
    from ..errors import InputError
    from ..graph.knn import default_device
    from ..models.embed import OUTPUT_SUFFIXES, embed_dataset
    from ..models.pretrained import load_pretrained

    if args.output.suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"-o {args.output}: write .npz (features with labels and paths) or .npy")
    from .. import distributed

    device = distributed.device_for_rank(args.device or default_device())
    bfloat16 = use_bfloat16(args.precision, device)
    model = load_pretrained(args.model, args.pooling)
    pre = model.preprocessing
    files = dataset_entry(args.dataset)[0].files  # decoded at the model's size, not the set's
    options = LoadOptions(
        size=tuple(pre.size) if files else None,
        channels=pre.channels if files else None,
        data_dir=str(args.data_dir) if args.data_dir else None,
        labels=args.labels,
        unreadable=args.unreadable,
        image_column=args.image_column,
        label_column=args.label_column,
        key_column=args.key_column,
        cache="none",  # files are decoded once, at the model's own input size
        num_workers=args.num_workers,
        normalization=(pre.mean, pre.std),
        progress=sys.stderr.isatty(),
    )
    train, test, notes = train_and_test(args.dataset, options)
    for note in notes:
        print(note)
    data = train if args.split == "train" else test
    if data is None:
        raise InputError(f"{args.dataset} has no test images; embed --split train")
    start = time.perf_counter()
    stats: dict = {}
    features = embed_dataset(
        model,
        data,
        args.output,
        device=device,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        chunk_rows=args.chunk_rows,
        bfloat16=bfloat16,
        progress=sys.stderr.isatty(),
        stats=stats,
    )
    seconds = time.perf_counter() - start
    precision = " (bfloat16)" if bfloat16 else ""
    resumed = f", {stats['earlier']} from an earlier run" if stats["earlier"] else ""
    print(
        f"embedded {features.shape[0]} images of {data.name} ({args.split}) with {args.model}: "
        f"{features.shape[1]} dimensions, {stats['embedded'] / seconds:.1f} images/s on "
        f"{device}{precision}{resumed}; wrote {args.output}"
    )
    return 0
