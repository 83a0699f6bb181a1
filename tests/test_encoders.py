"""Tests for kerascon.encoders (ResNet encoders and check_encoder).

Real Keras, no mocks. Models are tiny (width 0.125, 32x32 inputs) and built
once per (architecture, stem) to keep the suite fast on CPU.
"""

import functools
import os
import re

import keras
import numpy as np
import pytest

from kerascon.encoders import (
    build_encoder,
    build_resnet,
    check_encoder,
    get_architecture,
    list_architectures,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnet200,
    resnet_feature_dim,
)

WIDTH = 0.125
SHAPE = (32, 32, 3)
# The four-stage ResNets (both stems). keras_* backbones: tests/test_keras_applications.py;
# the CIFAR ResNets (resnet20 ... resnet110): tests/test_cifar_resnets.py.
ARCHS = [name for name in list_architectures("resnet*") if get_architecture(name).family == "resnet"]
# A .keras round trip of the deepest nets costs 10-20 s each on CPU (variable
# creation for ~700 layers) and exercises the same layer types as
# resnet18/34/50, so by default it runs on the architectures other than these;
# set KERASCON_SLOW_TESTS=1 to run it on every registered architecture.
SLOW = os.environ.get("KERASCON_SLOW_TESTS", "") not in ("", "0")
_DEEP = {"resnet101", "resnet152", "resnet200"}


#: Every architecture; the deep ones (the cost is layer count, not new layer types) are slow.
ARCH_PARAMS = [pytest.param(a, marks=pytest.mark.slow) if a in _DEEP else a for a in ARCHS]


def _encoder(arch, stem):
    return build_encoder(arch, stem=stem, width_multiplier=WIDTH, input_shape=SHAPE)


def _expected_dim(arch):
    return int(get_architecture(arch).feature_dim * WIDTH)


def _images(n=2, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _check_forward(enc, arch):
    dim = _expected_dim(arch)
    assert tuple(enc.output.shape) == (None, dim)
    y = _np(enc(_images(2), training=False))
    assert y.shape == (2, dim)
    assert np.all(np.isfinite(y))


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


# --------------------------------------------------------------------------
# Every registered architecture, both stems: forward, one training step,
# .keras round trip. Each test builds its model once (builds dominate cost).
# --------------------------------------------------------------------------


def test_all_resnets_registered():
    assert {f"resnet{d}" for d in (18, 34, 50, 101, 152, 200)} <= set(ARCHS)


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_cifar_stem_forward_and_training_step(arch):
    enc = _encoder(arch, "cifar")
    assert "stem_pool" not in {lyr.name for lyr in enc.layers}
    assert tuple(enc.output.shape) == (None, _expected_dim(arch))
    assert check_encoder(enc, SHAPE) == _expected_dim(arch)
    # The real forward pass of this stem runs inside fit (training mode).

    inputs = keras.Input(SHAPE)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(enc(inputs)))
    # Eager: tracing a 200-layer train step costs ~1 min on CPU.
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="mse", run_eagerly=True)
    watched = ["stem_conv", "stage4_block0_conv1"]
    before = {n: _np(enc.get_layer(n).kernel).copy() for n in watched}
    x = _images(4, seed=1)
    y = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for n in watched:
        assert not np.allclose(before[n], _np(enc.get_layer(n).kernel)), n


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_imagenet_stem_forward_and_keras_round_trip(arch, tmp_path):
    enc = _encoder(arch, "imagenet")
    assert "stem_pool" in {lyr.name for lyr in enc.layers}
    _check_forward(enc, arch)
    if arch in _DEEP and not SLOW:
        return  # round trip covered by the shallower nets (see SLOW above)
    path = tmp_path / f"{arch}.keras"
    keras.saving.save_model(enc, path)
    loaded = keras.saving.load_model(path)
    assert [lyr.name for lyr in loaded.layers] == [lyr.name for lyr in enc.layers]
    x = _images(2, seed=3)
    np.testing.assert_allclose(
        _np(loaded(x, training=False)), _np(enc(x, training=False)), rtol=1e-5, atol=1e-5
    )


# --------------------------------------------------------------------------
# Architecture details.
# --------------------------------------------------------------------------


