"""Convert PyTorch ResNet checkpoints into a :class:`~kerascon.model.SupConModel`.

Two key layouts are understood:

* ``"supcontrast"``: the SupContrast authors' ``networks/resnet_big.py``
  (``SupConResNet``): ``encoder.conv1``, ``encoder.bn1``,
  ``encoder.layer{s}.{k}.{conv,bn}{i}``, projection shortcuts
  ``encoder.layer{s}.{k}.shortcut.{0,1}``, and the head ``head.0`` /
  ``head.2`` (Linear, ReLU, Linear) or ``head`` (one Linear). CIFAR stem.
* ``"torchvision"``: ``torchvision.models.resnet*``: ``conv1``, ``bn1``,
  ``layer{s}.{k}...``, ``layer{s}.{k}.downsample.{0,1}`` and ``fc``.
  ImageNet stem. It has no projection head: the model's head is freshly
  initialised; ``fc`` is ignored, or becomes the classifier with
  ``classifier=True``.
* ``"cifar_resnet"``: the CIFAR ResNets (ResNet-20/32/44/56/110, three stages,
  parameter-free option A shortcuts) of the PyTorch port ``pytorch_resnet_cifar10``:
  ``conv1``, ``bn1``, ``layer{s}.{k}.{conv,bn}{i}`` and the classifier ``linear``
  (ignored, or the classifier with ``classifier=True``). No projection head.

Weights map onto the Keras names documented in
:mod:`kerascon.encoders.resnet`: conv ``OIHW`` -> ``HWIO``, Linear
``(out, in)`` -> ``(in, out)``, BatchNorm ``weight/bias/running_mean/
running_var`` -> ``gamma/beta/moving_mean/moving_variance``
(``num_batches_tracked`` is dropped). Every key must be used and every weight
filled, with matching shapes; otherwise one :class:`CheckpointError` lists
the first offending keys. In eval mode the converted ``encoder`` (NHWC) and
``projection_head`` reproduce the PyTorch network (NCHW) to float precision.

Example:
    >>> import kerascon.zoo as zoo
    >>> model = zoo.from_torch("last.pth", layout="supcontrast", arch="resnet50",
    ...                        mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010))
    >>> model.encoder.output.shape[-1], model.projection_head.output_dim
    (2048, 128)
"""

from __future__ import annotations

import re

import keras
import numpy as np

from kerascon.backbone_tables.resnet import BASE_WIDTHS, CIFAR_BASE_WIDTHS, CIFAR_RESNET_DEPTHS, RESNET_CONFIGS
from kerascon.errors import ConfigError
from kerascon.zoo.torch_checkpoint import LAYOUTS, CheckpointError, read_state_dict

__all__ = ["LAYOUTS", "from_torch", "guess_resnet"]

_SHOWN = 5
_BLOCK = re.compile(r"^stage(\d)_block(\d+)_(conv\d|bn\d|shortcut_conv|shortcut_bn)$")
_BN = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
       ("running_var", "moving_variance"))


def guess_resnet(state, layout="supcontrast"):
    """The ResNet (``"resnet18"`` ... ``"resnet200"``, or a CIFAR ResNet ``"resnet20"`` ...
    ``"resnet110"``) whose keys ``state`` has, or ``None``.

    Example:
        >>> guess_resnet(read_state_dict("last.pth"))
        'resnet50'
    """
    prefix = LAYOUTS[layout][0]
    pattern = re.compile(re.escape(prefix) + r"layer(\d)\.(\d+)\.")
    blocks, bottleneck = {}, False
    for key in state:
        match = pattern.match(key)
        if match:
            blocks.setdefault(int(match[1]), set()).add(int(match[2]))
            bottleneck = bottleneck or ".conv3." in key
    stages = tuple(len(blocks.get(s, ())) for s in (1, 2, 3, 4))
    block_type = "bottleneck" if bottleneck else "basic"
    if not bottleneck and stages[3] == 0 and stages[0] == stages[1] == stages[2]:
        for depth, per_stage in CIFAR_RESNET_DEPTHS.items():
            if per_stage == stages[0]:
                return f"resnet{depth}"
    for depth, (kind, depths) in RESNET_CONFIGS.items():
        if kind == block_type and tuple(depths) == stages:
            return f"resnet{depth}"
    return None


def _torch_layer(keras_name, shortcut):
    if keras_name == "stem_conv":
        return "conv1"
    if keras_name == "stem_bn":
        return "bn1"
    match = _BLOCK.match(keras_name)
    if not match:
        return None
    stage, block, part = match.groups()
    part = {"shortcut_conv": f"{shortcut}.0", "shortcut_bn": f"{shortcut}.1"}.get(part, part)
    return f"layer{stage}.{block}.{part}"


