"""Download a file once, verify its SHA-256, and move it into place atomically."""

from __future__ import annotations

import hashlib
import logging
import urllib.error
import urllib.request
from pathlib import Path

from ...atomic import atomic_path
from ...errors import InputError

logger = logging.getLogger(__name__)


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def download(urls: list[str], dest: str | Path, sha256: str, *, timeout: float = 60.0) -> Path:
    """Fetch the first URL that works into ``dest`` and check its SHA-256.

    Nothing is written at ``dest`` unless the whole file arrived and its hash matches; a file
    already there with the right hash is kept without a download.
    """
    dest = Path(dest)
    if dest.exists() and sha256_of(dest) == sha256:
        return dest
    errors = []
    for url in urls:
        logger.info("downloading %s", url)
        try:
            with atomic_path(dest) as tmp:
                h = hashlib.sha256()
                with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
                    while block := resp.read(1 << 20):
                        h.update(block)
                        out.write(block)
                if h.hexdigest() != sha256:
                    raise InputError(
                        f"{url} does not match its SHA-256 (got {h.hexdigest()[:16]}..., expected {sha256[:16]}...); "
                        "the download is corrupted or the mirror changed"
                    )
            return dest
        except InputError as exc:
            errors.append(str(exc))
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            errors.append(f"{url}: {exc}")
    raise InputError(f"could not download {dest.name}: " + "; ".join(errors))