def _trainable_params(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("depth, expected", [(18, 11_176_512), (50, 23_508_032)])
def test_parameter_counts_match_torchvision(depth, expected):
    # torchvision resnet18 / resnet50 parameter counts minus the fc layer.
    enc = build_resnet(depth, stem="imagenet", input_shape=(224, 224, 3))
    assert _trainable_params(enc) == expected
    assert enc.output.shape[-1] == resnet_feature_dim(depth)
    # 224 -> 112 (conv) -> 56 (pool) -> 56, 28, 14, 7.
    assert enc.get_layer("stem_conv").output.shape[1:3] == (112, 112)
    assert enc.get_layer("stem_pool").output.shape[1:3] == (56, 56)
    last = len([lyr for lyr in enc.layers if lyr.name.startswith("stage4_") and lyr.name.endswith("_out")])
    assert enc.get_layer(f"stage4_block{last - 1}_out").output.shape[1:3] == (7, 7)


def test_cifar_stem_final_feature_map_is_4x4():
    enc = _encoder("resnet18", "cifar")
    assert enc.get_layer("stem_conv").output.shape[1:3] == (32, 32)
    assert enc.get_layer("stage1_block1_out").output.shape[1:3] == (32, 32)
    assert tuple(enc.get_layer("stage4_block1_out").output.shape) == (None, 4, 4, 64)
    assert enc.get_layer("stem_conv").kernel.shape == (3, 3, 3, 8)
    assert enc.name == "resnet18"
    assert np.all(_np(enc.get_layer("stage1_block0_bn2").gamma) == 1)  # no zero init
    # Identity shortcuts where shape is unchanged (stage 1 of a basic-block net).
    names = {lyr.name for lyr in enc.layers}
    assert "stage1_block0_shortcut_conv" not in names
    assert "stage2_block0_shortcut_conv" in names
    assert "stage2_block1_shortcut_conv" not in names
    assert enc.get_layer("stage2_block0_conv1").strides == (2, 2)  # basic: on conv1
    assert enc.get_layer("stage2_block0_pad1").padding == ((1, 1), (1, 1))


def test_bottleneck_stride_on_3x3_conv_and_layer_naming():
    enc = _encoder("resnet50", "cifar")
    conv1 = enc.get_layer("stage2_block0_conv1")
    conv2 = enc.get_layer("stage2_block0_conv2")
    assert conv1.kernel_size == (1, 1) and conv1.strides == (1, 1)
    assert conv2.kernel_size == (3, 3) and conv2.strides == (2, 2)
    assert enc.get_layer("stage2_block0_shortcut_conv").strides == (2, 2)
    assert enc.get_layer("stage2_block0_pad2").padding == ((1, 1), (1, 1))
    # Stage 1 block 0 needs a projection (8 -> 32 channels) but no stride.
    assert enc.get_layer("stage1_block0_shortcut_conv").strides == (1, 1)
    assert enc.get_layer("stage1_block0_conv3").filters == 32

    pattern = re.compile(
        r"^(stem_(conv|bn)|stage[1-4]_block\d+_((conv|bn)[123]|shortcut_(conv|bn)))$"
    )
    weighted = [lyr for lyr in enc.layers if lyr.weights]
    for layer in weighted:
        assert pattern.match(layer.name), layer.name
        if isinstance(layer, keras.layers.Conv2D):
            assert not layer.use_bias
            init = layer.kernel_initializer.get_config()
            assert init["scale"] == 2.0 and init["mode"] == "fan_out"
            assert init["distribution"] == "untruncated_normal"
        else:
            assert isinstance(layer, keras.layers.BatchNormalization)
            assert layer.momentum == pytest.approx(0.9)
            assert layer.epsilon == pytest.approx(1e-5)
    names = {lyr.name for lyr in weighted}
    for s, n in zip(range(1, 5), (3, 4, 6, 3)):
        for k in range(n):
            for i in (1, 2, 3):
                assert f"stage{s}_block{k}_conv{i}" in names
                assert f"stage{s}_block{k}_bn{i}" in names
    assert enc.layers[-1].name == "avg_pool"


@functools.lru_cache(maxsize=1)
def _flexible_resnet18():
    """ImageNet stem, any spatial size, width 0.1, zero-init residuals."""
    return build_resnet(18, stem="imagenet", width_multiplier=0.1, zero_init_residual=True)


def test_imagenet_stem_padding_matches_pytorch():
    enc = _flexible_resnet18()
    # Odd input: PyTorch gives floor((33 + 6 - 7) / 2) + 1 = 17, then pool 9.
    stem = keras.Model(enc.input, [enc.get_layer(n).output for n in ("stem_conv", "stem_pool")])
    conv_out, pool_out = stem(keras.Input((33, 33, 3)))
    assert conv_out.shape[1:3] == (17, 17) and pool_out.shape[1:3] == (9, 9)
    # Numerical check of the 7x7/2 conv against symmetric pad-3 convolution.
    x = _images(1, seed=4, shape=(33, 33, 3))
    got = _np(stem(x)[0])
    kernel = _np(enc.get_layer("stem_conv").kernel)  # (7, 7, 3, 6)
    xp = np.pad(x, ((0, 0), (3, 3), (3, 3), (0, 0)))
    ref = np.zeros((1, 17, 17, kernel.shape[-1]), np.float32)
    for i in range(17):
        for j in range(17):
            patch = xp[0, 2 * i : 2 * i + 7, 2 * j : 2 * j + 7, :]
            ref[0, i, j] = np.einsum("hwc,hwco->o", patch, kernel)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_zero_init_residual():
    enc = _flexible_resnet18()
    assert np.all(_np(enc.get_layer("stage1_block0_bn2").gamma) == 0)
    assert np.all(_np(enc.get_layer("stage4_block1_bn2").gamma) == 0)
    assert np.all(_np(enc.get_layer("stage1_block0_bn1").gamma) == 1)
    assert np.all(_np(enc.get_layer("stage2_block0_shortcut_bn").gamma) == 1)
    # Bottleneck nets: see test_mixed_precision_bottleneck_zero_init (bn3).


def test_width_multiplier_rounding_and_none_spatial_dims():
    enc = _flexible_resnet18()  # width 0.1: round(6.4) = 6 base channels
    assert enc.get_layer("stem_conv").filters == 6
    assert enc.get_layer("stage3_block0_conv1").filters == 26  # round(25.6)
    assert enc.output.shape[-1] == 51  # round(51.2)
    assert tuple(enc.input.shape) == (None, None, None, 3)
    y = _np(enc(_images(1, shape=(40, 48, 3)), training=False))
    assert y.shape == (1, 51)
    assert resnet_feature_dim(50, 1e-3) == 4  # at least 1 channel, times 4
    assert resnet_feature_dim(18, 1e-3) == 1


def test_convenience_functions_and_names():
    assert [f.__name__ for f in (resnet18, resnet34, resnet50, resnet101, resnet152, resnet200)] == [
        f"resnet{d}" for d in (18, 34, 50, 101, 152, 200)
    ]
    assert resnet18(width_multiplier=WIDTH, name="enc").name == "enc"
    assert [resnet_feature_dim(d) for d in (18, 34, 50, 101, 152, 200)] == [
        512, 512, 2048, 2048, 2048, 2048
    ]


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"18, 34, 50, 101, 152, 200"):
        build_resnet(42)
    with pytest.raises(ValueError, match="stem"):
        build_resnet(18, stem="tiny")
    with pytest.raises(ValueError, match="width_multiplier"):
        build_resnet(18, width_multiplier=0)


