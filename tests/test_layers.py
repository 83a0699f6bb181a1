"""Layers: projection head, L2 normalisation, preprocessing; and the package's top level."""

import keras
import numpy as np
import pytest

import kerascon
from kerascon.layers import ImagePreprocessing, L2Normalize, ProjectionHead


def _round_trip(layer):
    return keras.layers.deserialize(keras.layers.serialize(layer))


@pytest.mark.parametrize("head_type", ["mlp", "linear"])
def test_projection_head_shapes_norm_and_serialization(head_type):
    head = ProjectionHead(hidden_dim=32, output_dim=8, head_type=head_type)
    x = np.random.default_rng(0).normal(size=(5, 16)).astype("float32")
    z = keras.ops.convert_to_numpy(head(x))
    assert z.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, rtol=1e-5)
    expected_weights = 4 if head_type == "mlp" else 2
    assert len(head.weights) == expected_weights
    restored = _round_trip(head)
    assert restored.get_config() == head.get_config()
    assert restored.built  # the build config travels with the serialized layer
    restored.set_weights(head.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)), z, rtol=1e-6)


def test_projection_head_default_is_the_papers_mlp():
    head = ProjectionHead()
    head.build((None, 2048))
    assert [tuple(w.shape) for w in head.weights] == [(2048, 2048), (2048,), (2048, 128), (128,)]


def test_projection_head_is_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    head = ProjectionHead(hidden_dim=8, output_dim=4)
    z = head(np.ones((2, 6), "float32"))
    assert z.dtype == "float32"
    assert head.hidden.compute_dtype == "bfloat16"


def test_projection_head_rejects_bad_arguments():
    with pytest.raises(ValueError, match="head_type"):
        ProjectionHead(head_type="conv")
    with pytest.raises(ValueError, match="output_dim"):
        ProjectionHead(output_dim=0)


def test_l2_normalize_zero_vector_is_finite():
    out = keras.ops.convert_to_numpy(L2Normalize()(np.array([[3.0, 4.0], [0.0, 0.0]], "float32")))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


def test_image_preprocessing_takes_raw_uint8():
    layer = ImagePreprocessing(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    images = np.array([[[[0, 255, 51]]]], dtype="uint8")
    out = keras.ops.convert_to_numpy(layer(images))
    np.testing.assert_allclose(out[0, 0, 0], [(0 - 0.5) / 0.25, (1 - 0.5) / 0.25, (0.2 - 0.5) / 0.25],
                               rtol=1e-5)
    gray = keras.ops.convert_to_numpy(layer(np.full((1, 2, 2, 1), 255, "uint8")))
    assert gray.shape == (1, 2, 2, 3)
    assert _round_trip(layer).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="one entry per channel"):
        ImagePreprocessing(mean=(0.5,), std=(0.5, 0.5))
    with pytest.raises(ValueError, match="positive"):
        ImagePreprocessing(std=(0.2, 0.0, 0.2))


def test_top_level_exports_resolve():
    for name in kerascon.__all__:
        assert getattr(kerascon, name) is not None
    assert callable(kerascon.load_model)
    assert kerascon.SupConModel is kerascon.model.SupConModel
    with pytest.raises(AttributeError):
        kerascon.not_a_name
