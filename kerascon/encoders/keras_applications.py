"""Keras' ImageNet backbones (``keras.applications``) as registered kerascon encoders.

Each backbone is registered as ``keras_<name>`` (lower case): built with
``include_top=False, pooling="avg"`` it maps **raw pixels in [0, 255]** ``[B, H, W, 3]``
to a pooled feature vector ``[B, D]``. Every application has its own input scaling,
which the encoder applies itself (so a :class:`~kerascon.model.SupConModel` around it
must not normalise again: use :func:`raw_pixel_preprocessing`):

=====================  =======================================================
family                 scaling (as in Keras' source)
=====================  =======================================================
ResNet v1              ``"caffe"``: RGB -> BGR, minus the BGR means
                       (103.939, 116.779, 123.68), no scaling
ResNet v2              ``"tf"``: ``x / 127.5 - 1``
DenseNet               ``"torch"``: ``x / 255``, minus ImageNet mean, over std
EfficientNetV2 B0-B3   in the model: ``x / 255``, ImageNet mean/variance
EfficientNetV2 S       in the model: ``x / 128 - 1``
ConvNeXt               in the model: ImageNet mean/std of [0, 255] pixels
MobileNetV3            in the model: ``x / 127.5 - 1``
=====================  =======================================================

The first three are applied by :class:`KerasImagenetPreprocessing` (the layer
``keras_preprocessing``); the others by the application's own
``include_preprocessing=True`` layers. The backbone is a nested model with Keras'
own name and layer names, so Keras' weights files load into it unchanged.

Weights: ``weights=None`` (random) or the path of a weights file in Keras' format
(the ``*_notop.h5`` file Keras downloads, or a ``.weights.h5``). Keras' ImageNet
weights are registered in :mod:`kerascon.zoo` as ``keras_<name>.imagenet`` and
fetched through Keras' own cache (``kerascon.zoo.load``).

Example:
    >>> from kerascon.encoders import build_encoder
    >>> from kerascon.encoders.keras_applications import raw_pixel_preprocessing
    >>> from kerascon.model import SupConModel
    >>> enc = build_encoder("keras_resnet50", input_shape=(224, 224, 3))
    >>> enc.output.shape[-1]
    2048
    >>> model = SupConModel(enc, num_classes=10, preprocessing=raw_pixel_preprocessing())
"""

from __future__ import annotations

import os
import re

import keras
from keras import ops

from kerascon.backbone_tables.keras_applications import CODE_LICENSE, KERAS_BACKBONES, KerasBackbone
from kerascon.encoders.registry import register_architecture
from kerascon.errors import ConfigError, KerasconError, PathNotFoundError
from kerascon.layers.core import ImagePreprocessing

__all__ = [
    "KERAS_BACKBONES",
    "KerasBackbone",
    "KerasImagenetPreprocessing",
    "WeightsMismatchError",
    "raw_pixel_preprocessing",
]

_MODES = ("caffe", "tf", "torch")
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


class WeightsMismatchError(KerasconError, ValueError):
    """A weights file does not fit the backbone; the message names the first layer that differs."""




@keras.saving.register_keras_serializable(package="kerascon")
class KerasImagenetPreprocessing(keras.layers.Layer):
    """Keras' ``imagenet_utils.preprocess_input`` modes as a layer on raw ``[0, 255]`` RGB.

    ``"caffe"``: RGB -> BGR and minus the ImageNet BGR mean; ``"tf"``: to [-1, 1];
    ``"torch"``: to [0, 1], minus ImageNet mean, over std.

    Example:
        >>> import numpy as np
        >>> KerasImagenetPreprocessing("tf")(np.full((1, 2, 2, 3), 255.0))[0, 0, 0]
        [1., 1., 1.]
    """

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ConfigError(f"unknown preprocessing mode {mode!r}; expected one of {_MODES}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.cast(ops.convert_to_tensor(_TORCH_MEAN), self.compute_dtype)
            std = ops.cast(ops.convert_to_tensor(_TORCH_STD), self.compute_dtype)
            return (x / 255.0 - mean) / std
        mean = ops.cast(ops.convert_to_tensor(_CAFFE_BGR_MEAN), self.compute_dtype)
        return ops.flip(x, axis=-1) - mean

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def raw_pixel_preprocessing(name="preprocessing"):
    """A SupConModel ``preprocessing`` for encoders that take raw pixels: a cast to float.

    Keras-application encoders scale their input themselves; the model in front
    of them must pass ``[0, 255]`` pixels through unchanged.

    Example:
        >>> from kerascon.encoders import build_encoder
        >>> from kerascon.model import SupConModel
        >>> SupConModel(build_encoder("keras_densenet121"), 10,
        ...             preprocessing=raw_pixel_preprocessing())
    """
    return ImagePreprocessing(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), scale=1.0, name=name)


# ---------------------------------------------------------------------- weights
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _one_line(err):
    lines = [lyr.strip() for lyr in _ANSI.sub("", str(err)).splitlines() if lyr.strip()]
    return lines[0] if lines else type(err).__name__


