"""CIFAR-10 / CIFAR-100 in the official python pickle format (folder or .tar.gz)."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ...errors import InputError
from ..images.dataset import ImageDataset
from .options import LoadOptions
from .registry import register_dataset

LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "archive": "cifar-10-python.tar.gz",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "normalization": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "archive": "cifar-100-python.tar.gz",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "normalization": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    },
}


class _SafeUnpickler(pickle.Unpickler):
    """CIFAR pickles hold only dicts, lists, bytes and NumPy arrays: refuse anything else."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(data: bytes, source: str) -> dict:
    try:
        obj = _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:
        raise InputError(f"{source} is not a CIFAR pickle ({exc})") from exc
    if not isinstance(obj, dict):
        raise InputError(f"{source} is not a CIFAR pickle (holds {type(obj).__name__}, not a dict)")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _read_members(root: Path, layout: dict, names: list[str]) -> dict[str, bytes]:
    folder = root / layout["folder"] if (root / layout["folder"]).is_dir() else root
    if all((folder / n).is_file() for n in names):
        return {n: (folder / n).read_bytes() for n in names}
    archive = root / layout["archive"] if root.is_dir() else root
    if archive.is_file():
        try:
            with tarfile.open(archive, "r:gz") as tar:
                out = {}
                for n in names:
                    try:
                        member = tar.extractfile(f"{layout['folder']}/{n}")
                    except KeyError:
                        raise InputError(
                            f"{archive} has no member {layout['folder']}/{n}"
                        ) from None
                    out[n] = member.read()
                return out
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InputError(
                f"{archive} is not a readable .tar.gz ({exc}); is it truncated?"
            ) from exc
    raise InputError(
        f"CIFAR files {', '.join(names)} not found in {folder} and no {layout['archive']} in {root}; pass --data-dir"
    )


def load_cifar(
    name: str, split: str = "train", data_dir: str | Path | None = None, *, label_mode: str = "fine"
) -> ImageDataset:
    """CIFAR-10 (``name="cifar10"``) or CIFAR-100 (``"cifar100"``, fine or coarse labels).

    ``data_dir`` holds the extracted ``cifar-10-batches-py/`` (or ``cifar-100-python/``) folder,
    or the official ``.tar.gz``; default ``~/.cache/deeplabelprop/<name>``.
    """
    if name not in LAYOUT:
        raise InputError(f"unknown CIFAR dataset {name!r}; choose cifar10 or cifar100")
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    if label_mode not in ("fine", "coarse"):
        raise InputError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    layout = LAYOUT[name]
    root = Path(data_dir or f"~/.cache/deeplabelprop/{name}").expanduser()
    raw = _read_members(root, layout, layout[split] + [layout["meta"]])
    key = "labels" if name == "cifar10" else f"{label_mode}_labels"
    images, labels = [], []
    for member in layout[split]:
        batch = _unpickle(raw[member], f"{root}/{member}")
        if "data" not in batch or key not in batch:
            raise InputError(
                f"{root}/{member} is not a CIFAR batch (keys {sorted(batch)}; needs 'data' and {key!r})"
            )
        data = np.asarray(batch["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise InputError(f"{root}/{member}: 'data' must be (n, 3072), got {data.shape}")
        lab = np.asarray(batch[key], dtype=np.int64)
        if lab.shape != (data.shape[0],):
            raise InputError(f"{root}/{member}: {data.shape[0]} images but {lab.shape[0]} labels")
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(lab)
    meta = _unpickle(raw[layout["meta"]], f"{root}/{layout['meta']}")
    names_key = "label_names" if name == "cifar10" else f"{label_mode}_label_names"
    if names_key not in meta:
        raise InputError(f"{root}/{layout['meta']} has no {names_key!r}")
    classes = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in meta[names_key])
    out_name = name if name == "cifar10" or label_mode == "fine" else f"{name}-coarse"
    return ImageDataset(
        np.ascontiguousarray(np.concatenate(images)),
        np.concatenate(labels),
        classes,
        out_name,
        layout["normalization"],
    )


@register_dataset("cifar10", description="CIFAR-10, official python pickles (folder or .tar.gz)")
def _cifar10(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_cifar("cifar10", split, options.data_dir)


@register_dataset("cifar100", description="CIFAR-100, 100 fine classes")
def _cifar100(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_cifar("cifar100", split, options.data_dir)


@register_dataset("cifar100-coarse", description="CIFAR-100, 20 coarse classes")
def _cifar100_coarse(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    return load_cifar("cifar100", split, options.data_dir, label_mode="coarse")


@register_dataset(
    "cifar-fs",
    splits=("train",),
    description="CIFAR-FS: all 60k CIFAR-100 images, classes split by Bertinetto et al. (few-shot)",
)
def _cifar_fs(argument: str | None, split: str, options: LoadOptions) -> ImageDataset:
    train = load_cifar("cifar100", "train", options.data_dir)
    test = load_cifar("cifar100", "test", options.data_dir)
    return ImageDataset(
        np.concatenate([train.images, test.images]),
        np.concatenate([train.labels, test.labels]),
        train.classes,
        "cifar-fs",
        train.normalization,
    )
