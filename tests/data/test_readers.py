"""Readers on generated files in the real formats; errors name the file and the problem (issue 3)."""

import functools
import hashlib
import http.server
import os
import pickle
import tarfile
import threading

import numpy as np
import pytest
from formats import write_cifar100, write_idx

from deeplabelprop import InputError
from deeplabelprop.data import (
    LoadOptions,
    load_cifar,
    load_dataset,
    load_idx_dataset,
    load_image_folder,
)
from deeplabelprop.data.readers.download import download, sha256_of

FASHION = "/usr/share/datasets/fashion-mnist"


def test_idx_dataset_train_and_test(idx_dir):
    tr = load_dataset("fashion-mnist", "train", idx_dir)
    te = load_dataset("fashion-mnist", "test", idx_dir)
    assert tr.images.shape == (30, 28, 28, 1) and tr.images.dtype == np.uint8
    assert te.images.shape == (10, 28, 28, 1) and te.labels.tolist() == list(range(10))
    assert tr.classes[0] == "T-shirt/top" and len(tr.classes) == 10 and tr.name == "fashion-mnist"


def test_idx_count_mismatch_and_missing(idx_dir):
    write_idx(idx_dir / "t10k-labels-idx1-ubyte.gz", np.zeros(9, np.uint8))
    with pytest.raises(
        InputError, match="holds 10 images but t10k-labels-idx1-ubyte.gz holds 9 labels"
    ):
        load_dataset("fashion-mnist", "test", idx_dir)
    with pytest.raises(InputError, match="not found in"):
        load_dataset("mnist", "train", idx_dir / "nowhere")


