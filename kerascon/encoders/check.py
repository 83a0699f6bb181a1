"""``check_encoder``: does a Keras model map an image batch to ``[batch, features]``?"""

from __future__ import annotations

import re

import keras

from kerascon.errors import ConfigError

__all__ = ["check_encoder"]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = ("Exception encountered when calling", "Arguments received by", "\u2022")


def _first_line(err):
    """The most informative single line of an exception message."""
    lines = [line.strip() for line in _ANSI.sub("", str(err)).splitlines()]
    lines = [line for line in lines if line and not line.startswith(_NOISE)]
    return lines[0] if lines else type(err).__name__


def _declared_input_shape(encoder):
    """Per-image input shape of a model with a single declared input, else None."""
    if not isinstance(encoder, keras.Model):
        return None
    try:
        inputs = encoder.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs or len(inputs) != 1:
        return None
    return tuple(inputs[0].shape[1:])


def check_encoder(encoder, input_shape=(32, 32, 3)):
    """Check that ``encoder`` maps ``[B, *input_shape]`` images to ``[B, D]``.

    The check is symbolic: the encoder is called on a ``keras.Input`` (no real
    data is run). Any ``keras.layers.Layer`` / ``keras.Model`` is accepted;
    an unbuilt encoder gets built for ``input_shape`` as a side effect.

    Args:
        encoder: the Keras model or layer to check.
        input_shape: ``(H, W, C)`` of one image.

    Returns:
        The feature dimension ``D`` (int).

    Raises:
        ValueError: with a one-line message naming the problem and the fix.

    Example:
        >>> import keras
        >>> enc = keras.Sequential([keras.layers.Conv2D(8, 3),
        ...                         keras.layers.GlobalAveragePooling2D()])
        >>> check_encoder(enc)
        8
    """
    if not isinstance(encoder, keras.layers.Layer):
        raise ConfigError(
            f"encoder must be a keras.Model or keras.layers.Layer, got "
            f"{type(encoder).__name__}; wrap it in a keras.layers.Layer subclass"
        )
    input_shape = tuple(input_shape)
    expected = _declared_input_shape(encoder)
    if expected is not None and (
        len(expected) != len(input_shape)
        or any(e is not None and e != g for e, g in zip(expected, input_shape))
    ):
        raise ConfigError(
            f"encoder {encoder.name!r} expects images of shape {expected}, got "
            f"input_shape={input_shape}; pass a matching input_shape or rebuild "
            f"the encoder for these images"
        )
    try:
        out = encoder(keras.Input(shape=input_shape))
    except Exception as err:  # noqa: BLE001 - re-raised with context
        raise ConfigError(
            f"encoder {encoder.name!r} cannot be called on an image batch of shape "
            f"{(None,) + input_shape}: {_first_line(err)}; check its input shape "
            f"and channel count"
        ) from err

    if isinstance(out, dict) or isinstance(out, (list, tuple)):
        raise ConfigError(
            f"encoder must return a single [batch, features] tensor, got a "
            f"{type(out).__name__} of outputs; return only the feature tensor"
        )
    shape = tuple(out.shape)
    if len(shape) != 2:
        if len(shape) == 4:
            fix = "add a pooling layer such as keras.layers.GlobalAveragePooling2D"
        elif len(shape) == 3:
            fix = "add a pooling layer such as keras.layers.GlobalAveragePooling1D"
        else:
            fix = "make the encoder return a rank-2 [batch, features] tensor"
        raise ConfigError(
            f"encoder output must be [batch, features], got shape {shape}; {fix}"
        )
    dim = shape[-1]
    if dim is None:
        raise ConfigError(
            f"encoder feature dimension must be static, got shape {shape}; end "
            f"the encoder with a layer of fixed width (e.g. keras.layers.Dense)"
        )
    if not keras.backend.is_float_dtype(out.dtype):
        raise ConfigError(
            f"encoder output must be floating point, got dtype {out.dtype}; "
            f"cast the features to float"
        )
    return int(dim)
