"""Tests for kerascon.data: sources (TFDS, image folders, arrays, npz, embedded) and pipelines."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kerascon.data import (
    DataSource,
    dispatch,
    from_arrays,
    from_image_folder,
    from_npz,
    from_tfds,
    load_embedded,
    load_source,
    multiview_dataset,
    single_view_dataset,
)

# --------------------------------------------------------------------------- helpers


def _rand_image(h, w, c, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=np.uint8)


def _write(path, array, fmt="png"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    encoded = tf.io.encode_png(array) if fmt == "png" else tf.io.encode_jpeg(array, quality=95)
    with open(path, "wb") as f:
        f.write(encoded.numpy())


def _examples(ds):
    return [(img.numpy(), int(lab)) for img, lab in ds]


def _tiny_source(n=20, size=12, num_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    labels = np.arange(n) % num_classes
    return from_arrays(images, labels)


# --------------------------------------------------------------------------- arrays / npz


def test_from_arrays_grayscale_and_float():
    images = np.arange(5 * 6 * 7, dtype=np.float32).reshape(5, 6, 7) % 256
    src = from_arrays(images, np.array([0, 1, 2, 1, 0]), class_names=["a", "b", "c"])
    assert (src.num_examples, src.num_classes, src.class_names) == (5, 3, ("a", "b", "c"))
    assert src.image_shape == (6, 7, 3) and len(src) == 5
    ex = _examples(src.dataset)
    assert [lab for _, lab in ex] == [0, 1, 2, 1, 0]
    img = ex[0][0]
    assert img.dtype == np.uint8 and img.shape == (6, 7, 3)
    np.testing.assert_array_equal(img[..., 0], np.round(images[0]).astype(np.uint8))
    np.testing.assert_array_equal(img[..., 0], img[..., 2])
    spec = src.dataset.element_spec
    assert spec[0].dtype == tf.uint8 and spec[1].dtype == tf.int32


def test_from_arrays_errors():
    x = np.zeros((4, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="differ in length: 4 images vs 3 labels"):
        from_arrays(x, [0, 1, 2])
    with pytest.raises(ValueError, match=r"label 5 \(index 2\) is out of range \[0, 3\)"):
        from_arrays(x, [0, 1, 5, 2], num_classes=3)
    with pytest.raises(ValueError, match=r"label -1 .*out of range \[0, 2\)"):
        from_arrays(x, [0, 1, -1, 1], class_names=["a", "b"])
    with pytest.raises(ValueError, match="empty dataset"):
        from_arrays(np.zeros((0, 8, 8), np.uint8), [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        from_arrays(np.full((4, 8, 8), 0.5, np.float32), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="integer class indices"):
        from_arrays(x, [0.5, 1, 0, 1])
    with pytest.raises(ValueError, match="shape"):
        from_arrays(np.zeros((4, 8, 8, 2), np.uint8), [0, 1, 0, 1])


def test_from_npz(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, size=(6, 5, 5), dtype=np.uint8)
    path = tmp_path / "d.npz"
    np.savez_compressed(path, x=x, y=np.array([0, 1, 2, 0, 1, 2]), class_names=np.array(["r", "g", "b"]),
                        train_idx=np.array([0, 1, 2, 3]), test_idx=np.array([4, 5]))
    src = from_npz(path)
    assert (src.num_examples, src.class_names) == (6, ("r", "g", "b"))
    test = from_npz(str(path), split="test")
    assert test.num_examples == 2 and test.name == "d:test"
    np.testing.assert_array_equal(_examples(test.dataset)[0][0][..., 1], x[4])
    with pytest.raises(ValueError, match="available splits: test, train"):
        from_npz(path, split="val")
    bad = tmp_path / "bad.npz"
    np.savez(bad, pictures=x)
    with pytest.raises(ValueError, match="no 'images' or 'x' array; keys found: pictures"):
        from_npz(bad)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        from_npz(tmp_path / "nope.npz")


def test_embedded_digits():
    train = load_embedded("digits", split="train")
    test = load_embedded("digits", split="test")
    assert (train.num_examples, test.num_examples) == (1438, 359)
    assert train.num_classes == test.num_classes == 10
    assert train.class_names == tuple(str(i) for i in range(10))
    assert train.image_shape == (8, 8, 3)
    labels = np.array([lab for _, lab in test.dataset.as_numpy_iterator()])
    assert labels.min() == 0 and labels.max() == 9 and len(np.unique(labels)) == 10
    image, label = next(iter(train.dataset))
    assert image.dtype == tf.uint8 and image.shape == (8, 8, 3) and label.dtype == tf.int32
    assert load_embedded("digits", split="all").num_examples == 1797
    with pytest.raises(ValueError, match="available: digits"):
        load_embedded("mnist")


# --------------------------------------------------------------------------- image folders


def _mixed_folder(root):
    _write(f"{root}/cat/gray.png", _rand_image(10, 12, 1, 1))
    _write(f"{root}/cat/rgb.jpg", _rand_image(16, 16, 3, 2), fmt="jpeg")
    _write(f"{root}/dog/rgba.png", _rand_image(9, 9, 4, 3))
    _write(f"{root}/dog/sub/upper.PNG", _rand_image(7, 11, 3, 4))
    _write(f"{root}/dog/photo.JPEG", _rand_image(8, 8, 3, 5), fmt="jpeg")
    with open(f"{root}/dog/notes.txt", "w") as f:
        f.write("not an image")
    _write(f"{root}/dog/.hidden.png", _rand_image(4, 4, 3, 6))


def test_image_folder_mixed_formats(tmp_path):
    root = tmp_path / "pets"
    _mixed_folder(root)
    src = from_image_folder(root)
    assert src.class_names == ("cat", "dog") and src.num_classes == 2
    assert src.num_examples == 5 and src.skipped == () and src.image_shape is None
    ex = _examples(src.dataset)
    assert [lab for _, lab in ex] == [0, 0, 1, 1, 1]
    shapes = [img.shape for img, _ in ex]
    assert shapes == [(10, 12, 3), (16, 16, 3), (8, 8, 3), (9, 9, 3), (7, 11, 3)]
    assert all(img.dtype == np.uint8 for img, _ in ex)
    gray = _rand_image(10, 12, 1, 1)
    np.testing.assert_array_equal(ex[0][0], np.repeat(gray, 3, axis=-1))
    np.testing.assert_array_equal(ex[3][0], _rand_image(9, 9, 4, 3)[..., :3])  # alpha dropped


def test_image_folder_corrupt_raise_names_path(tmp_path):
    root = tmp_path / "data"
    _write(f"{root}/a/ok.png", _rand_image(6, 6, 3))
    _write(f"{root}/b/ok.png", _rand_image(6, 6, 3))
    bad = root / "b" / "003.png"
    bad.write_bytes(b"\x89PNG garbage, not really a png")
    with pytest.raises(ValueError) as info:
        from_image_folder(root)
    message = str(info.value)
    assert f"cannot decode image '{bad}'" in message
    assert "on_error='skip'" in message and "\n" not in message


def test_image_folder_skip_counts(tmp_path):
    root = tmp_path / "data"
    _write(f"{root}/a/ok.png", _rand_image(6, 6, 3))
    _write(f"{root}/b/ok.png", _rand_image(6, 6, 3))
    (root / "a" / "bad.jpg").write_bytes(b"garbage")
    truncated = tf.io.encode_png(_rand_image(6, 6, 3)).numpy()[:30]
    (root / "b" / "cut.png").write_bytes(truncated)
    src = from_image_folder(root, on_error="skip")
    assert src.num_examples == 2 and src.image_shape == (6, 6, 3)
    assert sorted(src.skipped) == sorted([str(root / "a" / "bad.jpg"), str(root / "b" / "cut.png")])
    assert [lab for _, lab in _examples(src.dataset)] == [0, 1]


def test_image_folder_missing_and_empty(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        from_image_folder(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"no class folders in '.*empty'.*one subfolder per class"):
        from_image_folder(empty)
    (empty / "cat").mkdir()
    (empty / "cat" / "readme.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"no images found in '.*empty'.*\.jpg/\.jpeg/\.png"):
        from_image_folder(empty)
    with pytest.raises(ValueError, match="on_error"):
        from_image_folder(empty, on_error="ignore")


# --------------------------------------------------------------------------- TFDS


def test_from_tfds_mock_cifar10():
    with tfds.testing.mock_data(num_examples=6):
        src = from_tfds("cifar10", split="train")
        ex = _examples(src.dataset)
    assert src.num_examples == 6 and len(ex) == 6
    assert src.num_classes == 10 and len(src.class_names) == 10  # names need real metadata
    assert src.image_shape == (32, 32, 3)
    assert ex[0][0].shape == (32, 32, 3) and ex[0][0].dtype == np.uint8
    assert all(0 <= lab < 10 for _, lab in ex)


class KerasconTinyShapes(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A tiny grayscale TFDS dataset prepared on disk by the tests."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(10, 10, 1)),
                "label": tfds.features.ClassLabel(names=["dark", "light", "mid"]),
            }),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(9), "test": self._generate_examples(3)}

    def _generate_examples(self, n):
        for i in range(n):
            value = [20, 230, 128][i % 3]
            yield i, {"image": np.full((10, 10, 1), value, np.uint8), "label": i % 3}


class KerasconOfflineData(tfds.core.GeneratorBasedBuilder):
    """A registered builder whose download always fails, like being offline."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(4, 4, 3)),
                "label": tfds.features.ClassLabel(num_classes=2),
            })
        )

    def _split_generators(self, dl_manager):
        raise ConnectionError("Failed to resolve host 'example.org'\n(multi-line detail)")

    def _generate_examples(self):
        yield from ()


