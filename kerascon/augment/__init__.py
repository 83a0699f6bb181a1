"""Image augmentations for contrastive training, built from stateless TF ops.

Every augmentation is a plain function ``fn(image, seed) -> image`` on ``[H, W, C]``
images in ``[0, 255]``; the same seed always gives the same output. Modules:
:mod:`~kerascon.augment.factory` (policies by name: ``simclr``, ``randaugment``,
``autoaugment``, ``stacked``, ``flip_crop``, ``none``), :mod:`~kerascon.augment.simclr`
(crop, colour jitter, grayscale, blur, the evaluation transform),
:mod:`~kerascon.augment.batched` (SimCLR after the crop on a whole batch, per-image random
parameters; ``multiview_dataset`` uses it through ``fn.batch_stages``),
:mod:`~kerascon.augment.policies` (RandAugment, AutoAugment) and
:mod:`~kerascon.augment.ops` (their operation table).

Example:
    >>> import tensorflow as tf
    >>> from kerascon.augment import make_augmentation
    >>> augment = make_augmentation("simclr", 32, crop_scale=(0.2, 1.0))
    >>> augment(tf.zeros([40, 50, 3], tf.uint8), tf.constant([1, 2])).shape
    TensorShape([32, 32, 3])
"""

from kerascon.augment.batched import BatchStages, simclr_batch_stage
from kerascon.augment.factory import POLICY_BUILDERS, AugmentFn, make_augmentation
from kerascon.augment.policies import AUTOAUGMENT_IMAGENET_POLICY, auto_augment, rand_augment
from kerascon.augment.simclr import (
    color_jitter,
    gaussian_blur,
    make_eval_transform,
    random_resized_crop,
    to_grayscale,
)

__all__ = [
    "AUTOAUGMENT_IMAGENET_POLICY",
    "AugmentFn",
    "BatchStages",
    "POLICY_BUILDERS",
    "auto_augment",
    "color_jitter",
    "gaussian_blur",
    "make_augmentation",
    "make_eval_transform",
    "rand_augment",
    "random_resized_crop",
    "simclr_batch_stage",
    "to_grayscale",
]
