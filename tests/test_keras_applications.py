"""Keras' ImageNet backbones as kerascon encoders (keras_*) and their Keras-cache weights.

Real Keras, no mocks, no network: weights files are made here (randomly initialised
applications saved in Keras' .h5 format) and put where Keras caches its downloads
(``$KERAS_HOME/models/<Keras' file name>``), then loaded through the same code a
user's download takes (kerascon.zoo.load -> Keras' cache -> load_weights).
"""

import hashlib
import inspect
import re
import time

import keras
import numpy as np
import pytest

import kerascon.zoo as zoo
from kerascon.encoders import build_encoder, get_architecture, list_architectures
from kerascon.encoders.keras_applications import (
    KERAS_BACKBONES,
    KerasImagenetPreprocessing,
    WeightsMismatchError,
    raw_pixel_preprocessing,
)
from kerascon.model import SupConModel
from kerascon.zoo import keras_imagenet
from kerascon.zoo import pretrained as pretrained_module

pytestmark = pytest.mark.slow

KERAS_ARCHS = list_architectures("keras_*")
# One per family: each trains a SupCon step and round-trips weights through Keras' cache.
FAMILY_REPS = ["keras_resnet50", "keras_resnet50v2", "keras_efficientnetv2b0",
               "keras_convnext_tiny", "keras_mobilenetv3small", "keras_densenet121"]
SHAPE = (32, 32, 3)


def _raw(n, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape)).astype("uint8")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_every_requested_backbone_is_registered():
    required = {"keras_resnet50", "keras_resnet101", "keras_resnet152", "keras_resnet50v2",
                "keras_resnet101v2", "keras_resnet152v2", "keras_efficientnetv2b0",
                "keras_efficientnetv2b1", "keras_efficientnetv2b2", "keras_efficientnetv2b3",
                "keras_efficientnetv2s", "keras_convnext_tiny", "keras_convnext_small",
                "keras_mobilenetv3small", "keras_mobilenetv3large", "keras_densenet121"}
    assert required <= set(KERAS_ARCHS)
    assert {KERAS_BACKBONES[a].family for a in FAMILY_REPS} == {
        b.family for b in KERAS_BACKBONES.values()}
    assert set(zoo.list_pretrained("keras_*")) == {f"{a}.imagenet" for a in KERAS_ARCHS}


def test_weights_table_is_keras_own():
    """File names, URLs and hashes are exactly those of the installed Keras."""
    from keras.src.applications import convnext, densenet, efficientnet_v2, mobilenet_v3, resnet

    def keras_hash(module, key):
        return module.WEIGHTS_HASHES[key][1]  # (top, notop)

    dense_src = inspect.getsource(densenet)
    for arch in KERAS_ARCHS:
        spec = zoo.get_pretrained(f"{arch}.imagenet")
        backbone = KERAS_BACKBONES[arch]
        name = backbone.keras_name
        if backbone.family.startswith("keras_resnet"):
            module, digest = resnet, keras_hash(resnet, name)
            filename = f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5"
        elif backbone.family == "keras_efficientnetv2":
            module = efficientnet_v2
            digest = keras_hash(module, name.split("-")[1] if "-b" in name else "-s")
            filename = name + "_notop.h5"
        elif backbone.family == "keras_convnext":
            module, digest, filename = convnext, keras_hash(convnext, name), name + "_notop.h5"
        elif backbone.family == "keras_mobilenetv3":
            module = mobilenet_v3
            size = "small" if "Small" in name else "large"
            digest = keras_hash(module, f"{size}_224_1.0_float")
            filename = f"weights_mobilenet_v3_{size}_224_1.0_float_no_top_v2.h5"
        else:
            module, filename = densenet, f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5"
            digest = re.search(re.escape(filename) + r'",\s*\w+,\s*cache_subdir="models",\s*'
                               r'file_hash="([0-9a-f]+)"', dense_src).group(1)
        base = getattr(module, "BASE_WEIGHTS_PATH", None) or module.BASE_WEIGHT_PATH
        assert (spec.keras_file, spec.keras_file_hash, spec.source) == (
            filename, digest, base + filename), arch
        assert zoo.cache_path(spec).parts[-2:] == ("models", filename)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocessing_matches_keras_preprocess_input(mode):
    x = _raw(2, seed=1).astype("float32")
    expected = keras.applications.imagenet_utils.preprocess_input(x.copy(), mode=mode)
    got = _np(KerasImagenetPreprocessing(mode)(x))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    layer = KerasImagenetPreprocessing.from_config(KerasImagenetPreprocessing(mode).get_config())
    assert layer.mode == mode


@pytest.mark.parametrize("arch", KERAS_ARCHS)
def test_build_at_32x32(arch):
    """Every backbone builds at 32x32 with its registered feature dimension (the family
    representatives also run forward and backward in test_supcon_training_step)."""
    spec = get_architecture(arch)
    assert spec.raw_pixels and spec.default_stem is None and spec.license == "Apache-2.0"
    assert spec.input_size == KERAS_BACKBONES[arch].input_size
    enc = build_encoder(arch, input_shape=SHAPE)
    assert enc.name == arch and tuple(enc.output.shape) == (None, spec.feature_dim)


