"""Writers for small files in the exact real formats (IDX, CIFAR pickles)."""

import gzip
import struct

import numpy as np


def write_idx(path, array, code=0x08, compress=True):
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def cifar_batch(n, rng, key=b"labels", n_classes=10):
    return {
        b"batch_label": b"x",
        key: rng.integers(0, n_classes, n).tolist(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"f"] * n,
    }
