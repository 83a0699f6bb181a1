"""keras-hub image backbones as ``hub_*`` encoders and ``hub_*.imagenet`` entries.

Presets are made here (``save_to_preset`` of randomly initialised backbones with their image
converter) and read through the same lookup a user's download takes: a local folder, the
folder copied by hand to ``$KERASCON_HOME/hub/<preset>``, kagglehub's cache.
"""

import time
from pathlib import Path

import keras
import keras_hub  # the kerascon[hub] extra; also in the test extra
import numpy as np
import pytest
from keras_hub.src.utils.timm import (  # keras-hub's own configs of timm's models
    convert_cspnet,
    convert_densenet,
    convert_efficientnet,
    convert_mobilenet,
    convert_resnet,
)

import kerascon.zoo as zoo
from kerascon.backbone_tables.hub_presets import HUB_PRESETS
from kerascon.encoders import build_encoder, get_architecture, list_architectures, registry
from kerascon.encoders.keras_applications import WeightsMismatchError, raw_pixel_preprocessing
from kerascon.encoders.keras_hub_backbones import (
    _USER_PRESETS,
    HubPresetUnavailableError,
    locate_hub_preset,
    register_hub_backbone,
)
from kerascon.model import SupConModel
from kerascon.model.saving import load_model
from kerascon.zoo import pretrained as pretrained_module
from tests.conftest import invoke_cli, one_error_line

pytestmark = pytest.mark.slow

SHAPE = (32, 32, 3)
IMAGENET_SCALE = [1 / (255 * s) for s in (0.229, 0.224, 0.225)]
IMAGENET_OFFSET = [-m / s for m, s in zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]

# family -> (keras-hub class, converter module, timm architecture, overrides that shrink it)
FAMILIES = {
    "resnet": ("ResNetBackbone", convert_resnet, "resnet18", {"stackwise_num_blocks": [1, 1, 1, 1]}),
    "efficientnet": ("EfficientNetBackbone", convert_efficientnet, "efficientnet_b0",
                     {"stackwise_num_repeats": [1] * 7}),
    "mobilenetv3": ("MobileNetBackbone", convert_mobilenet, "mobilenetv3_small_050", {}),
    "densenet": ("DenseNetBackbone", convert_densenet, "densenet121",
                 {"stackwise_num_repeats": [1, 1, 1, 1]}),
    "cspnet": ("CSPNetBackbone", convert_cspnet, "cspresnet50", {"stackwise_depth": [1, 1, 1, 1]}),
}


def _config(family, shrink=True):
    cls, module, timm_arch, overrides = FAMILIES[family]
    config = module.convert_backbone_config({"architecture": timm_arch, "num_features": 0,
                                             "pretrained_cfg": {}})
    return getattr(keras_hub.models, cls), {**config, **(overrides if shrink else {})}


def _save_preset(folder, family, seed=0, converter=True):
    """A randomly initialised keras-hub backbone saved as a preset folder; returns it."""
    cls, config = _config(family)
    keras.utils.set_random_seed(seed)
    backbone = cls(**config, image_shape=(None, None, 3))
    folder.mkdir(parents=True, exist_ok=True)
    backbone.save_to_preset(str(folder))
    if converter:
        keras_hub.layers.ImageConverter(scale=IMAGENET_SCALE, offset=IMAGENET_OFFSET
                                        ).save_to_preset(str(folder))
    return backbone