def test_from_tfds_prepared_on_disk(tmp_path):
    data_dir = str(tmp_path / "tfds")
    KerasconTinyShapes(data_dir=data_dir).download_and_prepare()
    # The builder class is not registered: TFDS must read the prepared files from data_dir.
    train = from_tfds("kerascon_tiny_shapes", split="train", data_dir=data_dir)
    test = load_source("kerascon_tiny_shapes", split="test", data_dir=data_dir)
    assert (train.num_examples, test.num_examples) == (9, 3)
    assert train.class_names == ("dark", "light", "mid") and train.image_shape == (10, 10, 3)
    ex = _examples(train.dataset)
    assert ex[0][0].shape == (10, 10, 3) and ex[0][0].dtype == np.uint8
    for img, lab in ex:
        assert img[0, 0, 0] == img[0, 0, 2] == [20, 230, 128][lab]


def test_from_tfds_offline_error_and_unknown(tmp_path):
    data_dir = str(tmp_path / "tfds")
    with pytest.raises(RuntimeError) as info:
        from_tfds("kerascon_offline_data", data_dir=data_dir)
    message = str(info.value)
    assert "\n" not in message and "ConnectionError" in message
    assert "tfds build kerascon_offline_data" in message and data_dir in message
    with pytest.raises(RuntimeError, match="download=False"):
        from_tfds("kerascon_offline_data", data_dir=data_dir, download=False)
    with pytest.raises(ValueError, match="unknown TFDS dataset 'no_such_dataset_xyz'"):
        from_tfds("no_such_dataset_xyz", data_dir=data_dir)


