"""keras-hub's image backbones (``keras_hub.models.*Backbone`` presets) as kerascon encoders.

Each preset of :data:`kerascon.backbone_tables.hub_presets.HUB_PRESETS` is registered as ``hub_<preset>``
(e.g. ``hub_resnet_50_imagenet``); :func:`register_hub_backbone` adds any other preset (a
keras-hub preset name, a ``kaggle://`` handle or a local preset folder). The encoder maps
**raw pixels in [0, 255]** ``[B, H, W, 3]`` to ``[B, D]``: the preset's own image converter
scaling (``x * scale + offset``, read from the preset) as a ``Rescaling`` layer, the
backbone, then global average pooling. Needs the optional ``kerascon[hub]`` extra
(keras-hub); it is imported only when an encoder is built.

Where the preset comes from, in this order (no second copy is made):

1. ``preset=`` a local preset folder (``config.json``, ``model.weights.h5``, ...);
2. ``$KERASCON_HOME/hub/<preset>/`` (default ``~/.cache/kerascon/hub/<preset>``): a
   folder copied there by hand on an offline machine;
3. kagglehub's cache (``$KAGGLEHUB_CACHE``, default ``~/.cache/kagglehub``), where
   keras-hub's own downloads go;
4. the Kaggle handle, downloaded by keras-hub (kagglehub), after a short reachability check:
   offline, :class:`HubPresetUnavailableError` names the preset and where to put it.

Building needs the preset's ``config.json`` even without weights (the architecture is
described there); ``weights="preset"`` also loads the preset's weights.

Example:
    >>> from kerascon.encoders import build_encoder
    >>> enc = build_encoder("hub_resnet_50_imagenet", input_shape=(224, 224, 3),
    ...                     weights="preset")        # keras-hub's download and cache
    >>> enc.output.shape[-1]
    2048
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import keras

from kerascon.backbone_tables.hub_presets import HUB_CODE_LICENSE, HUB_PRESETS, HubPreset, hub_preset_folder
from kerascon.encoders.keras_applications import WeightsMismatchError, _one_line
from kerascon.encoders.registry import register_architecture
from kerascon.errors import ConfigError, DependencyError, KerasconError

__all__ = [
    "HubPresetUnavailableError",
    "build_hub_backbone",
    "hub_backbone_spec",
    "locate_hub_preset",
    "register_hub_backbone",
]

_MISSING = "keras-hub is not installed; pip install 'kerascon[hub]'"
_KAGGLE_HOST = "api.kaggle.com"
_MIN_SIZE = 32
# Presets registered at run time (register_hub_backbone), by arch name.
_USER_PRESETS: dict[str, HubPreset] = {}


class HubPresetUnavailableError(KerasconError, OSError):
    """The keras-hub preset is neither on this machine nor downloadable; one line says where
    to put it."""


def _keras_hub():
    try:
        import keras_hub
    except ImportError as error:
        raise DependencyError(_MISSING) from error
    return keras_hub


def hub_backbone_spec(arch):
    """The :class:`~kerascon.backbone_tables.hub_presets.HubPreset` of the registered ``hub_*`` encoder ``arch``.

    Example:
        >>> hub_backbone_spec("hub_resnet_18_imagenet").feature_dim
        512
    """
    spec = _USER_PRESETS.get(arch) or HUB_PRESETS.get(arch)
    if spec is None:
        raise KeyError(f"{arch!r} is not a keras-hub encoder; see kerascon.backbone_tables.hub_presets.HUB_PRESETS")
    return spec


def _kagglehub_cached(handle, need_weights):
    """The folder of ``handle`` in kagglehub's cache when the files needed are there, else None."""
    try:
        from kagglehub.cache import Cache
        from kagglehub.handle import parse_model_handle
    except ImportError:
        return None
    parsed = parse_model_handle(handle.removeprefix("kaggle://"))
    cache = Cache()
    whole = cache.load_from_cache(parsed)  # kagglehub.model_download(handle): the whole folder
    if whole:
        return whole
    needed = ["config.json"] + (["model.weights.h5"] if need_weights else [])
    found = [cache.load_from_cache(parsed, name) for name in needed]  # keras-hub's file by file
    return os.path.dirname(found[0]) if all(found) else None


def _reachable(host, timeout):
    result = []

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)  # a hanging DNS lookup cannot block us
    thread.start()
    thread.join(timeout)
    return bool(result)