@pytest.fixture
def http_root(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/served (stopped after the test)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_verifies_sha256(http_root, tmp_path):
    served, url = http_root
    payload = os.urandom(5000)
    (served / "f.bin").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    dest = tmp_path / "dl" / "f.bin"
    assert (
        download([url + "missing.bin", url + "f.bin"], dest, good).read_bytes() == payload
    )  # first mirror 404
    assert sha256_of(dest) == good
    bad_dest = tmp_path / "dl" / "g.bin"
    with pytest.raises(InputError, match="does not match its SHA-256"):
        download([url + "f.bin"], bad_dest, "0" * 64)
    assert not bad_dest.exists() and not list((tmp_path / "dl").glob(".g.bin*"))
    with pytest.raises(InputError, match="could not download"):
        download([url + "nothing.bin"], tmp_path / "dl" / "n.bin", good)


def test_dataset_download_checks_the_official_hashes(http_root, tmp_path):
    served, url = http_root
    write_idx(served / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(InputError, match="does not match its SHA-256"):  # not the official file
        load_idx_dataset(
            "fashion-mnist", "train", tmp_path / "data", download_missing=True, mirrors=[url]
        )
    assert not (tmp_path / "data" / "train-images-idx3-ubyte.gz").exists()


@pytest.mark.skipif(
    not os.path.isdir(FASHION), reason="apt-get install dataset-fashion-mnist to run"
)
def test_real_fashion_mnist_package():
    tr, te = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", "test")
    assert tr.images.shape == (60000, 28, 28, 1) and te.images.shape == (10000, 28, 28, 1)
    assert (
        np.bincount(tr.labels).tolist() == [6000] * 10
        and np.bincount(te.labels).tolist() == [1000] * 10
    )


def test_cifar10_folder_and_archive(cifar10_dir, tmp_path):
    tr = load_cifar("cifar10", "train", cifar10_dir)
    te = load_cifar("cifar10", "test", cifar10_dir)
    assert tr.images.shape == (20, 32, 32, 3) and te.images.shape == (3, 32, 32, 3)
    assert tr.classes[0] == "airplane" and tr.classes[-1] == "truck"
    raw = pickle.loads(
        (cifar10_dir / "cifar-10-batches-py" / "data_batch_1").read_bytes(), encoding="bytes"
    )
    # channel-first rows of 3072 bytes become (32, 32, 3)
    np.testing.assert_array_equal(
        tr.images[0], raw[b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    )
    archive = tmp_path / "arch" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(cifar10_dir / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    np.testing.assert_array_equal(load_cifar("cifar10", "train", archive.parent).images, tr.images)
    truncated = tmp_path / "trunc" / "cifar-10-python.tar.gz"
    truncated.parent.mkdir()
    truncated.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(InputError, match="tar.gz"):
        load_cifar("cifar10", "train", truncated.parent)


def test_cifar100_fine_and_coarse(tmp_path):
    write_cifar100(tmp_path, np.random.default_rng(1), 6, 2)
    fine = load_dataset("cifar100", "train", tmp_path)
    coarse = load_dataset("cifar100-coarse", "train", tmp_path)
    assert len(fine.classes) == 100 and len(coarse.classes) == 20
    np.testing.assert_array_equal(coarse.labels, fine.labels // 5)


def test_not_a_cifar_pickle(cifar10_dir):
    folder = cifar10_dir / "cifar-10-batches-py"
    (folder / "data_batch_3").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(InputError, match="data_batch_3 is not a CIFAR pickle"):
        load_cifar("cifar10", "train", cifar10_dir)
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"labels": [1]}))
    with pytest.raises(InputError, match="needs 'data'"):
        load_cifar("cifar10", "train", cifar10_dir)
    (folder / "data_batch_3").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")  # code in a pickle
    with pytest.raises(InputError, match="refusing to load"):
        load_cifar("cifar10", "train", cifar10_dir)


def _png(path, array):
    from PIL import Image

    Image.fromarray(array).save(path)


def test_image_folder_disk_cache_and_errors(tmp_path, caplog):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            _png(root / cls / f"{i}.png", rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
    disk = LoadOptions(cache="disk")
    ds = load_image_folder(root, "train", disk)
    assert (
        ds.images.shape == (6, 6, 5, 3)
        and ds.classes == ("cat", "dog")
        and ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
        and isinstance(ds.images, np.memmap)  # decoded once, then mapped, not read whole
    )
    cache = list((tmp_path / "cache" / "images").glob("*.npy"))
    assert len(cache) == 1
    marked = np.array(ds.images)
    marked[0, 0, 0, 0] ^= 255
    np.save(cache[0], marked)  # the second load must come from the cache
    assert load_image_folder(root, "train", disk).images[0, 0, 0, 0] == marked[0, 0, 0, 0]
    resized = load_image_folder(root, "train", LoadOptions(image_size=4))
    assert resized.images.shape == (6, 4, 4, 3)
    _png(root / "dog" / "big.png", np.zeros((9, 9, 3), np.uint8))
    with caplog.at_level("WARNING"):
        mixed = load_image_folder(root)  # mixed sizes: fitted to one size, with a warning
    assert mixed.images.shape == (7, 64, 64, 3) and "set image_size" in caplog.text
    (root / "dog" / "bad.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="bad.png"):
        load_image_folder(root, "train", LoadOptions(image_size=4))
    (root / "dog" / "bad.png").unlink()
    (root / "empty").mkdir()
    with pytest.raises(InputError, match="empty holds no image"):
        load_image_folder(root, "train", LoadOptions(image_size=4))


def test_grayscale_folder_has_one_channel(tmp_path):
    (tmp_path / "a").mkdir()
    _png(tmp_path / "a" / "x.png", np.zeros((4, 4), np.uint8))
    assert load_dataset(f"folder:{tmp_path}").images.shape == (1, 4, 4, 1)


def test_digits_and_npz_and_unknown(tmp_path):
    d = load_dataset("digits")
    assert d.images.shape == (1797, 8, 8, 1) and d.images.max() == 255 and len(d.classes) == 10
    with pytest.raises(InputError, match="digits has no 'test' split"):
        load_dataset("digits", "test")
    np.savez(tmp_path / "a.npz", images=d.images[:5, ..., 0], labels=d.labels[:5])
    assert load_dataset(f"npz:{tmp_path / 'a.npz'}").images.shape == (5, 8, 8, 1)
    np.savez(tmp_path / "f.npz", features=np.zeros((3, 2)))
    with pytest.raises(InputError, match="features"):
        load_dataset(f"npz:{tmp_path / 'f.npz'}")
    with pytest.raises(InputError, match="unknown dataset"):
        load_dataset("imagenet-22k")
