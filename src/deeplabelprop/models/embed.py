"""Embedding a data set with a pretrained model (``deeplabelprop embed``): batched, on the GPU
when there is one, resumable in chunks, the output written atomically.

Image files are decoded straight at the model's own preprocessing (its resize, crop and
interpolation), not at the data set's size; in-memory images are fitted per batch by the model
(:func:`~deeplabelprop.models.pretrained.fit_tensor`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .. import distributed
from ..atomic import atomic_path, save_npy, save_npz
from ..data.images.augment import normalize, to_tensor
from ..data.images.dataset import ImageDataset, RowView
from ..data.images.files import FileImages
from ..data.images.stream import read_batches
from ..errors import InputError
from ..fingerprint import fingerprint
from .pretrained import Pretrained

logger = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".npz", ".npy")


def at_model_input(images, model: Pretrained):
    """``images`` decoded as the model expects when they are files (a :class:`FileImages`, or
    rows of one); other images unchanged (the model fits them per batch)."""
    pre = model.preprocessing
    if isinstance(images, FileImages):
        return replace(
            images,
            size=tuple(pre.size),
            channels=pre.channels,
            resize=pre.resize,
            short_side=pre.short_side,
            interpolation=pre.interpolation,
        )
    if isinstance(images, RowView) and isinstance(images.source, FileImages):
        return RowView(at_model_input(images.source, model), images.rows)
    return images


@torch.no_grad()
def embed_rows(
    model: Pretrained,
    images,
    rows: np.ndarray,
    *,
    device: str = "cpu",
    batch_size: int = 64,
    num_workers: int = 0,
    bfloat16: bool = False,
    on_batch=None,
) -> np.ndarray:
    """The model's embeddings (len(rows), out_dim) float32 of ``images[rows]``; ``bfloat16``:
    the forward pass under bfloat16 autocast (1.5x faster for a ViT-S on a CPU with native
    bfloat16, benchmarks/RESULTS.md)."""
    pre = model.preprocessing
    model = model.to(device).eval()
    batches = [rows[s : s + batch_size] for s in range(0, rows.size, batch_size)]
    out = np.empty((rows.size, model.out_dim), dtype=np.float32)
    start = 0
    for pixels in read_batches(images, batches, num_workers=num_workers):
        x = normalize(to_tensor(pixels, device), pre.mean, pre.std)
        with torch.autocast(torch.device(device).type, torch.bfloat16, enabled=bfloat16):
            y = model(x).float().cpu().numpy()
        out[start : start + len(y)] = y
        start += len(y)
        if on_batch is not None:
            on_batch(len(y))
    return out


def _fingerprint(data: ImageDataset) -> str:
    return fingerprint(list(data.example_names()), length=16)


def _parts_folder(out: Path, manifest: dict) -> Path:
    """The chunk folder beside ``out``: created with ``manifest``, or an earlier one for the same
    work; one for other work is an error naming what differs."""
    parts = out.with_name(f".{out.name}.parts")
    path = parts / "manifest.json"
    if path.is_file():
        earlier = json.loads(path.read_text())
        differ = sorted(k for k in manifest if earlier.get(k) != manifest[k])
        if differ:
            raise InputError(
                f"{parts} holds the chunks of an earlier embedding with other "
                f"{', '.join(differ)}; delete it to start again, or write to another -o"
            )
        return parts
    parts.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return parts


def _save_chunk(path: Path, array: np.ndarray) -> None:
    """One rank's chunk, written whole or not at all (each rank writes its own chunks, so the
    rank-0-only :func:`~deeplabelprop.atomic.atomic_path` does not apply)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _checked_output(out: Path, batch_size: int, chunk_rows: int) -> Path:
    if out.suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"-o {out}: write .npz (features with labels and paths) or .npy")
    if batch_size < 1 or chunk_rows < 1:
        raise InputError("batch size and chunk rows must be at least 1")
    return out


def _progress(on: bool, n: int, spec: str):
    """A progress bar over ``n`` images, or None."""
    if not on:
        return None
    from tqdm import tqdm

    return tqdm(total=n, desc=f"embedding with {spec}", unit="image", leave=False)