def _check_folder(folder, need_weights, what):
    missing = [name for name in ("config.json",) + (("model.weights.h5",) if need_weights else ())
               if not (Path(folder) / name).is_file()]
    if missing:
        raise HubPresetUnavailableError(
            f"{what} {folder} has no {' or '.join(missing)}; pass the folder keras-hub's "
            f"save_to_preset wrote (or kagglehub.model_download returned)")
    return str(folder)


def locate_hub_preset(spec, *, preset=None, need_weights=False, timeout=5.0):
    """Where keras-hub should read ``spec``'s preset from: a local folder or the Kaggle handle.

    Args:
        spec: a :class:`~kerascon.backbone_tables.hub_presets.HubPreset` (or a registered ``hub_*`` name).
        preset: a local preset folder that overrides the lookup.
        need_weights: the weights file must be there too (not only ``config.json``).
        timeout: seconds to wait for Kaggle when the preset must be downloaded.

    Raises:
        HubPresetUnavailableError: one line naming the preset, its handle and the folder to
            copy it to.

    Example:
        >>> locate_hub_preset("hub_resnet_50_imagenet", need_weights=True)
        '/home/me/.cache/kagglehub/models/keras/resnetv1/keras/resnet_50_imagenet/3'
    """
    if isinstance(spec, str):
        spec = hub_backbone_spec(spec)
    if preset is not None:
        if not Path(preset).is_dir():
            raise HubPresetUnavailableError(
                f"keras-hub preset folder {preset} does not exist; pass the folder keras-hub's "
                f"save_to_preset wrote")
        return _check_folder(preset, need_weights, "keras-hub preset folder")
    if Path(spec.kaggle_handle).is_dir():  # registered with a local folder
        return _check_folder(spec.kaggle_handle, need_weights, "keras-hub preset folder")
    by_hand = hub_preset_folder(spec.preset)
    if by_hand.is_dir():
        return _check_folder(by_hand, need_weights, "the preset folder")
    if spec.kaggle_handle.startswith("kaggle://"):
        cached = _kagglehub_cached(spec.kaggle_handle, need_weights)
        if cached:
            return cached
        if not _reachable(_KAGGLE_HOST, timeout):
            raise HubPresetUnavailableError(
                f"{spec.arch} needs keras-hub's preset {spec.preset} ({spec.kaggle_handle}), "
                f"which is not on this machine, and {_KAGGLE_HOST} is unreachable (offline?); "
                f"download it on a machine with network (kagglehub.model_download"
                f"('{spec.kaggle_handle.removeprefix('kaggle://')}')) and copy the folder to "
                f"{by_hand}")
    return spec.kaggle_handle  # a preset name or a handle keras-hub downloads itself


def _preset_scaling(keras_hub, location, arch):
    """``(scale, offset)`` of the preset's image converter (pixels in [0, 255] -> the backbone's)."""
    try:
        converter = keras_hub.layers.ImageConverter.from_preset(location)
    except (FileNotFoundError, ValueError) as err:
        raise HubPresetUnavailableError(
            f"the keras-hub preset of {arch} ({location}) has no image converter to scale the "
            f"pixels with ({_one_line(err)}); use a preset saved with its image converter "
            f"(ImageConverter.save_to_preset)") from err

    def plain(value, default):
        if value is None:
            return default
        values = keras.ops.convert_to_numpy(value).reshape(-1).tolist()
        return values[0] if len(values) == 1 else values

    return plain(converter.scale, 1.0), plain(converter.offset, 0.0)


def _check_input_shape(arch, input_shape):
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ConfigError(f"{arch} takes RGB images (H, W, 3), got input_shape={input_shape}; "
                          f"convert the images to 3 channels")
    if any(d is not None and d < _MIN_SIZE for d in input_shape[:2]):
        raise ConfigError(f"{arch} needs images of at least {_MIN_SIZE}x{_MIN_SIZE} pixels, got "
                          f"input_shape={input_shape}; resize the images to at least {_MIN_SIZE}")
    return input_shape


