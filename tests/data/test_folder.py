"""A user's own images (issue 17): every folder layout with string class names, images as they
come (modes, sizes, EXIF), clear errors before anything is written, and batches that do not
depend on the number of DataLoader workers."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from deeplabelprop import InputError
from deeplabelprop.data import (
    FileImages,
    ImageStream,
    InstanceAugment,
    LoadOptions,
    load_dataset,
    load_problem,
)
from deeplabelprop.data.images.files import decode_image
from deeplabelprop.data.readers.folder import list_folder

NAMES = ["zero", "one", "two"]


def png(path, array, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kw)


def digit_images(n_per_class=40, seed=0):
    """Three digit classes from scikit-learn's digits, upscaled to mixed sizes."""
    d = load_dataset("digits")
    rng = np.random.default_rng(seed)
    out = []
    for c in range(3):
        for i in np.flatnonzero(d.labels == c)[:n_per_class]:
            side = int(rng.integers(12, 25))
            img = Image.fromarray(d.images[i, :, :, 0]).resize((side, side), Image.BILINEAR)
            out.append((c, np.asarray(img)))
    return out


def user_folder(root, n_labeled=3, with_test=True):
    """labeled/<name>/ (n_labeled per class), unlabeled/ nested with opaque names, test/<name>/."""
    items = digit_images()
    by_class = {c: [a for k, a in items if k == c] for c in range(3)}
    for c, arrays in by_class.items():
        for j, a in enumerate(arrays):
            if j < n_labeled:
                png(root / "labeled" / NAMES[c] / f"img{j}.png", a)
            elif j < 30:
                png(root / "unlabeled" / f"batch{j % 2}" / f"x{c}_{j:03d}.png", a)
            elif with_test:
                png(root / "test" / NAMES[c] / f"t{j}.png", a)
    return root


def test_labeled_and_unlabeled_layout(tmp_path, caplog):
    root = user_folder(tmp_path / "photos")
    (root / "unlabeled" / "notes.txt").write_text("not an image")
    with caplog.at_level("INFO"):
        train = load_dataset(f"folder:{root}", options=LoadOptions(image_size=16))
    assert train.classes == tuple(sorted(NAMES)) and train.shape == (16, 16, 1)
    assert (train.labels >= 0).sum() == 9 and (train.labels < 0).sum() == 81
    assert train.paths[0] == "labeled/one/img0.png" and train.paths[-1].startswith(
        "unlabeled/batch1/"
    )
    assert "1 non-image file(s) ignored" in caplog.text
    problem = load_problem(f"folder:{root}", LoadOptions(image_size=16), n_labeled=100)
    assert problem.truth is None and problem.split is None and len(problem.test) == 30
    assert problem.test.classes == train.classes and problem.test.shape == train.shape
    assert any("n_labeled does not apply" in n for n in problem.notes)


