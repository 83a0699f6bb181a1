"""SupConModel: stages, frozen encoder, saving, mixed precision and tf.distribute."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.losses import supcon_loss
from kerascon.model import SupConModel

IMAGE = 16


def tiny_encoder(batch_norm=True, name="tiny_encoder"):
    layers = [keras.Input((IMAGE, IMAGE, 3)), keras.layers.Conv2D(8, 3, padding="same")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers += [keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D()]
    return keras.Sequential(layers, name=name)


def tiny_model(num_classes=3, batch_norm=True, **kwargs):
    return SupConModel(tiny_encoder(batch_norm), num_classes, projection_dim=8,
                       projection_hidden_dim=16, **kwargs)


def make_data(n=16, views=2, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, views, IMAGE, IMAGE, 3)).astype("float32")
    y = rng.integers(0, num_classes, size=n).astype("int32")
    return x, y


def weights_of(layer):
    return [np.array(w) for w in layer.weights]


def changed(before, after):
    return any(not np.allclose(a, b) for a, b in zip(before, after))


def test_contrastive_stage_trains_encoder_and_head_only():
    keras.utils.set_random_seed(1)
    model = tiny_model()
    x, y = make_data()
    encoder, head, classifier = (weights_of(model.encoder), weights_of(model.projection_head),
                                 weights_of(model.classifier))
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert set(history.history) == {"loss"}
    assert changed(encoder, weights_of(model.encoder))
    assert changed(head, weights_of(model.projection_head))
    assert not changed(classifier, weights_of(model.classifier))


def test_evaluate_loss_is_supcon_of_the_projections():
    keras.utils.set_random_seed(2)
    model = tiny_model(temperature=0.2)
    x, y = make_data(n=8)
    model.compile(optimizer="sgd")
    result = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    projections = model(x, training=False)["projection"]
    expected = supcon_loss(projections, y, temperature=0.2)
    np.testing.assert_allclose(result["loss"], float(expected), rtol=1e-5)


def test_simclr_trains_without_labels():
    keras.utils.set_random_seed(3)
    model = tiny_model(num_classes=None, use_labels=False)
    x, _ = make_data()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_linear_stage_freezes_encoder_weights_and_batchnorm_statistics():
    keras.utils.set_random_seed(4)
    model = tiny_model()
    x, y = make_data()
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # moves BN statistics
    model.set_stage("linear")
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    encoder, head, classifier = (weights_of(model.encoder), weights_of(model.projection_head),
                                 weights_of(model.classifier))
    history = model.fit(x[:, 0], y, batch_size=8, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "top1", "top5"}
    assert not changed(encoder, weights_of(model.encoder))  # includes moving mean/variance
    assert not changed(head, weights_of(model.projection_head))
    assert changed(classifier, weights_of(model.classifier))
    assert [v.path for v in model.trainable_variables] == [v.path for v in model.classifier.weights]


def test_linear_stage_fits_separable_features():
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, size=60).astype("int32")
    x = np.zeros((60, IMAGE, IMAGE, 3), "float32")
    for c in range(3):  # class c is bright in channel c
        x[y == c, :, :, c] = 255.0
    model = tiny_model(stage="linear")
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.fit(x, y, batch_size=10, epochs=30, verbose=0)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert result["top1"] > 0.9
    assert result["top5"] == 1.0


def test_joint_stage_loss_is_ce_plus_weighted_supcon():
    keras.utils.set_random_seed(6)
    model = tiny_model(stage="joint", joint_weight=0.5)
    x, y = make_data(n=8)
    model.compile(optimizer="sgd")
    result = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    outputs = model(x, training=False)
    supcon = float(supcon_loss(outputs["projection"], y))
    logits = tf.reshape(outputs["logits"], (-1, 3))
    ce = float(tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
        np.repeat(y, 2), logits, from_logits=True)))
    np.testing.assert_allclose(result["supcon_loss"], supcon, rtol=1e-5)
    np.testing.assert_allclose(result["ce_loss"], ce, rtol=1e-5)
    np.testing.assert_allclose(result["loss"], ce + 0.5 * supcon, rtol=1e-5)
    before = weights_of(model.projection_head) + weights_of(model.classifier)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert changed(before[:4], weights_of(model.projection_head))
    assert changed(before[4:], weights_of(model.classifier))


def test_ce_stage_trains_encoder_and_classifier_not_head():
    keras.utils.set_random_seed(7)
    model = tiny_model(stage="ce")
    x, y = make_data()
    encoder, head = weights_of(model.encoder), weights_of(model.projection_head)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(x[:, 0], y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert changed(encoder, weights_of(model.encoder))
    assert not changed(head, weights_of(model.projection_head))


def test_stage_errors_are_actionable():
    model = tiny_model(num_classes=None)
    with pytest.raises(ValueError, match="needs a classifier"):
        model.set_stage("linear")
    with pytest.raises(ValueError, match="unknown stage"):
        model.set_stage("pretrain")
    model.compile(optimizer="sgd")
    model.set_stage("linear", num_classes=4)
    x, y = make_data(n=8, num_classes=4)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x[:, 0], y, verbose=0)
    model.set_stage("contrastive")
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="needs \\(inputs, labels\\) batches"):
        model.fit(x, verbose=0)
    simclr = tiny_model(num_classes=None, use_labels=False)
    simclr.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="one view per example and no labels"):
        simclr.fit(x[:, 0], y, verbose=0)
    with pytest.raises(ValueError, match="temperature"):
        tiny_model(temperature=0.0)
    with pytest.raises(ValueError, match="do not pass loss"):
        model.compile(optimizer="sgd", loss="mse")


def test_label_out_of_range_names_the_problem():
    model = tiny_model(stage="linear")
    model.compile(optimizer="sgd")
    x, _ = make_data(n=8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="label out of range"):
        model.fit(x[:, 0], np.full(8, 7, "int32"), batch_size=8, verbose=0)


def test_notebook_flow_save_and_load_keeps_stage_and_weights(tmp_path):
    keras.utils.set_random_seed(8)
    model = SupConModel.from_architecture("resnet18", num_classes=3, stem="cifar",
                                          width_multiplier=0.125, projection_dim=8,
                                          projection_hidden_dim=16)
    x, y = make_data(n=16)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.set_stage("linear")
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    model.fit(x[:, 0], y, batch_size=8, epochs=1, verbose=0)
    metrics = model.evaluate(x[:, 0], y, verbose=0, return_dict=True)
    predictions = model.predict(x[:4, 0], verbose=0)
    assert predictions["embedding"].shape == (4, 64)
    assert predictions["projection"].shape == (4, 8)
    np.testing.assert_allclose(np.linalg.norm(predictions["projection"], axis=1), 1.0, rtol=1e-5)
    assert predictions["logits"].shape == (4, 3)

    path = tmp_path / "supcon.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, SupConModel)
    assert restored.stage == "linear"
    again = restored.predict(x[:4, 0], verbose=0)
    for key in predictions:
        np.testing.assert_allclose(again[key], predictions[key], rtol=1e-5, atol=1e-6)
    restored_metrics = restored.evaluate(x[:, 0], y, verbose=0, return_dict=True)
    np.testing.assert_allclose(restored_metrics["loss"], metrics["loss"], rtol=1e-5)
    restored.fit(x[:, 0], y, batch_size=8, epochs=1, verbose=0)  # optimizer restored too


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_contrastive_step_is_finite(policy):
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(9)
    model = tiny_model()
    x, y = make_data(n=8)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    outputs = model(x[:, 0])
    assert outputs["projection"].dtype == "float32"
    assert model.encoder.compute_dtype == policy.split("_")[1]


def test_mirrored_strategy_fit_matches_single_device(two_replica_strategy):
    x, y = make_data(n=16, seed=10)
    keras.utils.set_random_seed(10)
    single = tiny_model(batch_norm=False)
    initial = single.get_weights()
    single.compile(optimizer=keras.optimizers.SGD(0.5))
    single.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

    strategy = two_replica_strategy
    with strategy.scope():
        mirrored = tiny_model(batch_norm=False)
        mirrored.set_weights(initial)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.5))
    history = mirrored.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for a, b in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_synchronized_batch_norm_under_mirrored_strategy_matches_single_device(
        two_replica_strategy):
    """With synchronised BN, two replicas see global batch statistics: same as one device."""
    from kerascon.layers import synchronize_batch_norm

    x, y = make_data(n=16, seed=11)
    keras.utils.set_random_seed(11)
    single = tiny_model(batch_norm=True)
    initial = single.get_weights()
    single.compile(optimizer=keras.optimizers.SGD(0.5))
    single.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

    results = {}
    for synchronized in (True, False):
        with two_replica_strategy.scope():
            mirrored = tiny_model(batch_norm=True)
            assert synchronize_batch_norm(mirrored.encoder, synchronized) == 1
            mirrored.set_weights(initial)
            mirrored.compile(optimizer=keras.optimizers.SGD(0.5))
        mirrored.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        results[synchronized] = mirrored.get_weights()
    for a, b in zip(single.get_weights(), results[True]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # Per-replica statistics differ from the global ones: the test can tell them apart.
    assert any(not np.allclose(a, b, rtol=1e-4, atol=1e-5)
               for a, b in zip(single.get_weights(), results[False]))


@pytest.mark.parametrize("policy,rtol", [("mixed_bfloat16", 5e-2), ("mixed_float16", 1e-2)])
def test_mixed_precision_loss_is_close_to_float32(policy, rtol):
    """Same weights, same batch: the mixed-precision losses stay close to float32's."""
    x, y = make_data(n=8, seed=12)
    keras.utils.set_random_seed(12)
    reference = tiny_model(stage="joint")
    weights = reference.get_weights()
    reference.compile(optimizer="sgd")
    expected = reference.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    keras.mixed_precision.set_global_policy(policy)
    mixed = tiny_model(stage="joint")
    mixed.set_weights(weights)
    mixed.compile(optimizer="sgd")
    result = mixed.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    for key in ("loss", "ce_loss", "supcon_loss"):
        np.testing.assert_allclose(result[key], expected[key], rtol=rtol)
