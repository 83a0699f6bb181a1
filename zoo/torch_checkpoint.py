"""Read a PyTorch checkpoint safely into a flat ``{key: numpy array}`` state dict.

No code from the file is ever run: files are opened with
``torch.load(..., weights_only=True)``, which only rebuilds tensors and plain
containers. ``argparse.Namespace`` is the one extra class allowed (torch >= 2.5),
because the SupContrast training scripts store their options as ``opt`` next
to the weights; it is a plain attribute holder.

Unwrapping: a ``{"model": state_dict, ...}`` (SupContrast), ``{"state_dict":
...}`` or ``{"model_state_dict": ...}`` wrapper is opened, ``module.`` path
components added by ``DataParallel`` are dropped (SupContrast wraps only
``encoder``, giving ``encoder.module.conv1.weight``), and the
``num_batches_tracked`` counters of batch norm are discarded.

Example:
    >>> from kerascon.zoo.torch_checkpoint import read_state_dict
    >>> state = read_state_dict("last.pth")
    >>> state["encoder.conv1.weight"].shape
    (64, 3, 3, 3)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from kerascon.errors import DependencyError, KerasconError, PathNotFoundError

__all__ = ["CheckpointError", "LAYOUTS", "read_state_dict"]

#: layout -> (key prefix of the encoder, name of the projection shortcut, default stem,
#: key of the classifier). Plain data, here rather than in :mod:`kerascon.zoo.torch_import`
#: (which loads Keras), so that the layouts can be listed without loading TensorFlow.
LAYOUTS = {
    "supcontrast": ("encoder.", "shortcut", "cifar", "fc"),
    "torchvision": ("", "downsample", "imagenet", "fc"),
    "cifar_resnet": ("", "shortcut", "cifar", "linear"),
}

_WRAPPERS = ("model", "state_dict", "model_state_dict")
_IGNORED_SUFFIXES = (".num_batches_tracked",)
_BOILERPLATE = ("Weights only load failed", "Check the documentation")


class CheckpointError(KerasconError, ValueError):
    """A checkpoint cannot be read or does not fit the requested network."""


def _import_torch():
    try:
        import torch
    except ImportError as err:
        raise DependencyError(
            "reading PyTorch checkpoints needs torch; install it with "
            "pip install 'kerascon[torch]'"
        ) from err
    return torch


def _unpickler_reason(err):
    """The informative sentence of a torch.load failure, on one line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    match = re.search(r"WeightsUnpickler error:[ \t]*(\S[^\n]*)", text)
    if match:
        reason = match.group(1)
    else:
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        paragraphs = [p for p in paragraphs if not p.startswith(_BOILERPLATE)]
        reason = paragraphs[0] if paragraphs else type(err).__name__
    reason = " ".join(reason.split()).split(". ")[0].rstrip(".")
    return reason[:200]


def _load_file(path):
    torch = _import_torch()
    import argparse

    path = Path(path).expanduser()
    if not path.is_file():
        raise PathNotFoundError(f"no checkpoint file at {path}")
    serialization = torch.serialization
    if hasattr(serialization, "safe_globals"):  # torch >= 2.5
        allow = serialization.safe_globals([argparse.Namespace])
    else:  # older torch: SupContrast's `opt` is refused, with a clear message
        allow = contextlib.nullcontext()
    try:
        with allow:
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means "not a safe torch file"
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint that can be read safely "
            f"(torch.load with weights_only=True failed: {_unpickler_reason(err)}); "
            f"only tensors and plain containers are accepted, never pickled code"
        ) from err


def _is_tensor(value):
    return isinstance(value, np.ndarray) or (hasattr(value, "detach") and hasattr(value, "shape"))


def _unwrap(obj):
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not isinstance(obj, Mapping):
        obj = obj.state_dict()  # an nn.Module
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"the checkpoint holds a {type(obj).__name__}, not a state dict of tensors"
        )
    for _ in range(3):
        if obj and all(_is_tensor(v) for v in obj.values()):
            return obj
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    keys = ", ".join(repr(k) for k in list(obj)[:8])
    raise CheckpointError(
        f"no state dict of tensors found in the checkpoint (top-level keys: {keys}); "
        f"expected the weights themselves or under one of {list(_WRAPPERS)}"
    )


def _to_numpy(value):
    if isinstance(value, np.ndarray):
        return value
    value = value.detach().cpu()
    if value.is_floating_point():
        value = value.float()
    return value.numpy()


def read_state_dict(source):
    """A flat ``{key: np.ndarray}`` state dict from a file, a mapping or an ``nn.Module``.

    Args:
        source: path to a ``.pth``/``.pt`` file, a state dict (values: torch
            tensors or numpy arrays), a wrapper dict (see module docstring), or a
            ``torch.nn.Module``.

    Raises:
        PathNotFoundError: no file at ``source``.
        CheckpointError: unreadable / unsafe file, or no state dict inside.
        DependencyError: a file was given but torch is not installed.

    Example:
        >>> import numpy as np
        >>> w = np.zeros((64, 3, 3, 3), np.float32)
        >>> state = read_state_dict({"model": {"module.conv1.weight": w}})
        >>> list(state)
        ['conv1.weight']
    """
    if isinstance(source, (str, Path)):
        source = _load_file(source)
    state = _unwrap(source)
    out = {}
    for key, value in state.items():
        key = ".".join(part for part in str(key).split(".") if part != "module")
        if key.endswith(_IGNORED_SUFFIXES):
            continue
        if key in out:
            raise CheckpointError(f"key {key!r} appears twice once 'module.' prefixes are removed; "
                                  "pass the state dict of one model")
        out[key] = _to_numpy(value)
    return out
