"""Class splits for few-shot (issue 20): Fashion-MNIST's fixed one, CIFAR-FS from the official
CIFAR-100 pickles and Bertinetto et al.'s split files, mini-ImageNet from Ravi & Larochelle's
CSVs: small generated files in the real formats."""

import numpy as np
import pytest
from formats import write_cifar100
from PIL import Image

from deeplabelprop.data import LoadOptions, load_dataset
from deeplabelprop.data.problem.class_splits import FASHION, ClassSplit, class_split
from deeplabelprop.data.readers.mnist import SOURCES
from deeplabelprop.errors import InputError


def test_fashion_split_is_fixed_and_disjoint():
    split = class_split("fashion-mnist")
    assert split == FASHION and len(split.base) == 4 and len(split.novel) == 6
    classes = SOURCES["fashion-mnist"]["classes"]
    split.check(classes, "fashion-mnist")
    with pytest.raises(InputError, match="'Coat' is both a base and a novel class"):
        ClassSplit(("Coat",), ("Coat", "Bag")).check(classes, "x")
    with pytest.raises(InputError, match="no registered class split"):
        class_split("digits")


def test_cifar_fs_all_images_and_bertinettos_split(tmp_path):
    write_cifar100(tmp_path, np.random.default_rng(0), 50, 10)
    data = load_dataset("cifar-fs", data_dir=tmp_path)
    assert len(data) == 60 and len(data.classes) == 100 and data.shape == (32, 32, 3)
    with pytest.raises(InputError, match="cifar-fs/train.txt is missing"):
        class_split("cifar-fs", LoadOptions(data_dir=str(tmp_path)))
    splits = tmp_path / "cifar-fs"
    splits.mkdir()
    for name, rows in (("train", range(64)), ("val", range(64, 80)), ("test", range(80, 100))):
        (splits / f"{name}.txt").write_text("\n".join(f"f{i}" for i in rows) + "\n")
    split = class_split("cifar-fs", LoadOptions(data_dir=str(tmp_path)))
    assert (len(split.base), len(split.validation), len(split.novel)) == (64, 16, 20)
    split.check(data.classes, "cifar-fs")
    (splits / "test.txt").write_text("f80\nunicorn\n")
    with pytest.raises(InputError, match="novel class 'unicorn' is not a class"):
        class_split("cifar-fs", LoadOptions(data_dir=str(tmp_path))).check(data.classes, "x")


def mini_imagenet(root, per_class=3):
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    wnids = {"train": ["n01", "n02", "n03"], "val": ["n04"], "test": ["n05", "n06"]}
    for split, classes in wnids.items():
        lines = ["filename,label"]
        for c in classes:
            for j in range(per_class):
                name = f"{c}{j:08d}.jpg"
                Image.fromarray(rng.integers(0, 256, (84, 84, 3), dtype=np.uint8)).save(
                    root / "images" / name
                )
                lines.append(f"{name},{c}")
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return root


def test_mini_imagenet_images_and_ravi_larochelle_split(tmp_path):
    root = mini_imagenet(tmp_path / "mini")
    data = load_dataset(f"mini-imagenet:{root}")
    assert len(data) == 18 and data.classes == ("n01", "n02", "n03", "n04", "n05", "n06")
    assert data.shape == (84, 84, 3) and data.paths[0] == "n0100000000.jpg"
    assert np.array_equal(np.bincount(data.labels), [3] * 6)
    split = class_split(f"mini-imagenet:{root}")
    assert split == ClassSplit(("n01", "n02", "n03"), ("n05", "n06"), ("n04",))
    (root / "val.csv").write_text("file,wnid\n")
    with pytest.raises(InputError, match="val.csv: expected a header 'filename,label'"):
        load_dataset(f"mini-imagenet:{root}")
    (root / "val.csv").unlink()
    with pytest.raises(InputError, match="val.csv is missing"):
        class_split(f"mini-imagenet:{root}")
