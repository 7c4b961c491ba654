"""Class splits for few-shot recognition (DMT §4.3): which classes a metric learns from (base),
which are held out for validation, and which the episodes test (novel). A split is part of a
data set's definition: ``class_split(spec, options)``.

* ``fashion-mnist``: ours, fixed: base T-shirt/top, Trouser, Pullover, Dress; novel Coat,
  Sandal, Shirt, Sneaker, Bag, Ankle boot (5-way episodes leave one novel class as a
  distractor; Coat and Shirt make the novel set harder than the base set).
* ``cifar-fs``: Bertinetto et al. (2019)'s 64 / 16 / 20 split of CIFAR-100's fine classes, read
  from their split files ``train.txt``, ``val.txt``, ``test.txt`` (one class name per line, as
  in their release) in ``<data_dir>/cifar-fs/``.
* ``mini-imagenet:PATH``: Ravi & Larochelle's ``train.csv``, ``val.csv``, ``test.csv``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import InputError
from ..readers.options import LoadOptions


@dataclass(frozen=True)
class ClassSplit:
    base: tuple[str, ...]
    novel: tuple[str, ...]
    validation: tuple[str, ...] = ()

    def check(self, classes: tuple[str, ...], where: str) -> None:
        """Every named class exists in ``classes``; base and novel do not overlap."""
        known = set(classes)
        for part in ("base", "novel", "validation"):
            for name in getattr(self, part):
                if name not in known:
                    raise InputError(
                        f"{where}: {part} class {name!r} is not a class of the data set "
                        f"(it has {len(classes)}: {', '.join(sorted(classes)[:8])}, ...)"
                    )
        both = sorted(set(self.base) & set(self.novel))
        if both:
            raise InputError(f"{where}: class {both[0]!r} is both a base and a novel class")
        if not self.base or not self.novel:
            raise InputError(f"{where}: a class split needs base and novel classes")


FASHION = ClassSplit(
    base=("T-shirt/top", "Trouser", "Pullover", "Dress"),
    novel=("Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)


def _read_names(path: Path) -> tuple[str, ...]:
    if not path.is_file():
        raise InputError(
            f"class split file {path} is missing; put Bertinetto et al.'s CIFAR-FS split files "
            "(train.txt, val.txt, test.txt: one class per line) there"
        )
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def _cifar_fs(argument: str | None, options: LoadOptions) -> ClassSplit:
    root = Path(options.data_dir or "~/.cache/deeplabelprop/cifar100").expanduser() / "cifar-fs"
    return ClassSplit(
        base=_read_names(root / "train.txt"),
        novel=_read_names(root / "test.txt"),
        validation=_read_names(root / "val.txt"),
    )


def _mini_imagenet(argument: str | None, options: LoadOptions) -> ClassSplit:
    from ..readers.mini_imagenet import csv_classes

    root = Path(argument or "").expanduser()
    return ClassSplit(
        base=csv_classes(root / "train.csv"),
        novel=csv_classes(root / "test.csv"),
        validation=csv_classes(root / "val.csv"),
    )


CLASS_SPLITS: dict[str, Callable[[str | None, LoadOptions], ClassSplit]] = {
    "fashion-mnist": lambda argument, options: FASHION,
    "cifar-fs": _cifar_fs,
    "mini-imagenet": _mini_imagenet,
}


def class_split(spec: str, options: LoadOptions | None = None) -> ClassSplit:
    """The registered class split of data set ``spec`` (``name`` or ``name:ARGUMENT``)."""
    name, _, argument = spec.partition(":")
    if name not in CLASS_SPLITS:
        raise InputError(
            f"{spec} has no registered class split (those that do: "
            f"{', '.join(sorted(CLASS_SPLITS))}); name the classes with classes.base and "
            "classes.novel"
        )
    return CLASS_SPLITS[name](argument or None, options or LoadOptions())
