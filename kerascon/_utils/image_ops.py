"""Small image helpers shared by the data sources and the augmentations."""

from __future__ import annotations

import tensorflow as tf


def to_three_channels(image: tf.Tensor) -> tf.Tensor:
    """[H, W], [H, W, 1], [H, W, 3] or [H, W, 4] -> [H, W, 3], dtype kept.

    Grayscale is repeated to RGB and an alpha channel is dropped.
    """
    if image.shape.rank == 2:
        image = image[..., tf.newaxis]
    channels = image.shape[-1]
    if channels == 1:
        image = tf.image.grayscale_to_rgb(image)
    elif channels == 4:
        image = image[..., :3]
    elif channels is None:
        image = tf.cond(
            tf.equal(tf.shape(image)[-1], 1),
            lambda: tf.tile(image, [1, 1, 3]),
            lambda: image[..., :3],
        )
    image.set_shape([None, None, 3])
    return image