def test_csv_layout_and_its_errors(tmp_path):
    root = tmp_path / "pile"
    items = digit_images(10)
    rows = ["path,label"]
    for i, (c, a) in enumerate(items):
        png(root / "all" / f"{i:04d}.png", a)
        if i % 10 == 0:
            rows.append(f"all/{i:04d}.png,{NAMES[c]}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "labels.log.jsonl").write_text("")  # the review page's log: ours, not ignored
    (root / "notes.txt").write_text("not an image")
    listed = list_folder(root, "train", LoadOptions(image_size=12))
    assert listed.ignored == 1  # notes.txt
    data = load_dataset(f"folder:{root}", options=LoadOptions(image_size=12))
    assert data.classes == ("one", "two", "zero") and (data.labels >= 0).sum() == 3
    assert data.labels[data.paths.index("all/0000.png")] == data.classes.index("zero")
    for text, match in [
        ("all/9999.png,zero\n", "all/9999.png does not exist"),
        ("all/0000.png,zero\nall/0000.png,one\n", "listed more than once"),
        ("all/0000.png,\n", "expected 'path,label' with both given"),
    ]:
        (root / "labels.csv").write_text(text)
        with pytest.raises(InputError, match=match):
            load_dataset(f"folder:{root}")
    (root / "labels.csv").write_text("all/0000.png,zero\nall/0001.png,one\n")
    png(root / "test" / "seven" / "a.png", items[0][1])  # a test class the labels do not have
    # issue 25: reported, and the run goes on (its test images count as errors)
    problem = load_problem(f"folder:{root}")
    assert problem.classes == ("one", "zero") and problem.test.classes[-1] == "seven"
    assert (problem.test.labels == 2).sum() == 1


def test_a_folder_nobody_labeled_yet_is_a_data_set(tmp_path):
    """Issue 25: the first step of the loop (choosing what to label) needs a folder with no
    labels to load: a flat folder of images, or unlabeled/ alone."""
    items = digit_images(n_per_class=4)
    for i, (_, a) in enumerate(items):
        png(tmp_path / "flat" / f"{i:03d}.png", a)
        png(tmp_path / "pool" / "unlabeled" / f"{i:03d}.png", a)
    for spec in (f"folder:{tmp_path / 'flat'}", f"folder:{tmp_path / 'pool'}"):
        data = load_dataset(spec)
        assert len(data) == 12 and data.classes == () and (data.labels == -1).all()


def test_imagenet_layout_resized_to_32(tmp_path):
    for split in ("train", "val"):
        for c in ("n01", "n02"):
            for i in range(3):
                png(
                    tmp_path / split / c / f"{i}.JPEG",
                    np.full((40, 50, 3), 60 * i, np.uint8),
                    format="JPEG",
                )
    train = load_dataset(f"imagenet:{tmp_path}", options=LoadOptions(image_size=32))
    test = load_dataset(f"imagenet:{tmp_path}", "test", options=LoadOptions(image_size=32))
    assert train.shape == (32, 32, 3) and train.fully_labeled and train.classes == ("n01", "n02")
    assert len(test) == 6 and test.paths[0] == "val/n01/0.JPEG"


def duplicate(root):
    """The same image (name and bytes) both labeled and in unlabeled/."""
    (root / "labeled" / "one" / "img0.png").rename(root / "labeled" / "one" / "dup.png")
    (root / "unlabeled" / "dup.png").write_bytes(
        (root / "labeled" / "one" / "dup.png").read_bytes()
    )


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda r: (r / "labeled" / "empty").mkdir(parents=True), "labeled/empty holds no image"),
        (
            lambda r: (r / "labeled").rename(r / "labelled"),
            "has no labeled image yet \\(its folders: labelled/, unlabeled/\\).*suggest.*"
            "features from `deeplabelprop embed` or from a `pretrain` config",
        ),
        (lambda r: duplicate(r), "dup.png is the same file as the labeled"),
        (
            lambda r: (r / "unlabeled" / "broken.png").write_bytes(b"\x89PNG\r\n garbage"),
            "broken.png",
        ),
    ],
)
def test_bad_folders_are_one_line_errors_before_anything_is_written(tmp_path, build, match):
    from tests.conftest import run_recipe

    root = user_folder(tmp_path / "photos", with_test=False)
    build(root)
    with pytest.raises(InputError, match=match):
        run_recipe("dmt", {"dataset": f"folder:{root}", "width": 4}, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_unreadable_files_can_be_skipped_and_counted(tmp_path, caplog):
    root = user_folder(tmp_path / "photos", with_test=False)
    (root / "unlabeled" / "broken.png").write_bytes(b"\x89PNG\r\n garbage")
    with caplog.at_level("WARNING"):
        data = load_dataset(f"folder:{root}", options=LoadOptions(image_size=16, unreadable="skip"))
    assert len(data) == 90 and "broken.png" not in data.paths
    assert "left out 1 unreadable file(s)" in caplog.text


def test_images_as_they_come(tmp_path):
    """Grey, RGB, RGBA, palette, 16-bit, WebP and an EXIF-rotated JPEG, decoded as specified."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    png(tmp_path / "rgba.png", np.dstack([rgb, np.full((6, 8), 7, np.uint8)]))
    assert np.array_equal(decode_image(tmp_path / "rgba.png", (6, 8), 3), rgb)  # alpha dropped
    png(tmp_path / "lossless.webp", rgb, lossless=True)
    assert np.array_equal(decode_image(tmp_path / "lossless.webp", (6, 8), 3), rgb)
    deep = rng.integers(0, 65536, (6, 8)).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")  # mode I;16
    np.testing.assert_array_equal(
        decode_image(tmp_path / "deep.png", (6, 8), 1)[..., 0],
        np.rint(deep / 257.0).astype(np.uint8),
    )
    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=4).save(tmp_path / "pal.png")
    pal = decode_image(tmp_path / "pal.png", (6, 8), 3)
    assert pal.shape == (6, 8, 3) and len({tuple(p) for p in pal.reshape(-1, 3)}) <= 4
    # a 40 × 20 JPEG stored sideways with EXIF orientation 6 (rotate 90° clockwise to view):
    # stored left half white, right half black → viewed top half white, bottom half black
    stored = np.zeros((20, 40), np.uint8)
    stored[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    viewed = decode_image(tmp_path / "rot.jpg", (40, 20), 1)[..., 0]
    assert viewed.shape == (40, 20) and viewed[:18].mean() > 240 and viewed[22:].mean() < 15
    # crop: the shorter side fits, the centre is kept
    wide = np.zeros((10, 30), np.uint8)
    wide[:, 10:20] = 255
    png(tmp_path / "wide.png", wide)
    assert decode_image(tmp_path / "wide.png", (10, 10), 1).min() == 255  # only the white centre
    assert decode_image(tmp_path / "wide.png", (10, 10), 1, "squash").min() == 0


def test_mixed_grey_and_colour_give_rgb(tmp_path):
    png(tmp_path / "labeled" / "a" / "g.png", np.full((8, 8), 100, np.uint8))
    png(tmp_path / "labeled" / "b" / "c.png", np.zeros((8, 8, 3), np.uint8))
    data = load_dataset(f"folder:{tmp_path}")
    assert data.shape == (8, 8, 3) and (np.asarray(data.images[[0]]) == 100).all()


@pytest.mark.parametrize("cache", ["none", "disk", "memory"])
def test_batches_do_not_depend_on_the_worker_count(tmp_path, cache):
    root = user_folder(tmp_path / "photos", with_test=False)
    data = load_dataset(f"folder:{root}", options=LoadOptions(image_size=16, cache=cache))
    seen = []
    for workers in (0, 1, 2):
        stream = ImageStream(
            data.images,
            InstanceAugment(),
            batch_size=16,
            seed=3,
            normalization=data.normalization,
            num_workers=workers,
        )
        seen.append([(b.index, b.pixels, stream.view(b)) for b in stream.batches(1)])
        seen[-1].append(stream.embed(torch.nn.Flatten(), head="forward"))
    for other in seen[1:]:
        for a, b in zip(seen[0], other, strict=True):
            for x, y in zip(
                a if isinstance(a, tuple) else (a,),
                b if isinstance(b, tuple) else (b,),
                strict=True,
            ):
                assert torch.equal(x, y)


def test_file_images_behave_like_an_array(tmp_path):
    root = user_folder(tmp_path / "photos", with_test=False)
    data = load_dataset(f"folder:{root}", options=LoadOptions(image_size=16, cache="none"))
    files = data.images
    assert (
        isinstance(files, FileImages) and files.shape == (90, 16, 16, 1) and files.dtype == np.uint8
    )
    memory = load_dataset(f"folder:{root}", options=LoadOptions(image_size=16, cache="memory"))
    assert np.array_equal(files[np.arange(90)], memory.images)
    assert np.array_equal(data.subset(np.array([5, 7])).images[np.arange(2)], memory.images[[5, 7]])


def test_npz_with_unlabeled_rows_is_memory_mapped(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 6, 6), dtype=np.uint8)
    labels = np.array([0, 1, 2] + [-1] * 17)
    np.savez(tmp_path / "a.npz", images=images, labels=labels, classes=np.array(NAMES))
    data = load_dataset(f"npz:{tmp_path / 'a.npz'}")
    assert (
        isinstance(data.images, np.memmap)
        and not data.fully_labeled
        and data.classes == tuple(NAMES)
    )
    assert np.array_equal(np.asarray(data.images[:, :, :, 0]), images)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels)
    (tmp_path / "c.npz").write_bytes(buf.getvalue())
    compressed = load_dataset(f"npz:{tmp_path / 'c.npz'}")  # extracted once, then mapped
    assert isinstance(compressed.images, np.memmap) and np.array_equal(
        compressed.images[..., 0], images
    )


def test_validation_fraction_holds_out_the_same_images_across_rounds(tmp_path):
    """Issue 25: the held-out labels are chosen by each image's name, so labels added in a
    later round do not change which earlier ones are held out (nor what a metric trained on)."""
    root = user_folder(tmp_path / "photos", n_labeled=8, with_test=False)
    first = load_problem(f"folder:{root}", validation_fraction=0.3)
    held = set(first.test.example_names())
    assert 0 < len(held) < 24 and all((first.given == k).any() for k in range(3))
    # a second round: 3 more labels per class through labels.csv
    rows = ["path,label"]
    for c, name in enumerate(NAMES):
        for p in sorted((root / "unlabeled").rglob(f"x{c}_*.png"))[:3]:
            rows.append(f"{p.relative_to(root)},{name}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    second = load_problem(f"folder:{root}", validation_fraction=0.3)
    assert held <= set(second.test.example_names())
    assert not held & set(second.train.example_names())
