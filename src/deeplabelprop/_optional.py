"""The one place optional packages are imported: a missing one is a one-line error that says
which extra installs it."""

from __future__ import annotations

import importlib

from .errors import InputError

#: package -> (pip extra or package to install, what needs it)
OPTIONAL = {
    "transformers": ("deeplabelprop[hub]", "hf: models (Hugging Face transformers)"),
    "starlette": ("deeplabelprop[review]", "the review page (Starlette)"),
    "uvicorn": ("deeplabelprop[review]", "the review page's server (uvicorn)"),
    "webdataset": ("deeplabelprop[shards]", "webdataset: tar shards"),
    "braceexpand": ("deeplabelprop[shards]", "shard patterns with {000000..000099}"),
    "pyarrow.parquet": ("deeplabelprop[shards]", "parquet: shards (pyarrow)"),
    "datasets": ("deeplabelprop[shards]", "arrow: a Hugging Face datasets folder (datasets)"),
}


def require(name: str):
    """Import optional package ``name`` or raise :class:`InputError` naming how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        install, purpose = OPTIONAL[name]
        raise InputError(
            f"{purpose} need the optional package {name!r}, which is not installed "
            f"({exc}); install it with: pip install {install!r}"
        ) from None