def _dense(expected, key, layer):
    expected[f"{key}.weight"] = (layer.name, layer.kernel, "dense")
    expected[f"{key}.bias"] = (layer.name, layer.bias, "vector")


def _expected_weights(model, layout, classifier):
    """``{torch key: (keras layer name, variable, kind)}`` for every weight to fill."""
    prefix, shortcut, _, classifier_key = LAYOUTS[layout]
    expected = {}
    for layer in model.encoder.layers:
        if not layer.weights:
            continue
        name = _torch_layer(layer.name, shortcut)
        if name is None:
            raise CheckpointError(f"Keras layer {layer.name!r} has no PyTorch equivalent")
        key = prefix + name
        if isinstance(layer, keras.layers.Conv2D):
            expected[f"{key}.weight"] = (layer.name, layer.kernel, "conv")
        else:
            for torch_name, keras_name in _BN:
                expected[f"{key}.{torch_name}"] = (layer.name, getattr(layer, keras_name), "vector")
    head = model.projection_head
    if layout == "supcontrast":
        if head.hidden is not None:
            _dense(expected, "head.0", head.hidden)
            _dense(expected, "head.2", head.projection)
        else:
            _dense(expected, "head", head.projection)
    if classifier:
        _dense(expected, classifier_key, model.classifier)
    return expected


def _torch_shape(shape, kind):
    shape = tuple(int(s) for s in shape)
    if kind == "conv":
        return (shape[3], shape[2], shape[0], shape[1])
    if kind == "dense":
        return shape[::-1]
    return shape


def _to_keras(value, kind):
    if kind == "conv":
        return np.transpose(value, (2, 3, 1, 0))
    if kind == "dense":
        return value.T
    return value


def _first(keys):
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f", ... ({len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else "")


def _head_dims(state, layout, projection_dim, projection_hidden_dim, head_type):
    """(head_type, hidden, output) read from the checkpoint; explicit values must agree."""
    found = {}
    if layout == "supcontrast":
        if "head.0.weight" in state:
            found = {"head_type": "mlp", "projection_hidden_dim": state["head.0.weight"].shape[0]}
            if "head.2.weight" in state:
                found["projection_dim"] = state["head.2.weight"].shape[0]
        elif "head.weight" in state:
            found = {"head_type": "linear", "projection_dim": state["head.weight"].shape[0]}
    given = {"head_type": head_type, "projection_dim": projection_dim,
             "projection_hidden_dim": projection_hidden_dim}
    for key, value in found.items():
        if given[key] is not None and given[key] != value:
            raise CheckpointError(f"the checkpoint's head has {key}={value}, not {given[key]}")
    defaults = {"head_type": "mlp", "projection_dim": 128, "projection_hidden_dim": 2048}
    dims = {k: given[k] if given[k] is not None else found.get(k, defaults[k]) for k in given}
    if dims["head_type"] == "linear":
        dims["projection_hidden_dim"] = 2048  # unused by a linear head
    return dims


def _stem_key(state, layout):
    key = LAYOUTS[layout][0] + "conv1.weight"
    if key in state:
        return key
    for other, (prefix, *_) in LAYOUTS.items():
        if other != layout and prefix + "conv1.weight" in state:
            raise CheckpointError(
                f"the checkpoint has no {key!r} but has {prefix + 'conv1.weight'!r}: it looks "
                f"like the {other!r} layout; pass layout={other!r}"
            )
    raise CheckpointError(
        f"the checkpoint has no {key!r}, so it is not a {layout!r} ResNet "
        f"(its first keys: {_first(list(state))})"
    )