def write_embedding(out: Path, features: np.ndarray, data: ImageDataset, spec: str) -> None:
    """``out``: an ``.npy`` of the features, or an ``.npz`` of ``features``, ``labels`` (-1
    unknown), ``classes``, ``model`` (the spec) and ``paths`` (for files). Atomic."""
    if out.suffix == ".npy":
        save_npy(out, features)
        return
    arrays = {
        "features": features,
        "labels": np.asarray(data.labels, dtype=np.int64),
        "classes": np.asarray(data.classes, dtype=str),
        "model": np.asarray(spec),
    }
    if data.paths is not None:
        arrays["paths"] = np.asarray(data.paths, dtype=str)
    save_npz(out, **arrays)


def _embed_own_chunks(model, images, chunks, parts: Path, *, device, progress, spec, kw):
    """Embed this rank's chunks (chunk i belongs to rank i mod world size) that are not on
    disk yet; returns (its chunk numbers, rows read back from an earlier run)."""
    w, r = distributed.world_size(), distributed.rank()
    n = sum(rows.size for rows in chunks)
    mine = [i for i in range(len(chunks)) if i % w == r]
    bar = _progress(progress and distributed.is_main(), sum(chunks[i].size for i in mine), spec)
    earlier = sum(chunks[i].size for i in mine if (parts / f"chunk-{i:06d}.npy").is_file())
    if earlier:
        logger.info("continuing an earlier embedding: %d of %d images were done", earlier, n)
    for i in mine:
        rows, part = chunks[i], parts / f"chunk-{i:06d}.npy"
        if part.is_file():
            if bar is not None:
                bar.update(rows.size)
            continue
        on_batch = None if bar is None else bar.update
        _save_chunk(part, embed_rows(model, images, rows, device=device, on_batch=on_batch, **kw))
        logger.info("embedded %d / %d images", int(rows[-1]) + 1, n)
    if bar is not None:
        bar.close()
    return mine, earlier


def embed_dataset(
    model: Pretrained,
    data: ImageDataset,
    out: str | Path,
    *,
    device: str = "cpu",
    batch_size: int = 64,
    num_workers: int = 0,
    chunk_rows: int = 4096,
    bfloat16: bool = False,
    progress: bool = False,
    stats: dict | None = None,
) -> np.ndarray:
    """Embed every image of ``data`` with ``model`` into ``out``: an ``.npz`` of ``features``,
    ``labels`` (-1 unknown), ``classes``, ``paths`` (for files) and ``model`` (the spec), or an
    ``.npy`` of the features alone. Chunks of ``chunk_rows`` are kept beside ``out`` until the
    end, so a killed run continues where it stopped and gives the same file (``bfloat16``: see
    :func:`embed_rows`). Returns the features; ``stats`` (a dict, when given) gets the rows
    embedded now and those read back from an earlier run's chunks, over every rank."""
    out = _checked_output(Path(out).expanduser(), batch_size, chunk_rows)
    images = at_model_input(data.images, model)
    n = len(data)
    manifest = {
        "model": model.spec,
        "pooling": model.pooling,
        "dataset": data.name,
        "examples": n,
        "fingerprint": _fingerprint(data),
        "chunk_rows": chunk_rows,
        "bfloat16": bfloat16,
    }
    # rank 0 makes (or checks) the chunk folder; under torchrun rank r embeds chunks r, r + w,
    # ...: a chunk belongs to one rank whatever happens, so a killed rank resumes its own
    parts = distributed.from_main(lambda: _parts_folder(out, manifest))
    chunks = [np.arange(s, min(s + chunk_rows, n)) for s in range(0, n, chunk_rows)]
    mine, earlier = _embed_own_chunks(
        model,
        images,
        chunks,
        parts,
        device=device,
        progress=progress,
        spec=model.spec,
        kw={"batch_size": batch_size, "num_workers": num_workers, "bfloat16": bfloat16},
    )
    distributed.barrier()  # every chunk is on disk
    features = np.concatenate([np.load(parts / f"chunk-{i:06d}.npy") for i in range(len(chunks))])
    distributed.barrier()  # every rank has read them
    if distributed.is_main():
        write_embedding(out, features, data, model.spec)
        shutil.rmtree(parts)
    # the counts over every rank (each holds its own chunks'), so that rank 0 says a resumed
    # rank 1; the sum is also the barrier after rank 0's write
    counts = distributed.sum_of(
        torch.tensor([sum(chunks[i].size for i in mine) - earlier, earlier], dtype=torch.int64)
    )
    if stats is not None:
        stats.update(embedded=int(counts[0]), earlier=int(counts[1]))
    return features