def test_encoder_scales_raw_pixels_like_keras():
    """keras_resnet50 == Keras' ResNet50 applied to resnet.preprocess_input(x)."""
    enc = build_encoder("keras_resnet50", input_shape=SHAPE)
    backbone = enc.get_layer("resnet50")
    x = _raw(2, seed=5).astype("float32")
    expected = backbone(keras.applications.resnet.preprocess_input(x.copy()), training=False)
    np.testing.assert_allclose(_np(enc(x, training=False)), _np(expected), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", FAMILY_REPS)
def test_supcon_training_step(arch):
    enc = build_encoder(arch, input_shape=SHAPE)
    model = SupConModel(enc, num_classes=3, projection_dim=8, projection_hidden_dim=16,
                        preprocessing=raw_pixel_preprocessing())
    model.compile(optimizer=keras.optimizers.SGD(0.01), run_eagerly=True)
    views = np.stack([_raw(4, seed=2), _raw(4, seed=3)], axis=1)  # [4, 2, 32, 32, 3] uint8
    labels = np.array([0, 1, 0, 2])
    kernel = next(w for w in enc.trainable_weights if len(w.shape) == 4)
    before = _np(kernel).copy()
    logs = model.train_on_batch(views, labels, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert not np.allclose(before, _np(kernel))
    y = _np(model(views[:, 0])["embedding"])
    assert y.shape == (4, get_architecture(arch).feature_dim) and np.all(np.isfinite(y))


def test_bad_arguments_fail_in_one_line():
    with pytest.raises(ValueError, match=r"at least 32x32.*input_shape=\(16, 16, 3\)") as info:
        build_encoder("keras_resnet50", input_shape=(16, 16, 3))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="RGB"):
        build_encoder("keras_densenet121", input_shape=(32, 32, 1))
    with pytest.raises(ValueError, match="stem=None"):
        build_encoder("keras_resnet50", stem="cifar")
    with pytest.raises(ValueError, match="width_multiplier=1.0"):
        build_encoder("keras_resnet50", width_multiplier=0.5)
    with pytest.raises(ValueError, match=r"zoo.load\('keras_resnet50.imagenet'\)"):
        build_encoder("keras_resnet50", weights="imagenet")


# ---------------------------------------------------------------------- weights
@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    (home / "models").mkdir(parents=True)
    return home


@pytest.fixture
def scratch_entries():
    names = []
    yield names
    for name in names:
        pretrained_module._PRETRAINED.pop(name, None)


def _save_keras_file(arch, path, seed):
    """A randomly initialised application in Keras' .h5 format (as Keras' files are)."""
    keras.utils.set_random_seed(seed)
    enc = build_encoder(arch, input_shape=SHAPE)
    backbone = enc.layers[-1]
    keras.saving.save_model(backbone, path)
    return enc


def _register_local(arch, path, names):
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    spec = keras_imagenet.keras_imagenet_spec(arch, tag="test_local", keras_file_hash=digest,
                                              keras_file=path.name)
    names.append(spec.name)
    return zoo.register_pretrained(spec)


@pytest.mark.parametrize("arch", ["keras_mobilenetv3small", "keras_resnet50"])
def test_weights_round_trip_through_keras_cache(arch, keras_home, scratch_entries):
    path = keras_home / "models" / keras_imagenet.KERAS_WEIGHTS[arch][1]
    saved = _save_keras_file(arch, path, seed=7)
    spec = _register_local(arch, path, scratch_entries)
    assert zoo.cache_path(spec) == path
    model = zoo.load(spec.name, num_classes=4, input_shape=SHAPE)
    assert isinstance(model, SupConModel) and model.num_classes == 4
    for got, want in zip(model.encoder.weights, saved.weights):
        np.testing.assert_array_equal(_np(got), _np(want))
    x = _raw(2, seed=9)
    np.testing.assert_allclose(_np(model(x)["embedding"]),
                               _np(saved(x.astype("float32"), training=False)),
                               rtol=1e-4, atol=1e-4)


def test_file_for_another_architecture_names_the_layer(keras_home, scratch_entries):
    path = keras_home / "models" / keras_imagenet.KERAS_WEIGHTS["keras_resnet50"][1]
    _save_keras_file("keras_resnet50v2", path, seed=1)  # a v2 file under v1's name
    spec = _register_local("keras_resnet50", path, scratch_entries)
    with pytest.raises(WeightsMismatchError,
                       match=r"does not fit keras_resnet50: layer '\w+' \(#\d+\)") as info:
        zoo.load(spec.name, input_shape=SHAPE)
    assert "\n" not in str(info.value)


def test_offline_missing_file_fails_at_once_in_one_line(keras_home):
    start = time.monotonic()
    with pytest.raises(zoo.DownloadError) as info:
        zoo.load("keras_resnet50.imagenet")
    assert time.monotonic() - start < 30
    msg = str(info.value)
    assert "\n" not in msg
    path = keras_home / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in msg and str(path) in msg
    assert not path.exists()


def test_cached_file_with_wrong_hash_is_refused_offline(keras_home):
    """Keras verifies a cached file's hash (and would download again): so do we."""
    path = keras_home / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    path.write_bytes(b"not Keras' file")
    with pytest.raises(zoo.ChecksumError, match="md5.*4d473c1dd8becc155b73f8504c6f6626") as info:
        zoo.load("keras_resnet50.imagenet")
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == b"not Keras' file"  # the user's file is left alone