def build_hub_backbone(arch, *, input_shape=(None, None, 3), weights=None, preset=None,
                       stem=None, width_multiplier=1.0, name=None):
    """Build the registered keras-hub encoder ``arch`` on raw ``[0, 255]`` pixels.

    Args:
        arch: a registered ``hub_*`` name, e.g. ``"hub_resnet_50_imagenet"``.
        input_shape: ``(H, W, 3)``; spatial dims may be ``None``.
        weights: ``None`` (random initialisation, the preset's architecture) or
            ``"preset"`` (the preset's pretrained weights).
        preset: a local preset folder to read instead of the lookup in
            :func:`locate_hub_preset`.
        stem, width_multiplier: only ``None`` and ``1.0`` (fixed by the preset).
        name: model name, default ``arch``.

    Returns:
        A ``keras.Model`` mapping ``[B, H, W, 3]`` pixels to ``[B, D]`` pooled features.

    Raises:
        HubPresetUnavailableError: the preset is not here and cannot be downloaded.
        WeightsMismatchError: the preset's backbone gives another feature dimension
            than the registered one.
        DependencyError: keras-hub is not installed.

    Example:
        >>> enc = build_hub_backbone("hub_densenet_121_imagenet", input_shape=(64, 64, 3))
        >>> enc.output.shape
        (None, 1024)
    """
    spec = hub_backbone_spec(arch)
    if stem not in (None, "imagenet"):
        raise ConfigError(f"{arch} has its preset's own stem, got stem={stem!r}; pass stem=None")
    if width_multiplier != 1.0:
        raise ConfigError(f"{arch} has its preset's width, got width_multiplier="
                          f"{width_multiplier!r}; pass width_multiplier=1.0")
    if weights not in (None, "preset"):
        raise ConfigError(f"weights for {arch} are None (random) or 'preset' (the preset's), got "
                          f"{weights!r}")
    input_shape = _check_input_shape(arch, input_shape)
    keras_hub = _keras_hub()
    location = locate_hub_preset(spec, preset=preset, need_weights=weights == "preset")
    try:
        backbone = keras_hub.models.Backbone.from_preset(
            location, load_weights=weights == "preset", image_shape=input_shape)
    except ValueError as err:
        raise ConfigError(f"{arch} cannot be built for input_shape={input_shape}: "
                          f"{_one_line(err)}") from err
    scale, offset = _preset_scaling(keras_hub, location, arch)
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Rescaling(scale, offset, name="hub_preprocessing")(inputs)
    features = backbone(x)
    if len(features.shape) != 4:
        raise ConfigError(f"{arch}: the preset's backbone gives {len(features.shape)}-d outputs, "
                          f"not an image feature map [B, H, W, C]; register a convolutional "
                          f"image backbone")
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    if spec.feature_dim is not None and pooled.shape[-1] != spec.feature_dim:
        raise WeightsMismatchError(
            f"the preset of {arch} ({location}) gives {pooled.shape[-1]}-d features but {arch} "
            f"is registered with {spec.feature_dim}; use the preset made for {arch}")
    return keras.Model(inputs, pooled, name=name or arch)


def _register(spec):
    def builder(**kwargs):
        return build_hub_backbone(spec.arch, **kwargs)

    builder.__name__ = builder.__qualname__ = spec.arch
    register_architecture(
        spec.arch, family=spec.family, feature_dim=spec.feature_dim, default_stem=None,
        description=spec.description, input_size=spec.input_size, raw_pixels=True,
        license=HUB_CODE_LICENSE,
    )(builder)
    return builder


def register_hub_backbone(name, preset, *, feature_dim=None, family="hub", input_size=(224, 224),
                          backbone_class="Backbone"):
    """Register a keras-hub image backbone preset as the encoder architecture ``name``.

    Args:
        name: the architecture name, e.g. ``"hub_my_resnet"``.
        preset: a keras-hub preset name, a ``kaggle://`` handle, or a local preset folder.
        feature_dim: pooled feature dimension, checked when the encoder is built
            (``None``: not checked).
        family, input_size, backbone_class: listing metadata.

    Returns:
        The :class:`~kerascon.backbone_tables.hub_presets.HubPreset` registered.

    Example:
        >>> from kerascon.encoders import build_encoder
        >>> register_hub_backbone("hub_my_resnet", "/data/presets/my_resnet", feature_dim=512)
        >>> enc = build_encoder("hub_my_resnet", input_shape=(64, 64, 3))
    """
    location = os.fspath(preset)
    if Path(location).is_dir():
        location = str(Path(location).resolve())
        preset_name = Path(location).name
    elif location.startswith("kaggle://"):  # kaggle://owner/model/framework/variation[/version]
        preset_name = location.removeprefix("kaggle://").split("/")[3]
    else:
        preset_name = location
    spec = HubPreset(name, preset_name, location, backbone_class, family, feature_dim,
                     tuple(int(v) for v in input_size))
    _register(spec)  # raises when the name is taken
    _USER_PRESETS[name] = spec
    return spec


for _spec in HUB_PRESETS.values():
    _register(_spec)
del _spec
