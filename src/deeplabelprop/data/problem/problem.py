"""What a recipe learns from: training images, the labels it may use, the test images.

Two ways in. A *benchmark* set is fully labeled: a seeded, class-balanced split of
``n_labeled`` decides which labels the recipe sees, and the others are kept as the truth for
reporting. A *user's* set marks unknown labels (-1): its given labels are the labeled set,
``n_labeled`` does not apply, and there is no truth for the rest.

Nothing is held out silently: the test set is the data set's test split when it has one; a
benchmark set without one (digits) holds out a fixed, stated fraction; a user's set without one
holds out ``validation_fraction`` of its labeled images only when asked. Every such choice is
logged and listed in :attr:`Problem.notes`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ...errors import InputError, MissingSplit
from ...fingerprint import Fingerprinter, fingerprint
from ..images.dataset import UNKNOWN, ImageDataset
from ..readers.options import LoadOptions, label_files
from ..readers.registry import dataset_entry, load_dataset
from .splits import Split, load_split, make_split

logger = logging.getLogger(__name__)

HOLDOUT_SEED = 12345  # the fixed held-out fifth of a benchmark set without a test split


@dataclass(frozen=True)
class Problem:
    """Attributes
    ----------
    train : ImageDataset, the images to learn from
    given : ndarray (n,), the labels the recipe may use; -1 elsewhere
    truth : ndarray (n,) or None, every true label (benchmark sets; for reports, never training)
    test : ImageDataset or None, held-out images with labels
    split : Split or None, how ``given`` was drawn from a benchmark set
    notes : tuple of str, what was held out or ignored, in words
    audit : ndarray (n,) of bool or None, the given labels drawn uniformly at random (the
            ``audit`` rows of ``suggest``): an unbiased sample for the estimated accuracy
    """

    train: ImageDataset
    given: np.ndarray
    truth: np.ndarray | None
    test: ImageDataset | None
    split: Split | None
    notes: tuple[str, ...] = ()
    audit: np.ndarray | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes

    def given_by_name(self) -> dict[str, str]:
        """The given labels keyed by example (its path): {name: class name}."""
        names = self.train.example_names()
        return {names[i]: self.classes[self.given[i]] for i in np.flatnonzero(self.given >= 0)}

    def fingerprints(self) -> dict[str, str]:
        """What the stages read, each as a fingerprint: ``images`` (the training examples:
        their names, and each file's size and modification time, or the pixels of an
        in-memory set), ``labels`` (the given labels, keyed by example, so a reordered listing
        is the same labels) and ``test`` (the test examples and their classes)."""
        labels = sorted(self.given_by_name().items())
        if self.audit is not None and self.audit.any():  # which of them are audit rows
            names = self.train.example_names()
            labels = [labels, sorted(names[i] for i in np.flatnonzero(self.audit))]
        prints = {"images": images_fingerprint(self.train), "labels": fingerprint(labels)}
        if self.test is not None:
            names = self.test.example_names()
            known = [self.test.classes[k] if k >= 0 else "" for k in self.test.labels]
            prints["test"] = fingerprint(names, known, images_fingerprint(self.test))
        return prints


def images_fingerprint(data: ImageDataset) -> str:
    """The examples of ``data``: names plus each file's size and mtime when they are files
    under the data set's folder, else the decoded pixels."""
    names = data.example_names()
    if data.source is not None:  # shards: their files, not a listing of millions of samples
        return fingerprint(names, data.source)
    root = Path(data.name.partition(":")[2]) if ":" in data.name else None
    if data.paths is not None and root is not None and (root / data.paths[0]).is_file():
        h = Fingerprinter().add(names)
        for rel in data.paths:
            st = (root / rel).stat()
            h.add([st.st_size, st.st_mtime_ns])
        return h.hexdigest()
    pixels = data.images if isinstance(data.images, np.ndarray) else None
    return fingerprint(names, pixels)


