"""Atomic writes: a failure mid-write leaves the previous file intact and no temporary (issue 2)."""

import pytest

from deeplabelprop.atomic import atomic_path


def test_success_replaces(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # not visible until the block ends
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_failure_keeps_previous_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_creates_parent_directories(tmp_path):
    target = tmp_path / "a" / "b" / "out.bin"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x"


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("x")
        (tmp_path / "b.txt").write_text("x")  # what a plain open() gives under the same umask
    finally:
        os.umask(mask)
    assert (
        (tmp_path / "a.txt").stat().st_mode & 0o777
        == (tmp_path / "b.txt").stat().st_mode & 0o777
        == 0o644
    )