def _check(state, expected, arch, layout, guessed):
    hint = f"; the checkpoint looks like {guessed}: pass arch={guessed!r}" if (
        guessed and guessed != arch) else ""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({_first(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({_first(unexpected)})")
        raise CheckpointError(
            f"the checkpoint does not fit {arch} in the {layout!r} layout: "
            + "; ".join(parts) + hint
        )
    wrong = []
    for key, (layer_name, variable, kind) in expected.items():
        want = _torch_shape(variable.shape, kind)
        if tuple(state[key].shape) != want:
            wrong.append(f"{key} is {tuple(state[key].shape)} but Keras layer "
                         f"{layer_name!r} needs {want}")
    if wrong:
        raise CheckpointError(
            f"shape mismatch for {len(wrong)} weights converting to {arch}: "
            + "; ".join(wrong[:_SHOWN]) + (" ..." if len(wrong) > _SHOWN else "") + hint
        )


def from_torch(
    source,
    layout="supcontrast",
    arch=None,
    *,
    stem=None,
    width_multiplier=None,
    input_shape=None,
    mean=None,
    std=None,
    classifier=False,
    num_classes=None,
    projection_dim=None,
    projection_hidden_dim=None,
    head_type=None,
    **model_kwargs,
):
    """Build a :class:`~kerascon.model.SupConModel` holding a PyTorch ResNet's weights.

    Args:
        source: checkpoint path, state dict, wrapper dict or ``nn.Module`` (see
            :func:`kerascon.zoo.torch_checkpoint.read_state_dict`; files are read
            with ``weights_only=True``).
        layout: ``"supcontrast"``, ``"torchvision"`` or ``"cifar_resnet"`` (module docstring).
        arch: registered ResNet name; default: guessed from the block counts.
        stem: ``"cifar"`` / ``"imagenet"``; default: from ``conv1``'s kernel
            (3x3 -> cifar, 7x7 -> imagenet).
        width_multiplier: default: ``conv1`` output channels / 64 (16 for a CIFAR ResNet).
        input_shape: encoder input ``(H, W, C)``; default ``(None, None, C)``
            with ``C`` from ``conv1``.
        mean, std: normalisation of ``[0, 1]`` pixels for the model's
            preprocessing (default ImageNet's). Use the values the network was
            trained with, e.g. CIFAR-10's for SupContrast CIFAR checkpoints.
        classifier: turn ``fc`` (``linear`` in the ``cifar_resnet`` layout) into the
            model's classifier (otherwise its keys are ignored).
        num_classes: a fresh classifier when ``classifier`` is false.
        projection_dim, projection_hidden_dim, head_type: read from a
            supcontrast head (explicit values must agree); free for torchvision.
        **model_kwargs: passed on to ``SupConModel`` (``temperature``, ``stage``...).

    Raises:
        CheckpointError: unreadable file, wrong layout, missing / unexpected keys
            or shape mismatches (one line, first offending keys, arch hint).

    Example:
        >>> import numpy as np
        >>> import torchvision
        >>> model = from_torch("resnet18_cifar.pth", layout="supcontrast")
        >>> nhwc_images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
        >>> nchw_images = nhwc_images.transpose(0, 3, 1, 2)  # the same images for torch
        >>> feats = model.encoder(nhwc_images)          # == torch encoder(nchw_images)
        >>> z = model.projection_head(feats)             # == F.normalize(head(feat))
        >>> torchvision_sd = torchvision.models.resnet18(weights="IMAGENET1K_V1").state_dict()
        >>> tv = from_torch(torchvision_sd, layout="torchvision", classifier=True)
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    from kerascon.encoders.registry import build_encoder, get_architecture
    from kerascon.layers.core import ImagePreprocessing
    from kerascon.model.supcon_model import SupConModel

    state = read_state_dict(source)
    stem_key = _stem_key(state, layout)
    guessed = guess_resnet(state, layout)
    if arch is None:
        if guessed is None:
            raise CheckpointError("cannot tell which ResNet the checkpoint holds; pass arch=")
        arch = guessed
    family = get_architecture(arch).family
    if family not in ("resnet", "cifar_resnet"):
        raise ConfigError(f"from_torch converts ResNets only, not {arch!r}")
    out_channels, in_channels, kernel = state[stem_key].shape[:3]
    if stem is None:
        stem = {3: "cifar", 7: "imagenet"}.get(int(kernel), LAYOUTS[layout][2])
    if width_multiplier is None:
        width_multiplier = out_channels / (CIFAR_BASE_WIDTHS if family == "cifar_resnet" else BASE_WIDTHS)[0]
    if input_shape is None:
        input_shape = (None, None, int(in_channels))
    classifier_key = LAYOUTS[layout][3]
    if not classifier:
        state = {k: v for k, v in state.items() if not k.startswith(classifier_key + ".")}
    elif classifier_key + ".weight" not in state:
        raise CheckpointError(f"classifier=True but the checkpoint has no '{classifier_key}.weight'")
    else:
        found = int(state[classifier_key + ".weight"].shape[0])
        if num_classes is not None and int(num_classes) != found:
            raise CheckpointError(f"the checkpoint's fc has {found} classes, not {num_classes}")
        num_classes = found

    encoder = build_encoder(arch, stem=stem, width_multiplier=width_multiplier,
                            input_shape=tuple(input_shape))
    if mean is not None or std is not None:
        model_kwargs["preprocessing"] = ImagePreprocessing(
            mean=mean if mean is not None else (0.0,) * int(in_channels),
            std=std if std is not None else (1.0,) * int(in_channels),
            name="preprocessing",
        )
    dims = _head_dims(state, layout, projection_dim, projection_hidden_dim, head_type)
    model = SupConModel(encoder, num_classes, **dims, **model_kwargs)

    expected = _expected_weights(model, layout, classifier)
    _check(state, expected, arch, layout, guessed)
    for key, (_, variable, kind) in expected.items():
        variable.assign(_to_keras(state[key], kind).astype(variable.dtype))
    return model
