"""``kerascon.zoo.load``: registered pretrained weights -> a ready SupConModel.

Example:
    >>> import kerascon.zoo as zoo
    >>> model = zoo.load("resnet50.supcon_cifar10_mine")        # download + verify + convert
    >>> model.set_stage("linear", num_classes=10)               # then compile and fit
"""

from __future__ import annotations

from kerascon.zoo.download import download
from kerascon.zoo.pretrained import get_pretrained
from kerascon.zoo.torch_checkpoint import CheckpointError

__all__ = ["load"]

_TORCH_LAYOUTS = {"torch-supcontrast": "supcontrast", "torch-torchvision": "torchvision",
                  "torch-cifar_resnet": "cifar_resnet"}


_HEAD = {"projection_dim": "output_dim", "projection_hidden_dim": "hidden_dim",
         "head_type": "head_type"}


def _check_head(head, requested):
    """Explicit head options must match a pretrained head (which is kept, not rebuilt)."""
    for key, attr in _HEAD.items():
        if key == "projection_hidden_dim" and head.head_type != "mlp":
            continue
        if key in requested and requested[key] != getattr(head, attr):
            raise CheckpointError(
                f"the pretrained projection head has {key}={getattr(head, attr)}, not "
                f"{requested[key]}; leave {key} unset to keep the pretrained head"
            )


def _load_keras(path, spec, num_classes, head_kwargs, model_kwargs):
    import keras

    from kerascon.layers.core import ImagePreprocessing
    from kerascon.model.supcon_model import SupConModel

    loaded = keras.saving.load_model(path, safe_mode=True)
    if not isinstance(loaded, SupConModel):  # a bare encoder: wrap it, with a fresh head
        preprocessing = ImagePreprocessing(spec.mean, spec.std, name="preprocessing")
        head = {k: getattr(spec, k) for k in _HEAD if getattr(spec, k) is not None}
        return SupConModel(loaded, num_classes, preprocessing=preprocessing,
                           **{**head, **head_kwargs, **model_kwargs})
    _check_head(loaded.projection_head, head_kwargs)
    if not model_kwargs and num_classes is None:
        return loaded
    # Rebuild around the loaded parts so that SupConModel options can be set.
    head = loaded.projection_head
    model = SupConModel(
        loaded.encoder, num_classes if num_classes is not None else loaded.num_classes,
        preprocessing=loaded.preprocessing, projection_dim=head.output_dim,
        projection_hidden_dim=head.hidden_dim, head_type=head.head_type, **model_kwargs,
    )
    model.projection_head.set_weights(head.get_weights())
    if loaded.classifier is not None and model.num_classes == loaded.num_classes:
        model.classifier.set_weights(loaded.classifier.get_weights())
        if loaded.probe_norm is not None:  # the classifier was trained on normalised features
            if model.probe_norm is None:
                model.add_probe_norm()
            model.probe_norm.set_weights(loaded.probe_norm.get_weights())
    return model


def _load_keras_application(path, spec, num_classes, input_shape, head_kwargs, model_kwargs):
    """A SupConModel around the Keras backbone ``spec.arch`` holding the weights at ``path``."""
    from kerascon.encoders import build_encoder, raw_pixel_preprocessing
    from kerascon.model.supcon_model import SupConModel

    encoder = build_encoder(spec.arch, weights=str(path),
                            input_shape=tuple(input_shape or (None, None, 3)))
    return SupConModel(encoder, num_classes, preprocessing=raw_pixel_preprocessing(),
                       **head_kwargs, **model_kwargs)


def _load_keras_hub_preset(path, spec, num_classes, input_shape, head_kwargs, model_kwargs):
    """A SupConModel around the keras-hub encoder ``spec.arch`` holding the preset at ``path``."""
    from kerascon.encoders import build_encoder, raw_pixel_preprocessing
    from kerascon.model.supcon_model import SupConModel

    encoder = build_encoder(spec.arch, weights="preset", preset=str(path),
                            input_shape=tuple(input_shape or (None, None, 3)))
    return SupConModel(encoder, num_classes, preprocessing=raw_pixel_preprocessing(),
                       **head_kwargs, **model_kwargs)


