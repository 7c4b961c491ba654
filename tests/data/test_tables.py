"""Label CSVs as spreadsheets save them (issue 25 item 5), in both readers: a folder's
``labels.csv`` (path,label) and the ``index,label`` CSV of ``propagate``."""

import numpy as np
import pytest

from deeplabelprop import InputError
from deeplabelprop.data.arrays import load_labels
from deeplabelprop.data.readers.folder import read_label_csv
from deeplabelprop.data.tables import read_rows

DIALECTS = {
    "excel utf-8 with a byte-order mark": ("\ufeffpath,label\r\n{a},cat\r\n{b},dog\r\n", "utf-8"),
    "semicolons (a decimal-comma locale)": ("path;label\n{a};cat\n{b};dog\n", "utf-8"),
    "byte-order mark and semicolons": ("\ufeffpath;label\r\n{a};cat\r\n{b};dog\r\n", "utf-8"),
    "tabs": ("path\tlabel\n{a}\tcat\n{b}\tdog\n", "utf-8"),
    "crlf, no header": ("{a},cat\r\n{b},dog\r\n", "utf-8"),
}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "my photos").mkdir()
    for name in ("a 1.png", "b.png"):
        (tmp_path / "my photos" / name).write_bytes(b"x")
    return tmp_path


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_folder_labels_csv_in_every_dialect(folder, dialect):
    text, encoding = DIALECTS[dialect]
    path = folder / "labels.csv"
    path.write_bytes(text.format(a="my photos/a 1.png", b="my photos/b.png").encode(encoding))
    assert read_label_csv(path, folder) == {"my photos/a 1.png": "cat", "my photos/b.png": "dog"}


def test_quoted_class_names_with_separators_and_quotes(folder):
    path = folder / "labels.csv"
    path.write_text(
        'path,label\n"my photos/a 1.png","cats, big"\n"my photos/b.png","the ""dog"""\n',
        encoding="utf-8",
    )
    assert read_label_csv(path, folder) == {
        "my photos/a 1.png": "cats, big",
        "my photos/b.png": 'the "dog"',
    }


def test_header_columns_in_any_order(folder):
    path = folder / "labels.csv"
    path.write_text("Label;Path\ncat;my photos/b.png\n", encoding="utf-8")
    assert read_label_csv(path, folder) == {"my photos/b.png": "cat"}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_index_label_csv_in_every_dialect(tmp_path, dialect):
    text, encoding = DIALECTS[dialect]
    text = text.replace("path", "index").format(a="0", b="3")
    path = tmp_path / "labels.csv"
    path.write_bytes(text.encode(encoding))
    y = load_labels(path, 5)
    assert y.tolist() == ["cat", None, None, "dog", None]


def test_a_file_that_is_not_utf8_says_how_to_save_it(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes("path,label\nä.png,katze\n".encode("latin-1"))
    with pytest.raises(InputError, match="save it as 'CSV UTF-8'"):
        read_rows(path)


def test_bad_rows_name_their_row_number(folder):
    path = folder / "labels.csv"
    path.write_text("\ufeffpath;label\nmy photos/b.png;\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 2: expected 'path,label' with both given"):
        read_label_csv(path, folder)
    np.testing.assert_equal(read_rows(path), [["path", "label"], ["my photos/b.png", ""]])
