"""An encoder's weights as float16 arrays in an ``.npz``: written for shipping, read back
into float32 variables.

One array per variable, keyed by the variable's path (``stem_conv/kernel``,
``stage1_block0_bn1/moving_variance``...), stored as float16 to halve the file; reading
builds the architecture and casts each array back to the variable's dtype. A file made
for another architecture, width or stem is refused with one line naming the first
variable that does not fit, before any variable is assigned (nothing half-loaded).
Files are read with ``allow_pickle=False``: no code in them runs.

Example:
    >>> from kerascon.encoders import build_encoder
    >>> encoder = build_encoder("resnet18", width_multiplier=0.125)
    >>> save_float16_weights(encoder, "encoder.npz")
    >>> load_float16_weights(build_encoder("resnet18", width_multiplier=0.125), "encoder.npz")
"""

from __future__ import annotations

import zipfile

import numpy as np

from kerascon._utils.atomic_files import atomic_path
from kerascon.errors import ConfigError, DataError
from kerascon.zoo.torch_checkpoint import CheckpointError

__all__ = ["load_float16_weights", "save_float16_weights"]

_FLOAT16_MAX = float(np.finfo(np.float16).max)


def save_float16_weights(encoder, path):
    """Write every variable of ``encoder`` to ``path`` (an ``.npz``) as float16, atomically.

    Raises:
        ValueError: a value does not fit float16 (larger than 65,504 in magnitude).

    Example:
        >>> from kerascon.encoders import build_encoder
        >>> save_float16_weights(build_encoder("resnet18", width_multiplier=0.125), "e.npz")
    """
    arrays = {}
    for variable in encoder.weights:
        value = np.asarray(variable.numpy(), dtype=np.float32)
        if np.abs(value).max(initial=0.0) > _FLOAT16_MAX or not np.all(np.isfinite(value)):
            raise DataError(f"variable {variable.path} has values float16 cannot hold; "
                            "keep these weights in float32")
        if variable.path in arrays:
            raise ConfigError(f"two variables share the path {variable.path}; name the layers")
        arrays[variable.path] = value.astype(np.float16)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path} is not a float16 weights file ({err}); use the file "
                              "the entry was registered with") from err


def load_float16_weights(encoder, path, *, what="the encoder"):
    """Assign the float16 arrays in ``path`` to ``encoder``'s variables (cast to their dtype).

    Raises:
        CheckpointError: a variable missing from the file, one the encoder does not have,
            or a shape that differs; one line naming it. No variable is assigned then.

    Example:
        >>> from kerascon.encoders import build_encoder
        >>> load_float16_weights(build_encoder("resnet18", width_multiplier=0.125), "e.npz")
    """
    arrays = _read(path)
    plan = []
    for variable in encoder.weights:
        value = arrays.pop(variable.path, None)
        if value is None:
            raise CheckpointError(f"{path} has no weights for layer {variable.path} of {what}; "
                                  "the file was written for another architecture")
        if tuple(value.shape) != tuple(variable.shape):
            raise CheckpointError(
                f"layer {variable.path} has shape {tuple(value.shape)} in {path} but "
                f"{tuple(variable.shape)} in {what}; the file was written for another "
                "architecture, width or stem")
        plan.append((variable, value))
    if arrays:
        extra = sorted(arrays)[0]
        raise CheckpointError(f"{path} holds weights for layer {extra}, which {what} does not "
                              f"have ({len(arrays)} such arrays); the file was written for "
                              "another architecture")
    for variable, value in plan:
        variable.assign(value.astype(variable.dtype))
    return encoder
