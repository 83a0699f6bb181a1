"""kerascon.losses against a loop-by-loop transcription of the paper's formula."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from loss_reference import reference_supcon

from kerascon.losses import SimCLRLoss, SupConLoss, simclr_loss, supcon_loss


def _random_case(seed, batch=6, views=2, dim=5, num_classes=3):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, views, dim)).astype("float32")
    labels = rng.integers(0, num_classes, size=batch)
    return features, labels


def _value_and_grad(features, labels=None, **kwargs):
    x = tf.Variable(features)
    with tf.GradientTape() as tape:
        loss = supcon_loss(x, labels, **kwargs)
    return loss.numpy(), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize(
    "views,use_labels,variant,contrast_mode",
    list(itertools.product([1, 2, 3, 4], [False, True], ["out", "in"], ["all", "one"])),
)
def test_matches_paper_transcription(views, use_labels, variant, contrast_mode):
    features, labels = _random_case(seed=views * 7 + use_labels, views=views)
    labels = labels if use_labels else None
    if views == 1 and not use_labels:  # no positive is possible: an error, not a silent 0
        with pytest.raises(ValueError, match="one view and no labels gives no positives"):
            supcon_loss(features, labels, variant=variant, contrast_mode=contrast_mode)
        return
    expected = reference_supcon(
        features, labels, temperature=0.1, variant=variant, contrast_mode=contrast_mode
    )
    actual = supcon_loss(
        features, labels, temperature=0.1, variant=variant, contrast_mode=contrast_mode
    )
    np.testing.assert_allclose(float(actual), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("temperature", [0.05, 0.07, 0.5, 1.0])
def test_temperatures_and_base_temperature(temperature):
    features, labels = _random_case(seed=3, batch=8, views=2, dim=7)
    expected = reference_supcon(features, labels, temperature=temperature)
    np.testing.assert_allclose(
        float(supcon_loss(features, labels, temperature=temperature)), expected, rtol=1e-5
    )
    scaled = supcon_loss(features, labels, temperature=temperature, base_temperature=0.07)
    np.testing.assert_allclose(float(scaled), expected * temperature / 0.07, rtol=1e-5)


def test_custom_mask_matches_reference():
    features, _ = _random_case(seed=11, batch=5, views=2)
    rng = np.random.default_rng(0)
    mask = (rng.random((5, 5)) > 0.6).astype("float32")
    expected = reference_supcon(features, mask=mask)
    np.testing.assert_allclose(float(supcon_loss(features, mask=mask)), expected, rtol=1e-5)


def test_labels_equal_to_mask_of_equal_labels():
    features, labels = _random_case(seed=5)
    mask = (labels[:, None] == labels[None, :]).astype("float32")
    np.testing.assert_allclose(
        float(supcon_loss(features, labels)), float(supcon_loss(features, mask=mask)), rtol=1e-6
    )


def test_without_labels_is_simclr_nt_xent():
    features, _ = _random_case(seed=9, batch=4, views=2)
    # NT-Xent written out for 2 views: positive of view (i, 0) is (i, 1).
    z = features / np.linalg.norm(features, axis=-1, keepdims=True)
    z = np.concatenate([z[:, 0], z[:, 1]]).astype(np.float64)
    sim = z @ z.T / 0.1
    n = 4
    total = 0.0
    for k in range(2 * n):
        positive = (k + n) % (2 * n)
        others = [j for j in range(2 * n) if j != k]
        total += -sim[k, positive] + np.log(np.sum(np.exp(sim[k, others])))
    np.testing.assert_allclose(float(simclr_loss(features)), total / (2 * n), rtol=1e-5)


def test_invariant_to_batch_order():
    features, labels = _random_case(seed=21, batch=10, views=3)
    permutation = np.random.default_rng(1).permutation(10)
    for kwargs in ({}, {"variant": "in"}, {"contrast_mode": "one"}):
        a = supcon_loss(features, labels, **kwargs)
        b = supcon_loss(features[permutation], labels[permutation], **kwargs)
        np.testing.assert_allclose(float(a), float(b), rtol=1e-6)


def test_one_class_everything_positive():
    features, _ = _random_case(seed=2, batch=6, views=2)
    labels = np.zeros(6, dtype="int32")
    value, grad = _value_and_grad(features, labels)
    np.testing.assert_allclose(value, reference_supcon(features, labels), rtol=1e-5)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("variant", ["out", "in"])
def test_all_classes_distinct_one_view_has_no_positive(variant):
    features, _ = _random_case(seed=4, batch=6, views=1)
    value, grad = _value_and_grad(features, np.arange(6), variant=variant)
    assert value == 0.0
    assert np.all(grad == 0.0)


def test_anchors_without_positive_are_left_out_of_the_mean():
    features, _ = _random_case(seed=6, batch=5, views=1)
    labels = np.array([0, 0, 1, 2, 3])  # only the two 0s have a positive
    value, grad = _value_and_grad(features, labels)
    np.testing.assert_allclose(value, reference_supcon(features, labels), rtol=1e-5)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("variant", ["out", "in"])
def test_identical_features_are_finite(variant):
    features = np.ones((4, 2, 8), dtype="float32")
    labels = np.array([0, 1, 0, 1])
    value, grad = _value_and_grad(features, labels, variant=variant)
    # All similarities are equal: each positive has probability 1 / (2N - 1).
    if variant == "out":
        np.testing.assert_allclose(value, np.log(7.0), rtol=1e-6)
    np.testing.assert_allclose(value, reference_supcon(features, labels, variant=variant), rtol=1e-5)
    assert np.all(np.isfinite(grad))


def test_zero_features_and_tiny_temperature_stay_finite():
    features, labels = _random_case(seed=8)
    features[0] = 0.0
    for temperature in (1e-3, 0.01):
        for variant in ("out", "in"):
            value, grad = _value_and_grad(features, labels, temperature=temperature, variant=variant)
            assert np.isfinite(value)
            assert np.all(np.isfinite(grad))


def test_single_example_single_view_is_zero_not_nan():
    value, grad = _value_and_grad(np.ones((1, 1, 4), "float32"), np.array([3]))
    assert value == 0.0 and np.all(grad == 0.0)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_inputs_computed_in_float32(dtype):
    features, labels = _random_case(seed=12, batch=8, views=2, dim=16)
    low = tf.cast(features, dtype)
    loss = supcon_loss(low, labels)
    assert loss.dtype == tf.float32
    rounded = tf.cast(low, "float32").numpy()
    np.testing.assert_allclose(float(loss), reference_supcon(rounded, labels), rtol=1e-5)
    x = tf.Variable(low)
    with tf.GradientTape() as tape:
        value = supcon_loss(x, labels)
    grad = tape.gradient(value, x)
    assert grad.dtype == tf.as_dtype(dtype)
    assert np.all(np.isfinite(tf.cast(grad, "float32").numpy()))


def test_gradient_matches_finite_differences():
    features, labels = _random_case(seed=13, batch=4, views=2, dim=3)
    features = features.astype("float64")
    _, grad = _value_and_grad(tf.constant(features, "float32").numpy(), labels)
    eps = 1e-4
    numeric = np.zeros_like(features)
    for idx in np.ndindex(features.shape):
        plus, minus = features.copy(), features.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric[idx] = (reference_supcon(plus, labels) - reference_supcon(minus, labels)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"features": np.zeros((4, 8), "float32")}, "features must have shape"),
        ({"features": np.zeros((4, 0, 8), "float32")}, "at least 1 view"),
        ({"labels": np.arange(3)}, "labels has 3 entries"),
        ({"temperature": 0.0}, "temperature must be a positive"),
        ({"temperature": -0.1}, "temperature must be a positive"),
        ({"base_temperature": 0.0}, "base_temperature must be a positive"),
        ({"variant": "middle"}, "variant must be one of"),
        ({"contrast_mode": "two"}, "contrast_mode must be one of"),
        ({"mask": np.ones((4, 4))}, "not both"),
    ],
)
def test_bad_input_names_the_problem(kwargs, message):
    args = {"features": np.zeros((4, 2, 8), "float32"), "labels": np.arange(4)}
    args.update(kwargs)
    features = args.pop("features")
    labels = args.pop("labels")
    with pytest.raises(ValueError, match=message):
        supcon_loss(features, labels, **args)


def test_loss_class_serializes_and_matches_function():
    loss = SupConLoss(temperature=0.2, base_temperature=0.07, variant="in", contrast_mode="one")
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, SupConLoss)
    assert restored.get_config() == loss.get_config()
    features, labels = _random_case(seed=14)
    expected = supcon_loss(features, labels, temperature=0.2, base_temperature=0.07,
                           variant="in", contrast_mode="one")
    np.testing.assert_allclose(float(restored(labels, features)), float(expected), rtol=1e-6)
    simclr = keras.losses.deserialize(keras.losses.serialize(SimCLRLoss(temperature=0.5)))
    np.testing.assert_allclose(
        float(simclr(labels, features)), float(simclr_loss(features, temperature=0.5)), rtol=1e-6
    )
    with pytest.raises(ValueError, match="temperature"):
        SupConLoss(temperature=0)


def test_loss_class_accepts_single_view_embeddings_in_compile_and_fit():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=64)
    centers = rng.normal(size=(3, 6)) * 2
    x = (centers[labels] + rng.normal(size=(64, 6))).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=SupConLoss(temperature=0.5))
    history = model.fit(x, labels, batch_size=16, epochs=5, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_float64_features_beyond_float32_range_stay_finite():
    # Found by the property-based test: casting to float32 before normalising gave inf/NaN.
    x = np.random.default_rng(0).normal(size=(4, 2, 3)) * 1e39
    labels = np.array([0, 1, 0, 1])
    huge = float(supcon_loss(tf.constant(x), labels))
    plain = float(supcon_loss(tf.constant(x / 1e39, tf.float32), labels))
    assert np.isfinite(huge) and abs(huge - plain) < 1e-4
