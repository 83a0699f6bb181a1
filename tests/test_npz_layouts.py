"""`.npz` files in the layout keras.datasets gives (x_train/y_train/x_test/y_test) are read
as their splits; a file with neither layout is refused with the keys it should hold."""

import numpy as np
import pytest

from kerascon.data.dispatch import load_source
from kerascon.data.sources import from_npz, npz_split_arrays


@pytest.fixture
def keras_layout(tmp_path):
    """30 train and 12 test images of 3 classes, labels [N, 1] as keras.datasets has them."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (42, 8, 8, 3), dtype=np.uint8)
    y = np.repeat(np.arange(3), 14)[rng.permutation(42)].reshape(-1, 1)
    path = tmp_path / "small.npz"
    np.savez(path, x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:],
             class_names=np.array(["ant", "bee", "cat"]))
    return path, x, y


def test_split_pairs_are_the_splits(keras_layout):
    path, x, y = keras_layout
    train, test = from_npz(path, split="train"), from_npz(path, split="test")
    assert (train.num_examples, test.num_examples) == (30, 12)
    assert tuple(train.class_names) == tuple(test.class_names) == ("ant", "bee", "cat")
    assert train.name == "small:train" and test.name == "small:test"
    assert from_npz(path).num_examples == 42  # split None: every pair
    # The dispatcher reads test from x_test: no hold-out of the training pair.
    source = load_source(str(path), split="test")
    assert source.num_examples == 12 and source.holdout is None
    with pytest.raises(ValueError, match="no split 'val'.*available splits: train, test"):
        from_npz(path, split="val")


def test_npz_split_arrays_needs_both_arrays_of_a_pair():
    assert npz_split_arrays(["x_train", "y_train", "x_test"]) == {"train": ("x_train", "y_train")}
    assert npz_split_arrays(["images", "labels"]) == {}


def test_unknown_keys_are_refused_with_the_layouts(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, pixels=np.zeros((4, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError) as info:
        from_npz(path)
    message = str(info.value)
    assert "keys found: pixels" in message and "\n" not in message
    assert "images (or x)" in message and "x_train/y_train and x_test/y_test" in message
