"""Labels as users give them (integers, names, a marker for "unlabeled") to class codes.

One encoder for the estimator and the command line: codes 0..c-1 in the order of ``classes``
(sorted values), -1 for unlabeled points.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError


def _is_nan(value) -> bool:
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def unlabeled_mask(y: np.ndarray, marker) -> np.ndarray:
    """Where ``y`` equals the unlabeled ``marker``: NaN matches NaN, None matches None; string
    and object labels are compared element by element."""
    y = np.asarray(y)
    if marker is None:
        return np.array([v is None for v in y], dtype=bool)
    if _is_nan(marker):
        if y.dtype.kind == "f":
            return np.isnan(y)
        return np.array([_is_nan(v) for v in y], dtype=bool)
    if y.dtype.kind in "iuf":
        return y == marker
    return np.fromiter((_equals(v, marker) for v in y), dtype=bool, count=y.shape[0])


def _equals(value, marker) -> bool:
    try:
        return bool(value == marker)
    except (TypeError, ValueError):
        return False


def encode_labels(y, marker=-1, *, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(codes with -1 unlabeled, classes) from labels ``y`` with ``marker`` for unlabeled.

    ``n_classes`` (integer labels only) fixes the classes to 0..n_classes-1; otherwise the
    classes are the sorted distinct labeled values. Integer labels below -1 are an error.
    """
    y = np.asarray(y)
    unl = unlabeled_mask(y, marker)
    labeled = ~unl
    strings = y.dtype.kind in "US" or (y.dtype == object and any(isinstance(v, str) for v in y))
    if strings and not isinstance(marker, str):
        blank = [str(v) for v in y[labeled] if isinstance(v, str) and v.strip() in ("", "-1")]
        if blank:
            raise InputError(
                f"the labels are strings and some are {blank[0]!r}, which would become a class; "
                f"if {blank[0]!r} marks an unlabeled point, set unlabeled={blank[0]!r}"
            )
    if not labeled.any():
        raise InputError(
            f"no labeled point: every label is the unlabeled marker {marker!r}; label at least "
            "one example per class"
        )
    values = y[labeled]
    integer = values.dtype.kind in "iu" or (
        values.dtype.kind == "f"
        and np.all(np.isfinite(values))
        and np.all(values == np.round(values))
    )
    if integer and marker == -1 and (values < -1).any():
        raise InputError(
            f"label {int(values[values < -1][0])} is out of range: use -1 for unlabeled and "
            "0..C-1 for classes"
        )
    if n_classes is not None:
        if not integer:
            raise InputError("n_classes applies to integer labels; names define their own classes")
        if values.max() >= n_classes or values.min() < 0:
            raise InputError(
                f"label {int(values.max())} is outside the classes 0..{n_classes - 1} "
                f"(n_classes={n_classes})"
            )
        classes, codes = np.arange(n_classes), values.astype(np.int64)
    else:
        try:
            classes, codes = np.unique(values, return_inverse=True)
        except TypeError:
            raise InputError(
                "labels mix types that cannot be ordered (e.g. numbers and names); use one type"
            ) from None
    out = np.full(y.shape[0], -1, dtype=np.int64)
    out[labeled] = codes
    return out, classes