# --------------------------------------------------------------------------- load_source


def test_load_source_dispatch(tmp_path, monkeypatch):
    assert load_source("digits").name == "digits:train"
    assert load_source("embedded:digits", split="test").num_examples == 359
    root = tmp_path / "imgs"
    _write(f"{root}/train/x/1.png", _rand_image(5, 5, 3))
    _write(f"{root}/train/y/2.png", _rand_image(5, 5, 3))
    src = load_source(str(root), split="train")
    assert src.class_names == ("x", "y") and src.num_examples == 2
    assert load_source(str(root / "train")).num_examples == 2
    with pytest.raises(ValueError, match="has no 'test/' subfolder for split='test'"):
        load_source(str(root), split="test")
    npz = tmp_path / "a.npz"
    np.savez(npz, images=np.zeros((3, 4, 4), np.uint8), labels=np.array([0, 1, 1]))
    assert load_source(str(npz)).num_examples == 3
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        load_source(str(tmp_path / "missing_dir"))
    # mock_data makes the download a no-op; the probe that fails fast offline must let it run.
    monkeypatch.setattr(dispatch, "_online", lambda *args, **kwargs: True)
    with tfds.testing.mock_data(num_examples=3):
        assert load_source("cifar10", split="test").num_examples == 3


# --------------------------------------------------------------------------- pipelines