def seeded_subset(n: int, seed: int, size: int) -> np.ndarray:
    """Sorted indices of a seeded random subset of ``size`` of ``n`` rows."""
    return np.sort(np.random.default_rng(seed).permutation(n)[: min(n, size)])


def _test_split(spec: str, train: ImageDataset, options: LoadOptions) -> ImageDataset | None:
    """The test split read to match the training images (size, channels, classes, statistics)."""
    matched = replace(
        options,
        size=train.shape[:2],
        channels=train.shape[2],
        classes=train.classes,
        normalization=train.normalization,
        image_size=None,
    )
    try:
        return load_dataset(spec, "test", options=matched)
    except MissingSplit:
        return None


def _hold_out_labeled(train: ImageDataset, fraction: float, seed: int):
    """(train without them, test): the labeled images whose name hashes (with the seed) below
    ``fraction``, at least one labeled image of every class left to train on.

    Decided per image by its name, not by a draw over the labeled set, so the held-out set
    stays fixed across rounds: a label added later is held out or not by its own hash, and no
    earlier decision changes (a draw would reshuffle everything, and a metric or a test
    accuracy of one round would not compare with the next)."""
    names = train.example_names()
    held = []
    for c in range(len(train.classes)):
        members = np.flatnonzero(train.labels == c)
        draw = np.array([_unit_hash(seed, names[i]) for i in members])
        chosen = members[draw < fraction]
        if chosen.size == members.size and members.size:  # keep one to train on
            chosen = np.delete(chosen, np.argmax(draw[np.isin(members, chosen)]))
        held.append(chosen)
    held = np.sort(np.concatenate(held)).astype(np.int64) if held else np.array([], np.int64)
    keep = np.setdiff1d(np.arange(len(train)), held)
    return train.subset(keep), train.subset(held)


def _unit_hash(seed: int, name: str) -> float:
    """A number in [0, 1) fixed by (seed, name)."""
    return int(fingerprint(seed, name, length=12), 16) / 16**12


def train_and_test(
    spec: str, options: LoadOptions | None = None
) -> tuple[ImageDataset, ImageDataset | None, list[str]]:
    """(training images, test images or None, notes): the data set's splits, or, for a
    benchmark set without a test split (digits), the fixed held-out fraction as the test set."""
    options = options or LoadOptions()
    entry, _ = dataset_entry(spec)
    train = load_dataset(spec, "train", options=options)
    test = _test_split(spec, train, options)
    notes = []
    if test is None and entry.holdout > 0:
        held = seeded_subset(len(train), HOLDOUT_SEED, int(len(train) * entry.holdout))
        train, test = train.subset(np.setdiff1d(np.arange(len(train)), held)), train.subset(held)
        notes.append(
            f"{spec} has no test split: a fixed {entry.holdout:.0%} ({len(test)} images) is the test set"
        )
    return train, test, notes


def load_problem(
    spec: str,
    options: LoadOptions | None = None,
    *,
    n_labeled: int = 100,
    seed: int = 0,
    subset: int | None = None,
    validation_fraction: float = 0.0,
    split_path: str | Path | None = None,
    labels_required: bool = True,
) -> Problem:
    """The problem a recipe solves on data set ``spec`` (see the module docstring).

    ``subset`` keeps a seeded subset of that many training and test images (a fast dev run).
    ``split_path``: a split saved by an earlier run of the same recipe, reused when it exists
    (it is checked against the labels, so it cannot be applied to other data).
    ``labels_required=False``: a set nobody has labeled yet is a problem too (a metric trained
    on the images alone).
    """
    options = options or LoadOptions()
    train, test, notes = train_and_test(spec, options)
    if subset is not None:
        train = train.subset(seeded_subset(len(train), seed, subset))
        test = None if test is None else test.subset(seeded_subset(len(test), seed, subset))
        notes.append(f"a seeded subset of {len(train)} training images (fast dev run)")
    if train.fully_labeled:
        path = Path(split_path) if split_path is not None else None
        if path is not None and path.exists():
            split = load_split(path, train.labels, train.name)
        else:
            split = make_split(train.labels, n_labeled, seed=seed, dataset=train.name)
        given, truth = split.masked_labels(train.labels), train.labels
        for path in [] if _reads_labels_from(spec) else label_files(options):
            given = _labels_on_top(train, given, path)
            notes.append(f"labels of {path} on top of the split")
    else:
        split, truth = None, None
        for path in [] if _reads_labels_from(spec) else label_files(options):  # shards: by key
            train = replace(train, labels=_labels_on_top(train, train.labels, path))
            notes.append(f"labels of {path} on top of the data set's")
        train, test = _users_labels(spec, train, test, notes, validation_fraction, seed)
        given = train.labels
        _check_labels_given(spec, train, labels_required)
    if test is None:
        notes.append(
            "no test set: set validation_fraction, or add a test/ folder, to measure accuracy"
        )
    for note in notes:
        logger.info("%s", note)
    return Problem(train, np.asarray(given, dtype=np.int64), truth, test, split, tuple(notes))


