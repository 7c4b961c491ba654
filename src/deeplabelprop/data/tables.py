"""Label tables as people write them: the one reader of every CSV of labels (a folder's
``labels.csv``, the ``index,label`` CSV of ``propagate``, a filled ``to_label.csv``).

Spreadsheets save CSV in many dialects: Excel's "CSV UTF-8" starts with a byte-order mark, and
in locales with a decimal comma it separates fields with ``;``; tab-separated files are common
too. The separator is sniffed from the first lines (``,``, ``;`` or tab); quoted fields with
separators, quotes and line breaks, CRLF line ends and blank lines are read as the csv module
reads them.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import InputError
from ..locking import labels_lock

#: the label of an image a person marked "none of these": it leaves the data set (propagation,
#: training and exports), and stays in the label file so that the mark is kept
OUT_OF_SCOPE = "!none"

SEPARATORS = ",;\t"


def read_rows(path: str | Path, what: str = "label file") -> list[list[str]]:
    """The non-blank rows of ``path``, fields stripped of surrounding spaces (read under the
    file's shared lock: never half-way through a writer's change)."""
    path = Path(path)
    try:
        with labels_lock(path, shared=True):
            text = path.read_text(encoding="utf-8-sig")  # a BOM (Excel's "CSV UTF-8") is dropped
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} {path} is not UTF-8 text ({exc}); save it as 'CSV UTF-8' from your spreadsheet"
        ) from exc
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read ({exc.strerror or exc})") from exc
    sample = "\n".join(text.splitlines()[:20])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=SEPARATORS)
        separator = dialect.delimiter
    except csv.Error:  # one column, or nothing to tell: the standard comma
        separator = ","
    reader = csv.reader(text.splitlines(keepends=True), delimiter=separator)
    return [[c.strip() for c in row] for row in reader if row and any(c.strip() for c in row)]


def header_index(row: list[str], names: tuple[str, ...]) -> dict[str, int] | None:
    """Column positions of ``names`` when ``row`` is a header naming them all (any case), else
    None (the row is data)."""
    lower = [c.strip().lower() for c in row]
    if all(n in lower for n in names):
        return {n: lower.index(n) for n in names}
    return None
