"""Input checks shared by the numeric core: shapes, finiteness, labels, k.

Each check returns a clean array or raises :class:`~deeplabelprop.errors.InputError` with a
one-line message that names the problem and the fix.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

UNLABELED = -1


ROW_BLOCK = 65_536  # rows per block of a whole-array check or cast: no full-size temporaries


def row_blocks(n: int, size: int = ROW_BLOCK):
    """Slices of ``size`` consecutive rows covering ``range(n)``."""
    return (slice(start, start + size) for start in range(0, n, size))


def check_features(features: object, *, name: str = "features", first_row: int = 0) -> np.ndarray:
    """Return ``features`` as a C-contiguous float32 array of shape (n_samples, n_features);
    ``first_row``: the row number of its first row in a larger array (for the messages)."""
    try:
        x = np.asarray(features)
    except Exception as exc:  # ragged lists and the like
        raise InputError(
            f"{name} could not be read as an array ({exc}); pass an (n, d) array"
        ) from exc
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise InputError(f"{name} must be numeric, got dtype {x.dtype}; pass an (n, d) float array")
    if np.iscomplexobj(x):
        raise InputError(f"{name} must be real, got dtype {x.dtype}; pass real-valued features")
    if x.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (n_samples, n_features), got shape {x.shape}; "
            "reshape it, e.g. x.reshape(len(x), -1)"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(
            f"{name} is empty (shape {x.shape}); pass at least one sample and one feature"
        )
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not all(np.isfinite(x[rows]).all() for rows in row_blocks(len(x))):
        bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        kind = "NaN" if np.isnan(x).any() else "infinite"
        raise InputError(
            f"{name} contain {kind} values in {len(bad_rows)} row(s) (first: row {first_row + bad_rows[0]}); "
            "remove or impute those rows"
        )
    return x


def integer_labels(labels: object, n_samples: int, *, name: str = "labels") -> np.ndarray:
    """``labels`` as int64 of shape (n_samples,): 1-D (or a column), one per row, integer-valued.

    ``name`` says where the labels came from (e.g. the file) in the error messages.
    """
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(f"{name} must be 1-D (n_samples,), got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise InputError(
            f"{name} have {y.shape[0]} entries but features have {n_samples} rows; "
            "pass one label per row (-1 for unlabeled)"
        )
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.all(y == np.round(y)):
            raise InputError(
                f"{name} must be integers (-1 for unlabeled); found non-integer values"
            )
    elif y.dtype.kind not in "iub":
        raise InputError(
            f"{name} must be integers (-1 for unlabeled), got dtype {y.dtype}; "
            "use LabelPropagator for string labels"
        )
    return y.astype(np.int64)


def check_labels(
    labels: object, n_samples: int, n_classes: int | None = None
) -> tuple[np.ndarray, int]:
    """Return integer labels of shape (n_samples,) with -1 for unlabeled, and the class count.

    Classes are 0..n_classes-1. Without ``n_classes`` it is ``max(labels) + 1``. Every class must
    have at least one labeled example: a class without a seed cannot be propagated.
    """
    y = integer_labels(labels, n_samples)
    if (y < UNLABELED).any():
        bad = int(y[y < UNLABELED][0])
        raise InputError(
            f"label {bad} is out of range: use -1 for unlabeled and 0..c-1 for classes"
        )
    labeled = y >= 0
    if not labeled.any():
        raise InputError("no labeled point: give at least one label per class (-1 marks unlabeled)")
    top = int(y.max())
    if n_classes is None:
        n_classes = top + 1
    elif top >= n_classes:
        raise InputError(
            f"label {top} is out of range for n_classes={n_classes}; labels must be in 0..{n_classes - 1}"
        )
    counts = np.bincount(y[labeled], minlength=n_classes)
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        raise InputError(
            f"class {int(missing[0])} has no labeled example ({missing.size} class(es) without one); "
            "label at least one example of every class, or renumber the classes"
        )
    return y, int(n_classes)


def check_n_neighbors(k: int, n_samples: int, *, name: str = "n_neighbors") -> int:
    """Return ``k`` as an int after checking 1 <= k < n_samples."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {k!r}")
    if k < 1:
        raise InputError(f"{name} must be at least 1, got {k}")
    if k >= n_samples:
        raise InputError(
            f"{name}={k} must be smaller than the number of samples ({n_samples}); "
            f"use at most {n_samples - 1}"
        )
    return int(k)
