"""How a data set is read: the settings every reader takes (most matter to image folders)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..images.dataset import Normalization


@dataclass(frozen=True)
class LoadOptions:
    """Reader settings.

    Shards (``parquet:``, ``arrow:``): ``image_column`` and ``label_column`` name the columns
    (a null label or -1 is unlabeled); ``key_column`` the column that keys each sample
    (default: the file's name and the row).

    ``image_size`` (square) or ``size`` (height, width) fit every image to one size (``resize``:
    "crop" the centre after scaling the shorter side, or "squash"); ``channels`` forces grey (1)
    or RGB (3). ``unreadable``: "stop" or "skip" files that cannot be read. ``labels``: a
    ``path,label`` CSV for a folder; ``labels_from``: a filled ``to_label.csv`` on top of it (or several
    files, each on top of the ones before). ``cache``: how decoded images are kept (see
    :mod:`deeplabelprop.data.images.cache`). ``classes`` and ``normalization`` are set from the training
    split when the test split is read, so both agree.
    """

    data_dir: str | None = None
    image_size: int | None = None
    size: tuple[int, int] | None = None
    channels: int | None = None
    resize: str = "crop"
    unreadable: str = "stop"
    labels: str | None = None
    labels_from: str | tuple[str, ...] | None = None
    cache: str = "auto"
    num_workers: int = 0
    download: bool = False
    progress: bool = False
    layout: str | None = None
    image_column: str = "image"
    label_column: str = "label"
    key_column: str | None = None
    classes: tuple[str, ...] | None = None
    normalization: Normalization | None = None


def label_files(opts: LoadOptions) -> list[Path]:
    """The files of ``labels_from``, in the order they go on top of each other."""
    given = opts.labels_from
    if not given:
        return []
    return [Path(f).expanduser() for f in ((given,) if isinstance(given, str) else given)]
