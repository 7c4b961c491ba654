"""The settings every recipe has: the data, the network, the seed. Each recipe adds the sections
of its stages (``[metric]``, ``[propagate]``, ...)."""

from __future__ import annotations

from dataclasses import dataclass

from .._params import Interval, Options
from ..config import setting, to_dict
from ..data import LoadOptions
from ..data.images.cache import CACHE_MODES
from ..data.images.files import RESIZE_MODES
from ..data.images.listing import UNREADABLE_POLICIES
from ..models import BACKBONES

# "auto": bfloat16 autocast where the hardware has it natively (train/precision.py)
PRECISIONS = ("auto", "bf16", "fp32")

# settings that change how fast a run goes, not what it computes: a rerun may change them
RUNTIME_SETTINGS = ("device", "num_workers", "cache")
# where the labels come from: a rerun may change them, and the labels they give are compared
# as the stages' inputs (run_dir: a stage reruns when what it reads changed)
LABEL_SOURCES = ("labels", "labels_from")
# how shard columns are read: what they give is fingerprinted as the stages' inputs (the images'
# fingerprint names the image and key columns, the labels are compared themselves)
READ_SETTINGS = ("image_column", "label_column", "key_column")


@dataclass
class RecipeConfig:
    """Data: ``dataset`` is a registered name or ``folder:PATH`` (your images), with
    ``image_size`` (square; default: the images' own size when they share one), ``resize``
    (how images of other shapes are fitted), ``labels`` (a ``path,label`` CSV for a folder),
    ``labels_from`` (a filled ``to_label.csv`` of ``suggest``, on top of the others; the ``run``
    command then keeps its rows in the label file, so later rounds need not name it),
    ``image_column``, ``label_column`` and ``key_column`` (the columns of ``parquet:`` and
    ``arrow:`` shards), ``unreadable`` (stop or skip files that cannot be read), ``validation_fraction`` (labeled
    images held out as the test set when the data has no test split), ``subset`` (a seeded
    subset of the images, as in a fast dev run). Training: ``model``, ``width``, ``seed``,
    ``precision`` (bfloat16 autocast: "auto" where native, always, or never);
    ``n_labeled`` labels are drawn from a fully labeled benchmark set (a user's data set names
    its own). ``device``, ``num_workers`` and ``cache`` change speed only.
    """

    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    image_size: int | None = setting(None, Interval(1, 4096, integer=True, allow_none=True))
    resize: str = setting("crop", Options(RESIZE_MODES))
    labels: str | None = None
    labels_from: str | None = None
    image_column: str = "image"
    label_column: str = "label"
    key_column: str | None = None
    unreadable: str = setting("stop", Options(UNREADABLE_POLICIES))
    validation_fraction: float = setting(0.0, Interval(0, 1, closed="left"))
    subset: int | None = setting(None, Interval(1, None, integer=True, allow_none=True))
    n_labeled: int = setting(100, Interval(1, None, integer=True))
    model: str = setting("small-cnn", Options(tuple(sorted(BACKBONES))))
    width: int | None = setting(None, Interval(1, None, integer=True, allow_none=True))
    seed: int = setting(0, Interval(0, 2**32 - 1, integer=True))
    precision: str = setting("auto", Options(PRECISIONS))
    device: str | None = None
    num_workers: int = setting(0, Interval(0, 64, integer=True))
    cache: str = setting("auto", Options(CACHE_MODES))

    def mixed_precision(self) -> bool | None:
        """``TrainConfig.mixed_precision`` for ``precision``."""
        return {"auto": None, "bf16": True, "fp32": False}[self.precision]

    def load_options(self, *, progress: bool = False) -> LoadOptions:
        """How the data set is read."""
        return LoadOptions(
            data_dir=self.data_dir,
            image_size=self.image_size,
            resize=self.resize,
            unreadable=self.unreadable,
            labels=self.labels,
            labels_from=self.labels_from,
            image_column=self.image_column,
            label_column=self.label_column,
            key_column=self.key_column,
            cache=self.cache,
            num_workers=self.num_workers,
            progress=progress,
        )

    def stage_settings(self, *sections: str) -> dict:
        """What shapes a stage: the common settings (runtime ones excepted) and its sections."""
        flat = to_dict(self)
        skip = {*RUNTIME_SETTINGS, *LABEL_SOURCES, *READ_SETTINGS}
        common = {k: v for k, v in flat.items() if k not in skip and not isinstance(v, dict)}
        return {**common, **{s: flat[s] for s in sections}}
