"""IDX reader on files written by the test in the exact real format."""

import os
import struct

import numpy as np
import pytest
from formats import write_idx

from deeplabelprop import InputError
from deeplabelprop.data import read_idx

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    p = tmp_path / ("x.idx.gz" if compress else "x.idx")
    write_idx(p, images, compress=compress)
    np.testing.assert_array_equal(read_idx(p), images)
    floats = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    write_idx(tmp_path / "f.idx", floats, code=0x0D, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)


def test_corruption_is_a_clear_error(tmp_path):
    images = np.zeros((4, 2, 2), dtype=np.uint8)
    good = tmp_path / "good.gz"
    write_idx(good, images)
    truncated = tmp_path / "trunc.gz"
    truncated.write_bytes(good.read_bytes()[:-6])
    with pytest.raises(InputError, match="truncated"):
        read_idx(truncated)
    short = tmp_path / "short.idx"
    short.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 4, 2, 2) + b"\0" * 10)
    with pytest.raises(InputError, match="needs 32"):
        read_idx(short)
    magic = tmp_path / "magic.idx"
    magic.write_bytes(b"\x1f\x8b\x08\x00" + b"\0" * 20)
    with pytest.raises(InputError, match="wrong magic number"):
        read_idx(magic)


@pytest.mark.skipif(
    not os.path.isdir(FASHION), reason="apt-get install dataset-fashion-mnist to run"
)
def test_real_fashion_mnist():
    x = read_idx(f"{FASHION}/train-images-idx3-ubyte.gz")
    y = read_idx(f"{FASHION}/train-labels-idx1-ubyte.gz")
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [6000] * 10
    assert read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz").shape == (10000, 28, 28)