def test_mixed_precision_bottleneck_zero_init(mixed_bfloat16):
    enc = resnet50(width_multiplier=WIDTH, input_shape=SHAPE, zero_init_residual=True)
    assert np.all(_np(enc.get_layer("stage3_block2_bn3").gamma) == 0)
    assert np.all(_np(enc.get_layer("stage3_block2_bn2").gamma) == 1)
    assert enc.get_layer("stem_conv").kernel.dtype == "float32"  # float32 variables
    assert check_encoder(enc, SHAPE) == 256
    x = _images(2)
    feats = enc(x, training=False)
    assert keras.backend.standardize_dtype(feats.dtype) == "bfloat16"
    assert np.all(np.isfinite(_np(keras.ops.cast(feats, "float32"))))
    head = keras.Model(enc.input, keras.layers.Dense(2, dtype="float32")(enc.output))
    y = head(x, training=True)
    assert y.dtype == "float32" and np.all(np.isfinite(_np(y)))
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"


def test_policy_reset_after_mixed_precision():
    assert keras.mixed_precision.global_policy().name == "float32"


# --------------------------------------------------------------------------
# check_encoder
# --------------------------------------------------------------------------


def test_check_encoder_accepts_custom_sequential():
    enc = keras.Sequential(
        [keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.GlobalAveragePooling2D()]
    )
    assert check_encoder(enc) == 8


def test_check_encoder_accepts_custom_layer():
    class TinyEncoder(keras.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.conv = keras.layers.Conv2D(5, 3)
            self.pool = keras.layers.GlobalMaxPooling2D()

        def call(self, x):
            return self.pool(self.conv(x))

    assert check_encoder(TinyEncoder(), input_shape=(8, 8, 1)) == 5


def test_check_encoder_rejects_missing_pooling():
    enc = keras.Sequential([keras.layers.Conv2D(8, 3, strides=8)])
    with pytest.raises(ValueError) as info:
        check_encoder(enc)
    msg = str(info.value)
    assert "\n" not in msg
    assert "[batch, features]" in msg and "(None, 4, 4, 8)" in msg
    assert "GlobalAveragePooling2D" in msg


def test_check_encoder_rejects_bad_inputs():
    with pytest.raises(ValueError, match="keras.Model"):
        check_encoder(lambda x: x)
    # Wrong channel count for a model with a fixed input.
    inp = keras.Input((32, 32, 1))
    fixed = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inp)))
    with pytest.raises(ValueError, match=r"expects images of shape \(32, 32, 1\)") as info:
        check_encoder(fixed, input_shape=(32, 32, 3))
    assert "\n" not in str(info.value)
    assert check_encoder(fixed, input_shape=(32, 32, 1)) == 4
    # Keras' multi-line call errors are reduced to their informative line.
    conv = keras.layers.Conv2D(4, 3)
    conv.build((None, 8, 8, 3))
    with pytest.raises(ValueError, match="cannot be called.*incompatible") as info:
        check_encoder(conv, input_shape=(8, 8, 5))
    assert "\n" not in str(info.value) and "Exception encountered" not in str(info.value)
    two = keras.Model(
        inp := keras.Input((8, 8, 3)),
        [keras.layers.GlobalAveragePooling2D()(inp), keras.layers.GlobalMaxPooling2D()(inp)],
    )
    with pytest.raises(ValueError, match="single"):
        check_encoder(two, input_shape=(8, 8, 3))