def test_multiview_shapes_and_labels():
    src = _tiny_source(n=20)
    ds = multiview_dataset(src, views=3, batch_size=8, image_size=16, augment="simclr", seed=0)
    batches = list(ds)
    assert len(batches) == 2  # 20 // 8, remainder dropped
    views, labels = batches[0]
    assert views.shape == (8, 3, 16, 16, 3) and views.dtype == tf.float32
    assert labels.shape == (8,) and labels.dtype == tf.int32
    v = views.numpy()
    assert v.min() >= 0.0 and v.max() <= 255.0 and v.max() > 1.0
    assert not np.allclose(v[:, 0], v[:, 1]) and not np.allclose(v[:, 1], v[:, 2])
    all_labels = np.concatenate([lab.numpy() for _, lab in batches])
    assert len(set(all_labels.tolist())) > 1 and all_labels.min() >= 0 and all_labels.max() < 4


def test_multiview_seed_determinism_and_epochs():
    src = _tiny_source(n=16)

    def first_two(seed):
        ds = multiview_dataset(src, views=2, batch_size=8, image_size=12, seed=seed, crop_scale=(0.2, 1.0))
        return [(v.numpy(), lab.numpy()) for v, lab in ds], ds

    a, ds_a = first_two(7)
    b, _ = first_two(7)
    c, _ = first_two(8)
    for (va, la), (vb, lb) in zip(a, b):
        np.testing.assert_array_equal(va, vb)
        np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a[0][0], c[0][0])
    second_epoch = [v.numpy() for v, _ in ds_a]
    assert not np.array_equal(a[0][0], second_epoch[0])  # new augmentations every epoch


def test_multiview_unshuffled_keeps_order_and_repeat():
    src = _tiny_source(n=10)
    ds = multiview_dataset(src, views=1, batch_size=4, image_size=8, augment="none", shuffle=False,
                           drop_remainder=False)
    labels = np.concatenate([lab.numpy() for _, lab in ds])
    np.testing.assert_array_equal(labels, np.arange(10) % 4)
    views, _ = next(iter(ds))
    assert views.shape == (4, 1, 8, 8, 3)
    rep = multiview_dataset(src, batch_size=16, image_size=8, augment="flip_crop", repeat=True, seed=1)
    assert next(iter(rep))[0].shape == (16, 2, 8, 8, 3)


def test_single_view_dataset():
    src = _tiny_source(n=10, size=20)
    ds = single_view_dataset(src, batch_size=4, image_size=16)
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    images, labels = batches[0]
    assert images.shape == (4, 16, 16, 3) and images.dtype == tf.float32 and labels.dtype == tf.int32
    again = next(iter(single_view_dataset(src, batch_size=4, image_size=16)))[0]
    np.testing.assert_array_equal(images.numpy(), again.numpy())
    aug = single_view_dataset(src, batch_size=4, image_size=16, augment="flip_crop", shuffle=True, seed=3)
    aug2 = single_view_dataset(src, batch_size=4, image_size=16, augment="flip_crop", shuffle=True, seed=3)
    x1, x2 = next(iter(aug))[0].numpy(), next(iter(aug2))[0].numpy()
    np.testing.assert_array_equal(x1, x2)
    assert x1.min() >= 0 and x1.max() <= 255


def test_pipeline_argument_errors():
    src = _tiny_source(n=6)
    with pytest.raises(ValueError, match="views must be an integer >= 1"):
        multiview_dataset(src, views=0, batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        multiview_dataset(src, batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        single_view_dataset(src, batch_size=-1, image_size=8)
    with pytest.raises(ValueError, match="no batch would be produced"):
        multiview_dataset(src, batch_size=8)
    with pytest.raises(ValueError, match="valid policies"):
        multiview_dataset(src, batch_size=2, augment="mixup")
    empty = DataSource(dataset=src.dataset.take(0), num_examples=0, num_classes=4,
                       class_names=("0", "1", "2", "3"), name="nothing")
    with pytest.raises(ValueError, match="dataset is empty: source 'nothing'"):
        multiview_dataset(empty, batch_size=2)
    with pytest.raises(ValueError, match="dataset is empty"):
        single_view_dataset(empty, batch_size=2, image_size=8)


def test_image_folder_through_pipeline(tmp_path):
    root = tmp_path / "pets"
    _mixed_folder(root)
    src = from_image_folder(root)
    ds = multiview_dataset(src, views=2, batch_size=5, image_size=8, augment="flip_crop", seed=0)
    views, labels = next(iter(ds))
    assert views.shape == (5, 2, 8, 8, 3)
    assert sorted(labels.numpy().tolist()) == [0, 0, 1, 1, 1]
