"""Writers for small files in the exact real formats (IDX, CIFAR pickles)."""

import gzip
import pickle
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


def write_cifar100(root, rng, n_train, n_test):
    """``root/cifar-100-python/`` (train, test, meta) with fine and coarse labels, class names
    f0..f99 and c0..c19."""
    folder = root / "cifar-100-python"
    folder.mkdir()
    for split, n in (("train", n_train), ("test", n_test)):
        b = cifar_batch(n, rng, key=b"fine_labels", n_classes=100)
        b[b"coarse_labels"] = (np.asarray(b[b"fine_labels"]) // 5).tolist()
        (folder / split).write_bytes(pickle.dumps(b, protocol=2))
    meta = {
        b"fine_label_names": [f"f{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"c{i}".encode() for i in range(20)],
    }
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
