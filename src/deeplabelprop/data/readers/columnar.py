"""Samples in columns: parquet files (``parquet:GLOB``, read with pyarrow) and a Hugging Face
``datasets`` dataset saved with ``save_to_disk`` (``arrow:PATH``, read with ``datasets``), both
from the ``shards`` extra. The settings ``image_column`` (image bytes, or the ``{"bytes",
"path"}`` struct of a ``datasets`` Image) and ``label_column`` (a class number, a name, or a
``datasets`` ClassLabel; null or -1: unlabeled) name the columns; ``key_column`` keys each
sample (default: ``<file stem>#<row>``). A ``datasets`` folder with a ``test`` split (a
DatasetDict) gives the test split too."""

from __future__ import annotations

from pathlib import Path

from ..._optional import require
from ...errors import InputError, MissingSplit
from .options import LoadOptions
from .registry import register_dataset
from .shards import Shards, expand, load_shards, one_split

BATCH = 1024


def _bytes(value) -> bytes | None:
    if isinstance(value, dict):  # a datasets Image: {"bytes": ..., "path": ...}
        value = value.get("bytes")
        if value is None:
            raise InputError("an image column holds paths, not bytes; store the images' bytes")
    return value


def _check_columns(names, opts: LoadOptions, where: str) -> None:
    for column in (opts.image_column, opts.label_column, opts.key_column):
        if column is not None and column not in names and column != opts.label_column:
            raise InputError(
                f"{where} has no column {column!r} (columns: {', '.join(names)}); set "
                "image_column / key_column"
            )


def _tables(batches, opts: LoadOptions, stem: str, with_images: bool):
    """(key, label or image bytes) rows of record batches with row numbers from 0."""
    row = 0
    for batch in batches:
        columns = batch.schema.names
        keys = (
            batch.column(opts.key_column).to_pylist()
            if opts.key_column
            else [f"{stem}#{row + j}" for j in range(batch.num_rows)]
        )
        if with_images:
            values = [_bytes(v) for v in batch.column(opts.image_column).to_pylist()]
        elif opts.label_column in columns:
            values = batch.column(opts.label_column).to_pylist()
        else:
            values = [None] * batch.num_rows
        yield from zip((str(k) for k in keys), values, strict=True)
        row += batch.num_rows


def parquet_shards(pattern: str, opts: LoadOptions) -> Shards:
    pq = require("pyarrow.parquet")
    files = expand(pattern, "parquet files")
    for f in files:
        _check_columns(pq.read_schema(f).names, opts, str(f))

    def rows(with_images: bool):
        for f in files:
            wanted = (
                [opts.image_column]
                if with_images
                else [c for c in (opts.label_column,) if c in pq.read_schema(f).names]
            )
            if opts.key_column:
                wanted.append(opts.key_column)
            reader = pq.ParquetFile(f)
            yield from _tables(
                reader.iter_batches(BATCH, columns=wanted), opts, f.stem, with_images
            )

    return Shards(f"parquet:{pattern}", files, lambda: rows(False), lambda: rows(True))


def _split(path: Path, split: str):
    datasets = require("datasets")
    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError as exc:
        raise InputError(f"arrow:{path} is not a folder written by save_to_disk ({exc})") from exc
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise MissingSplit(f"arrow:{path} has no {split} split ({', '.join(loaded)})")
        return loaded[split]
    if split != "train":
        raise MissingSplit(f"arrow:{path} is one split; it has no {split} split")
    return loaded


def arrow_shards(path: str, split: str, opts: LoadOptions) -> Shards:
    folder = Path(path).expanduser()
    dataset = _split(folder, split)
    _check_columns(dataset.column_names, opts, f"arrow:{path}")
    feature = dataset.features.get(opts.label_column)
    names = tuple(feature.names) if hasattr(feature, "names") else None
    table = dataset.data  # the Arrow table, memory-mapped from the cache files
    files = tuple(Path(f["filename"]) for f in dataset.cache_files)

    def rows(with_images: bool):
        yield from _tables(table.to_batches(BATCH), opts, f"{folder.name}-{split}", with_images)

    return Shards(f"arrow:{path}", files, lambda: rows(False), lambda: rows(True), names)


@register_dataset(
    "parquet",
    argument="GLOB",
    splits=("train",),
    description="parquet files: image_column (bytes) and label_column (null/-1 unlabeled)",
    files=True,
)
def _parquet(argument: str | None, split: str, options: LoadOptions):
    spec = f"parquet:{argument}"
    return one_split(lambda: parquet_shards(argument, options), spec, split, options)


@register_dataset(
    "arrow",
    argument="PATH",
    description="a Hugging Face datasets folder (save_to_disk): image and label columns",
    files=True,
)
def _arrow(argument: str | None, split: str, options: LoadOptions):
    return load_shards(arrow_shards(argument, split, options), options)