def _reads_labels_from(spec: str) -> bool:
    """The reader of ``spec`` puts ``labels_from`` on top itself (image folders, by path)."""
    return spec.partition(":")[0] in ("folder", "imagenet")


def _labels_on_top(train: ImageDataset, given: np.ndarray, path: Path) -> np.ndarray:
    """``given`` with the labels of a ``path,label`` file keyed by example name (``name#i``)
    on top: how corrections of a benchmark set or of shards (the review page's ``labels.csv``
    beside the run, keyed by the data set's own key) reach the next round. Its classes are
    fixed: a new class or "none of these" is refused."""
    from ..readers.folder import read_to_label
    from ..tables import OUT_OF_SCOPE

    named = read_to_label(path, Path(train.name), train.example_names(), train.classes)
    given = given.copy()
    index = {n: i for i, n in enumerate(train.example_names())}
    for name, label in named.items():
        if label not in train.classes or label == OUT_OF_SCOPE:
            raise InputError(
                f"{path}: {name} is labeled {label!r}, but the classes of {train.name} are fixed "
                f"({', '.join(train.classes)}); label it with one of them"
            )
        given[index[name]] = train.classes.index(label)
    return given


def _users_labels(spec, train, test, notes: list, validation_fraction: float, seed: int):
    """A user's set names its own labels; without a test split, ``validation_fraction`` of
    them is held out (fixed across rounds, see :func:`_hold_out_labeled`)."""
    notes.append(
        f"{spec} names its own {int((train.labels >= 0).sum())} labeled images: n_labeled does "
        "not apply"
    )
    if test is None and validation_fraction > 0:
        train, test = _hold_out_labeled(train, validation_fraction, seed)
        notes.append(
            f"validation_fraction = {validation_fraction}: {len(test)} labeled images held "
            "out as the test set (chosen by each image's name: fixed across rounds)"
        )
    return train, test


def _check_labels_given(spec: str, train: ImageDataset, labels_required: bool) -> None:
    """No label at all (when they are required), or a class without one: a one-line error."""
    given = train.labels
    if labels_required and not (given >= 0).any():
        folders = ", ".join(
            sorted(f"{p.name}/" for p in Path(spec.partition(":")[2]).glob("*") if p.is_dir())
        )
        raise InputError(
            f"{spec} has no labeled image yet{f' (its folders: {folders})' if folders else ''}: "
            "label some (labeled/<class>/ or a labels.csv), or let `deeplabelprop suggest` "
            "choose which to label first, on features from `deeplabelprop embed` or from a "
            "`pretrain` config such as configs/fashion-mnist/pretrain.toml (it needs no label)"
        )
    missing = [c for k, c in enumerate(train.classes) if not (given == k).any()]
    if missing:
        raise InputError(
            f"class {missing[0]!r} has no labeled image to train on; label at least one"
        )


__all__ = ["HOLDOUT_SEED", "Problem", "UNKNOWN", "load_problem", "seeded_subset", "train_and_test"]