def _raw(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE)).astype("uint8")


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """Empty kerascon home and kagglehub cache: nothing is on this machine."""
    monkeypatch.setenv("KERASCON_HOME", str(tmp_path / "kerascon_home"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    return tmp_path / "kerascon_home"


@pytest.fixture
def user_presets():
    names = []
    yield names
    for name in names:
        registry._ARCHITECTURES.pop(name, None)
        _USER_PRESETS.pop(name, None)
        pretrained_module._PRETRAINED.pop(f"{name}.local", None)


# ---------------------------------------------------------------------- the table
def test_table_matches_the_installed_keras_hub():
    assert len(HUB_PRESETS) >= 30 and "hub_resnet_50_imagenet" in list_architectures("hub_*")
    for arch, spec in HUB_PRESETS.items():
        presets = getattr(keras_hub.models, spec.backbone_class).presets
        assert spec.preset in presets, arch
        assert presets[spec.preset]["kaggle_handle"] == spec.kaggle_handle, arch
        assert get_architecture(arch).feature_dim == spec.feature_dim
        assert zoo.get_pretrained(f"{arch}.imagenet").source == spec.kaggle_handle
    families = {spec.family for spec in HUB_PRESETS.values()}
    assert families == {"hub_resnet", "hub_resnet_v2", "hub_resnet_vd", "hub_efficientnet",
                        "hub_mobilenetv3", "hub_densenet", "hub_cspnet"}


@pytest.mark.parametrize("arch, timm_arch, family", [
    ("hub_resnet_18_imagenet", "resnet18", "resnet"),
    ("hub_resnet_50_imagenet", "resnet50", "resnet"),
    ("hub_efficientnet_b0_ra_imagenet", "efficientnet_b0", "efficientnet"),
    ("hub_mobilenet_v3_small_050_imagenet", "mobilenetv3_small_050", "mobilenetv3"),
    ("hub_mobilenet_v3_large_100_imagenet", "mobilenetv3_large_100", "mobilenetv3"),
    ("hub_densenet_169_imagenet", "densenet169", "densenet"),
    ("hub_csp_resnet_50_ra_imagenet", "cspresnet50", "cspnet"),
])
def test_feature_dims_are_those_keras_hub_builds(arch, timm_arch, family):
    cls_name, module, _, _ = FAMILIES[family]
    config = module.convert_backbone_config({"architecture": timm_arch, "num_features": 0,
                                             "pretrained_cfg": {}})
    backbone = getattr(keras_hub.models, cls_name)(**config, image_shape=(None, None, 3))
    assert backbone.output.shape[-1] == HUB_PRESETS[arch].feature_dim


# ---------------------------------------------------------------------- every family
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_builds_trains_and_round_trips(family, tmp_path, user_presets):
    folder = tmp_path / f"preset_{family}"
    saved = _save_preset(folder, family, seed=3)
    name = f"hub_test_{family}"
    user_presets.append(name)
    dim = saved.output.shape[-1]
    register_hub_backbone(name, folder, feature_dim=dim, family=f"hub_{family}")

    random_init = build_encoder(name, input_shape=SHAPE)  # the preset's architecture only
    assert random_init.output.shape[-1] == dim
    assert any(not np.array_equal(_np(a), _np(b))
               for a, b in zip(random_init.layers[2].weights, saved.weights))

    encoder = build_encoder(name, input_shape=SHAPE, weights="preset")
    for got, want in zip(encoder.layers[2].weights, saved.weights):
        np.testing.assert_array_equal(_np(got), _np(want))
    x = _raw(2, seed=5).astype("float32")
    scaled = x * np.array(IMAGENET_SCALE, "float32") + np.array(IMAGENET_OFFSET, "float32")
    expected = _np(saved(scaled, training=False)).mean(axis=(1, 2))
    np.testing.assert_allclose(_np(encoder(x, training=False)), expected, rtol=1e-4, atol=1e-4)

    model = SupConModel(encoder, num_classes=3, projection_dim=8, projection_hidden_dim=16,
                        preprocessing=raw_pixel_preprocessing())
    model.compile(optimizer=keras.optimizers.SGD(0.01), run_eagerly=True)
    views = np.stack([_raw(4, seed=2), _raw(4, seed=3)], axis=1)
    kernel = next(w for w in encoder.trainable_weights if len(w.shape) == 4)
    before = _np(kernel).copy()
    logs = model.train_on_batch(views, np.array([0, 1, 0, 2]), return_dict=True)
    assert np.isfinite(logs["loss"]) and not np.allclose(before, _np(kernel))

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_allclose(_np(loaded(views[:, 0])["embedding"]),
                               _np(model(views[:, 0])["embedding"]), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- where presets come from
def test_builtin_entry_from_the_folder_copied_by_hand(hub_home):
    folder = hub_home / "hub" / "resnet_18_imagenet"
    saved = _save_preset(folder, "resnet", seed=11)  # resnet18 widths: 512-d like the real one
    assert zoo.cache_path("hub_resnet_18_imagenet.imagenet") == folder
    model = zoo.load("hub_resnet_18_imagenet.imagenet", num_classes=4, input_shape=SHAPE)
    assert isinstance(model, SupConModel) and model.num_classes == 4
    for got, want in zip(model.encoder.layers[2].weights, saved.weights):
        np.testing.assert_array_equal(_np(got), _np(want))


def test_builtin_entry_from_kagglehub_cache(hub_home):
    """keras-hub downloads file by file into kagglehub's cache; that cache is read offline."""
    from kagglehub.cache import Cache, get_cached_path
    from kagglehub.handle import parse_model_handle

    spec = HUB_PRESETS["hub_resnet_18_imagenet"]
    handle = parse_model_handle(spec.kaggle_handle.removeprefix("kaggle://"))
    folder = get_cached_path(handle)
    saved = _save_preset(Path(folder), "resnet", seed=12)
    with pytest.raises(HubPresetUnavailableError):  # files without kagglehub's markers
        locate_hub_preset(spec, need_weights=True)
    for file in ("config.json", "model.weights.h5", "image_converter.json", "metadata.json"):
        Cache().mark_as_complete(handle, file)
    assert locate_hub_preset(spec, need_weights=True) == folder
    model = zoo.load("hub_resnet_18_imagenet.imagenet", input_shape=SHAPE)
    for got, want in zip(model.encoder.layers[2].weights, saved.weights):
        np.testing.assert_array_equal(_np(got), _np(want))


def test_cli_fine_tunes_a_hub_preset(hub_home, tmp_path):
    saved = _save_preset(hub_home / "hub" / "resnet_18_imagenet", "resnet", seed=4)
    run = tmp_path / "run"
    result = invoke_cli("train", "--arch", "hub_resnet_18_imagenet", "--pretrained",
                        "hub_resnet_18_imagenet.imagenet", "--data", "embedded:digits",
                        "--image-size", "32", "--batch-size", "8", "--projection-dim", "8",
                        "--projection-hidden-dim", "16", "--epochs", "1", "--steps-per-epoch", "2",
                        "--eval-split", "none", "--quiet", "--output", run)
    assert result.exit_code == 0, result.output
    model = load_model(run / "model.keras")
    assert model.backbone_lr_multiplier == pytest.approx(0.1)
    trained = model.encoder.layers[2].weights
    assert any(not np.array_equal(_np(a), _np(b)) for a, b in zip(trained, saved.weights))
    linear = invoke_cli("train", "--stage", "linear", "--run", run, "--epochs", "1",
                        "--steps-per-epoch", "2", "--eval-split", "none", "--quiet")
    assert linear.exit_code == 0, linear.output


# ---------------------------------------------------------------------- bad input
def test_offline_preset_fails_at_once_in_one_line(hub_home):
    start = time.monotonic()
    with pytest.raises(zoo.DownloadError) as info:
        zoo.load("hub_resnet_50_imagenet.imagenet")
    assert time.monotonic() - start < 30
    message = str(info.value)
    assert "\n" not in message and "kaggle://keras/resnetv1/keras/resnet_50_imagenet/3" in message
    assert str(hub_home / "hub" / "resnet_50_imagenet") in message
    with pytest.raises(HubPresetUnavailableError, match="unreachable"):
        build_encoder("hub_densenet_121_imagenet", input_shape=SHAPE)


def test_cli_offline_preset_is_one_error_line(hub_home, tmp_path):
    result = invoke_cli("train", "--arch", "hub_resnet_50_imagenet", "--pretrained",
                        "hub_resnet_50_imagenet.imagenet", "--data", "embedded:digits",
                        "--epochs", "1", "--quiet", "--output", tmp_path / "run")
    line = one_error_line(result)
    assert "resnet_50_imagenet" in line and "unreachable" in line
    assert not (tmp_path / "run" / "model.keras").exists()


def test_bad_presets_and_sizes_fail_in_one_line(tmp_path, user_presets):
    folder = tmp_path / "preset"
    _save_preset(folder, "resnet")
    user_presets += ["hub_test_wrong_dim", "hub_test_no_converter"]
    register_hub_backbone("hub_test_wrong_dim", folder, feature_dim=2048)
    with pytest.raises(WeightsMismatchError, match="gives 512-d features but hub_test_wrong_dim"):
        build_encoder("hub_test_wrong_dim", input_shape=SHAPE)
    with pytest.raises(ValueError, match=r"at least 32x32.*\(16, 16, 3\)"):
        build_encoder("hub_test_wrong_dim", input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="RGB"):
        build_encoder("hub_test_wrong_dim", input_shape=(32, 32, 1))
    with pytest.raises(HubPresetUnavailableError, match="does not exist"):
        build_encoder("hub_resnet_18_imagenet", preset=str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(HubPresetUnavailableError, match="has no config.json"):
        build_encoder("hub_resnet_18_imagenet", preset=str(empty))
    bare = tmp_path / "bare"
    _save_preset(bare, "resnet", converter=False)
    register_hub_backbone("hub_test_no_converter", bare)
    with pytest.raises(HubPresetUnavailableError, match="no image converter") as info:
        build_encoder("hub_test_no_converter", input_shape=SHAPE)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="already registered"):
        register_hub_backbone("hub_resnet_50_imagenet", folder)
