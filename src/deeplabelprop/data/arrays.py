"""Read features (.npy / .npz, optionally with the ``paths`` of their rows) and labels (.npy with
-1 for unlabeled, a CSV of ``index,label`` rows, or a split file of ``deeplabelprop split``).

Every failure is an :class:`~deeplabelprop.errors.InputError` that names the file and the problem.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .._validation import integer_labels
from ..errors import InputError
from .tables import read_rows

FEATURE_KEYS = ("features", "X", "x", "embeddings")


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise InputError(f"{what} file {path} does not exist")
    if not path.is_file():
        raise InputError(f"{what} path {path} is not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} file {path} is empty")


def load_features(path: str | Path) -> np.ndarray:
    """An (n, d) array from ``.npy``, or ``.npz`` holding one array or one named ``features``/``X``."""
    path = Path(path)
    _require_file(path, "features")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.keys())
                key = next(
                    (k for k in FEATURE_KEYS if k in keys), keys[0] if len(keys) == 1 else None
                )
                if key is None:
                    raise InputError(
                        f"features file {path} holds arrays {keys}; name the features array one of "
                        f"{', '.join(FEATURE_KEYS)} or save a single array"
                    )
                x = z[key]
        elif path.suffix == ".npy":
            x = np.load(path, allow_pickle=False, mmap_mode="r")  # read, not loaded twice
        else:
            raise InputError(
                f"features file {path} must be .npy or .npz, not {path.suffix or 'no extension'}"
            )
    except InputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"features file {path} could not be read as NumPy data ({exc}); is it corrupted?"
        ) from exc
    if x.ndim != 2:
        raise InputError(
            f"features in {path} must be 2-D (n_samples, n_features), got shape {x.shape}"
        )
    return x


def load_feature_paths(path: str | Path) -> list[str] | None:
    """The ``paths`` array of a features ``.npz`` (one file per row), or None."""
    path = Path(path)
    if path.suffix != ".npz":
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return [str(p) for p in z["paths"]] if "paths" in z.files else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"features file {path} could not be read ({exc})") from exc


def load_labels(path: str | Path, n_samples: int) -> np.ndarray:
    """Labels of shape (n_samples,): -1 (or absent from a CSV) means unlabeled.

    ``.npy``: integer labels, -1 for unlabeled. ``.csv``: rows ``index,label`` (an optional
    header row is skipped); labels may be integers or names; rows not listed are unlabeled.
    ``.json``: a split file written by ``deeplabelprop split`` (its labeled rows and their
    labels). ``.npz``: the ``labels`` (-1 unknown) and ``classes`` of a features file written by
    ``deeplabelprop embed``, as class names. Returns an int64 array, or an object array of names (None for unlabeled) for names.
    """
    path = Path(path)
    _require_file(path, "labels")
    if path.suffix == ".json":
        from .problem.splits import split_labels

        return split_labels(path, n_samples)
    if path.suffix == ".npy":
        try:
            y = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(
                f"labels file {path} could not be read as NumPy data ({exc}); is it corrupted?"
            ) from exc
        return integer_labels(y, n_samples, name=f"labels in {path}")
    if path.suffix == ".csv":
        return _load_label_csv(path, n_samples)
    if path.suffix == ".npz":
        return _load_label_npz(path, n_samples)
    raise InputError(
        f"labels file {path} must be .npy, .csv, .npz (of embed) or a split .json, not "
        f"{path.suffix or 'no extension'}"
    )


def _load_label_npz(path: Path, n_samples: int) -> np.ndarray:
    """Class names (None where unknown) from an ``.npz`` holding ``labels`` and ``classes``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if not {"labels", "classes"} <= set(z.files):
                raise InputError(
                    f"labels file {path} has no 'labels' and 'classes' arrays (an .npz of "
                    "`deeplabelprop embed` has them); give labels as .npy, .csv or a split .json"
                )
            codes, classes = z["labels"], [str(c) for c in z["classes"]]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"labels file {path} could not be read ({exc})") from exc
    codes = integer_labels(codes, n_samples, name=f"labels in {path}")
    if codes.max(initial=-1) >= len(classes):
        raise InputError(f"labels in {path} exceed its {len(classes)} classes")
    y = np.full(n_samples, None, dtype=object)
    known = codes >= 0
    y[known] = [classes[c] for c in codes[known]]
    return y


def _load_label_csv(path: Path, n_samples: int) -> np.ndarray:
    rows = read_rows(path, "labels file")
    if rows and not rows[0][0].strip().lstrip("-").isdigit():
        rows = rows[1:]  # header
    if not rows:
        raise InputError(f"labels file {path} has no rows; expected lines 'index,label'")
    index, names = [], []
    for line, row in enumerate(rows, start=1):
        if len(row) != 2:
            raise InputError(
                f"labels file {path}, row {line}: expected 'index,label', got {','.join(row)!r}"
            )
        try:
            i = int(row[0])
        except ValueError:
            raise InputError(
                f"labels file {path}, row {line}: index {row[0]!r} is not an integer"
            ) from None
        if not 0 <= i < n_samples:
            raise InputError(
                f"labels file {path}, row {line}: index {i} is outside 0..{n_samples - 1}"
            )
        index.append(i)
        names.append(row[1].strip())
    index = np.asarray(index)
    uniq, counts = np.unique(index, return_counts=True)
    if (counts > 1).any():
        raise InputError(
            f"labels file {path}: index {int(uniq[counts > 1][0])} is listed more than once"
        )
    if all(n.lstrip("-").isdigit() for n in names):
        y = np.full(n_samples, -1, dtype=np.int64)
        y[index] = [int(n) for n in names]
        return y
    y = np.full(n_samples, None, dtype=object)
    y[index] = names
    return y