def _legacy_h5_layers(path):
    """``[(layer name, [weight shapes])]`` of the layers with weights in a Keras .h5 file."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        if "layer_names" not in group.attrs:
            return None
        out = []
        for raw in group.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            weight_names = group[name].attrs.get("weight_names", [])
            shapes = [tuple(group[name][w.decode() if isinstance(w, bytes) else w].shape)
                      for w in weight_names]
            if shapes:
                out.append((name, shapes))
        return out


def _first_difference(model, path):
    """Describe the first layer where ``model`` and the legacy .h5 file at ``path`` differ."""
    saved = _legacy_h5_layers(path)
    if saved is None:
        return None
    ours = [(lyr.name, [tuple(w.shape) for w in lyr.weights]) for lyr in model.layers if lyr.weights]
    for i, ((name, shapes), (file_name, file_shapes)) in enumerate(zip(ours, saved)):
        if shapes != file_shapes:
            return (f"layer {name!r} (#{i}) has weights of shapes {shapes}, the file's layer "
                    f"{file_name!r} has {file_shapes}")
    if len(ours) != len(saved):
        extra = ours[len(saved)][0] if len(ours) > len(saved) else saved[len(ours)][0]
        return (f"the model has {len(ours)} layers with weights, the file {len(saved)}; the "
                f"first unmatched layer is {extra!r}")
    return None  # names are not compared: Keras matches layers by order, and auto-named
    # layers (e.g. "layer_normalization_1") differ between sessions


def load_backbone_weights(backbone, path, arch):
    """Load a Keras weights file into the application model ``backbone`` (as Keras does).

    Legacy ``.h5`` files (Keras' downloads) are matched layer by layer in order, as
    Keras does; weight shapes and layer counts are compared first, so a file made for
    another architecture is refused with the name of the first layer that differs.

    Raises:
        WeightsMismatchError: one line naming the first layer that does not match.
        PathNotFoundError: ``path`` does not exist.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PathNotFoundError(f"weights file {path} does not exist; pass the path of "
                                f"the weights file for {arch}")
    legacy = path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")
    if legacy:
        problem = _first_difference(backbone, path)
        if problem:
            raise WeightsMismatchError(f"weights file {path} does not fit {arch}: {problem}; "
                                       f"use the weights file made for {arch}")
    try:
        backbone.load_weights(path)
    except (ValueError, KeyError, TypeError) as err:
        raise WeightsMismatchError(f"weights file {path} does not fit {arch}: "
                                   f"{_one_line(err)}; use the weights file made for {arch}"
                                   ) from err


# ---------------------------------------------------------------------- builders
def _check_input_shape(spec, input_shape):
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ConfigError(f"{spec.arch} takes RGB images (H, W, 3), got input_shape="
                          f"{input_shape}; convert the images to 3 channels")
    small = [d for d in input_shape[:2] if d is not None and d < spec.min_size]
    if small:
        raise ConfigError(f"{spec.arch} needs images of at least {spec.min_size}x{spec.min_size}"
                          f" pixels, got input_shape={input_shape}; resize the images to at "
                          f"least {spec.min_size} (Keras' default is {spec.input_size[0]})")
    return input_shape


def build_keras_backbone(arch, *, input_shape=(None, None, 3), weights=None, stem=None,
                         width_multiplier=1.0, name=None):
    """Build the registered Keras backbone ``arch`` as a raw-pixel encoder.

    Args:
        arch: a key of :data:`KERAS_BACKBONES`, e.g. ``"keras_resnet50"``.
        input_shape: ``(H, W, 3)``; spatial dims may be ``None`` (any size >= 32).
        weights: ``None`` (random initialisation) or the path of a Keras weights file
            for this backbone (``*_notop.h5`` as Keras downloads it, or ``.weights.h5``).
        stem: only ``None`` or ``"imagenet"`` (the application's own stem).
        width_multiplier: only ``1.0`` (Keras' applications have fixed widths).
        name: model name, default ``arch``.

    Returns:
        A ``keras.Model`` mapping raw ``[0, 255]`` pixels ``[B, H, W, 3]`` to ``[B, D]``.

    Example:
        >>> build_keras_backbone("keras_mobilenetv3small", input_shape=(32, 32, 3)).output.shape
        (None, 576)
    """
    spec = KERAS_BACKBONES[arch]
    if stem not in (None, "imagenet"):
        raise ConfigError(f"{arch} has Keras' own ImageNet stem, got stem={stem!r}; pass "
                          f"stem=None")
    if width_multiplier != 1.0:
        raise ConfigError(f"{arch} has a fixed width, got width_multiplier={width_multiplier!r}; "
                          f"pass width_multiplier=1.0")
    if isinstance(weights, str) and weights == "imagenet":
        raise ConfigError(f"weights='imagenet' is not fetched by the encoder builder; load "
                          f"them with kerascon.zoo.load('{arch}.imagenet') (uses Keras' cache), "
                          f"or pass the path of the weights file")
    input_shape = _check_input_shape(spec, input_shape)
    application = getattr(keras.applications, spec.application)
    options = dict(include_top=False, weights=None, input_shape=input_shape, pooling="avg")
    if spec.mode is None:
        options["include_preprocessing"] = True
    try:
        backbone = application(**options)
    except ValueError as err:
        raise ConfigError(f"{arch} cannot be built for input_shape={input_shape}: "
                          f"{_one_line(err)}") from err
    if weights is not None:
        load_backbone_weights(backbone, weights, arch)
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    if spec.mode is not None:
        x = KerasImagenetPreprocessing(spec.mode, name="keras_preprocessing")(x)
    return keras.Model(inputs, backbone(x), name=name or arch)


def _register(spec):
    def builder(**kwargs):
        return build_keras_backbone(spec.arch, **kwargs)

    builder.__name__ = builder.__qualname__ = spec.arch
    register_architecture(
        spec.arch, family=spec.family, feature_dim=spec.feature_dim, default_stem=None,
        description=spec.description,
        input_size=spec.input_size, raw_pixels=True, license=CODE_LICENSE,
    )(builder)
    return builder


for _spec in KERAS_BACKBONES.values():
    globals()[_spec.arch] = _register(_spec)
del _spec