def _load_float16(path, spec, num_classes, input_shape, head_kwargs, model_kwargs):
    """A SupConModel around ``spec.arch`` holding the float16 encoder weights at ``path``,
    with the entry's normalisation and a fresh projection head of the recipe's size."""
    from kerascon.encoders import build_encoder
    from kerascon.layers.core import ImagePreprocessing
    from kerascon.model.supcon_model import SupConModel
    from kerascon.zoo.float16_weights import load_float16_weights

    encoder = build_encoder(spec.arch, stem=spec.stem, width_multiplier=spec.width_multiplier,
                            input_shape=tuple(input_shape or (None, None, 3)))
    load_float16_weights(encoder, path, what=f"{spec.arch} (stem {spec.stem}, width "
                                             f"{spec.width_multiplier}, {spec.name})")
    head = {k: getattr(spec, k) for k in _HEAD if getattr(spec, k) is not None}
    preprocessing = ImagePreprocessing(spec.mean, spec.std, name="preprocessing")
    return SupConModel(encoder, num_classes, preprocessing=preprocessing,
                       **{**head, **head_kwargs}, **model_kwargs)


def load(name, *, num_classes=None, input_shape=None, progress=None, **model_kwargs):
    """Download (or find in the cache), verify and load the pretrained weights ``name``.

    Torch-format entries are converted with :func:`kerascon.zoo.from_torch`
    (``weights_only=True``); Keras entries are opened with ``safe_mode=True``;
    ``keras-application`` entries (``keras_*.imagenet``) are Keras' own weights files
    from Keras' cache, loaded into the ``keras_*`` encoder (which takes raw pixels; the
    model's preprocessing only casts them to float) with a fresh projection head;
    ``keras-hub-preset`` entries (``hub_*.imagenet``) are keras-hub preset folders from
    kagglehub's cache, loaded the same way (the encoder scales pixels with the preset's
    image converter).
    ``kerascon-float16`` entries (kerascon's own, shipped in the package, e.g.
    ``resnet18.supcon_digits``) are read offline, their sha256 checked on every load,
    and cast back to float32; the projection head is fresh (the recipe's size).
    The model's preprocessing uses the entry's ``mean``/``std``; its encoder,
    projection head and (if stored) classifier hold the pretrained weights.

    Args:
        name: registered pretrained name, e.g. ``"resnet50.supcon_in1k"``.
        num_classes: add a fresh classifier (when the file stores none, or
            stores one for a different number of classes).
        input_shape: encoder input ``(H, W, C)`` (torch, keras-application and
            kerascon-float16 formats; default any size).
        progress: download progress bar (default: when stderr is a terminal).
        **model_kwargs: ``SupConModel`` options (``temperature``, ``stage``...).
            ``projection_dim`` / ``projection_hidden_dim`` / ``head_type`` set to
            ``None`` are ignored; other values must match a stored head (it is
            kept) and size a fresh head when the file stores none.

    Returns:
        A :class:`~kerascon.model.SupConModel`; ``.encoder`` alone is the backbone.

    Raises:
        UnknownPretrainedError, ChecksumError, DownloadError, CheckpointError.

    Example:
        >>> import numpy as np
        >>> model = load("resnet18.supcon_digits", num_classes=10, stage="linear")
        >>> images = np.zeros((2, 16, 16, 3), "uint8")                 # pixels in [0, 255]
        >>> features = model.encoder(model.preprocessing(images))
    """
    spec = get_pretrained(name)
    head_kwargs = {k: model_kwargs.pop(k) for k in _HEAD if k in model_kwargs}
    head_kwargs = {k: v for k, v in head_kwargs.items() if v is not None}
    path = download(spec, progress=progress)
    if spec.format == "keras-application":
        return _load_keras_application(path, spec, num_classes, input_shape, head_kwargs,
                                       model_kwargs)
    if spec.format == "keras-hub-preset":
        return _load_keras_hub_preset(path, spec, num_classes, input_shape, head_kwargs,
                                      model_kwargs)
    if spec.format == "kerascon-float16":
        return _load_float16(path, spec, num_classes, input_shape, head_kwargs, model_kwargs)
    if spec.format == "keras":
        return _load_keras(path, spec, num_classes, head_kwargs, model_kwargs)

    from kerascon.zoo.torch_import import from_torch

    keep_fc = spec.num_classes is not None and num_classes in (None, spec.num_classes)
    head = {k: getattr(spec, k) for k in ("projection_dim", "projection_hidden_dim")
            if getattr(spec, k) is not None}
    head.update(head_kwargs)  # from_torch checks them against a stored head
    model = from_torch(
        path, layout=_TORCH_LAYOUTS[spec.format], arch=spec.arch, stem=spec.stem,
        width_multiplier=spec.width_multiplier, input_shape=input_shape,
        mean=spec.mean, std=spec.std, classifier=keep_fc,
        num_classes=None if keep_fc else num_classes,
        **head, **model_kwargs,
    )
    if model.feature_dim != spec.feature_dim:
        raise CheckpointError(
            f"{spec.name}: the file gives {model.feature_dim}-d features but the registry "
            f"entry says {spec.feature_dim}; fix the entry"
        )
    return model
