"""Batched, augmented ``tf.data`` pipelines for contrastive and supervised training.

Two kinds of batches (the model normalises inputs itself, so values stay in
``[0, 255]``):

* :func:`multiview_dataset` -> ``(views, labels)`` with ``views`` float32
  ``[B, V, S, S, 3]`` and ``labels`` int32 ``[B]``; every view of every example
  is augmented independently (contrastive / joint training).
* :func:`single_view_dataset` -> ``(images, labels)`` with ``images`` float32
  ``[B, S, S, 3]`` (linear evaluation, cross-entropy training, evaluation).

Randomness is keyed on ``seed``: each example gets its own stateless seed pair
from ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``, so two
pipelines built with the same seed yield identical batches, while every epoch
(each new iteration over the dataset) draws new augmentations and a new order.

Example::

    from kerascon.data import load_embedded, multiview_dataset, single_view_dataset

    src = load_embedded("digits", split="train")
    train = multiview_dataset(src, views=2, batch_size=128, augment="simclr",
                              image_size=32, crop_scale=(0.2, 1.0), seed=0)
    views, labels = next(iter(train))   # (128, 2, 32, 32, 3) float32, (128,) int32

    test = single_view_dataset(load_embedded("digits", split="test"),
                               batch_size=256, image_size=32)
"""

from __future__ import annotations

import os
from typing import Callable, Union

import tensorflow as tf

from kerascon.augment import make_augmentation, make_eval_transform
from kerascon.data.sources import DataSource
from kerascon.errors import ConfigError, ConfigTypeError, DataError

__all__ = ["batches_per_epoch", "multiview_dataset", "single_view_dataset"]

Augment = Union[str, Callable[[tf.Tensor, tf.Tensor], tf.Tensor], None]


def _check_positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def _check_source(source: DataSource, batch_size: int, drop_remainder: bool, repeat: bool) -> None:
    if not isinstance(source, DataSource):
        raise ConfigTypeError(f"source must be a kerascon.data.DataSource, got {type(source).__name__}")
    if source.num_examples == 0:
        raise DataError(f"dataset is empty: source {source.name!r} has no examples")
    if drop_remainder and not repeat and 0 < source.num_examples < batch_size:
        raise ConfigError(
            f"batch_size {batch_size} exceeds the {source.num_examples} examples of {source.name!r} with "
            "drop_remainder=True, so no batch would be produced; lower batch_size or pass drop_remainder=False"
        )


def _resolve_seed(seed: int | None) -> int:
    if seed is None:
        return int.from_bytes(os.urandom(4), "little")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an int or None, got {seed!r}")
    return seed


def batches_per_epoch(num_examples: int, batch_size: int, drop_remainder: bool = True) -> int:
    """How many batches one pass over ``num_examples`` examples yields.

    ``num_examples // batch_size`` when the last incomplete batch is dropped, else the
    ceiling. Every finite dataset of :func:`multiview_dataset` and
    :func:`single_view_dataset` has exactly this cardinality (asserted in the pipeline).

    Example:
        >>> batches_per_epoch(2700, 256), batches_per_epoch(2700, 256, drop_remainder=False)
        (10, 11)
    """
    if drop_remainder:
        return num_examples // batch_size
    return -(-num_examples // batch_size)


def _ordered(source: DataSource, shuffle: bool, seed: int, shuffle_buffer: int | None, repeat: bool):
    ds = source.shuffled(seed, buffer_size=shuffle_buffer) if shuffle else source.dataset
    # The source says how many examples it holds; a dataset that yields another number
    # fails here instead of silently training or evaluating on a different count.
    ds = ds.apply(tf.data.experimental.assert_cardinality(source.num_examples))
    return ds.repeat() if repeat else ds


def _finish(ds: tf.data.Dataset, num_examples: int, batch_size: int, drop_remainder: bool,
            repeat: bool) -> tf.data.Dataset:
    """A known length, sharding by example, prefetching.

    A finite dataset gets ``batches_per_epoch`` as its cardinality: after the rebatch of
    the chunked batch stage TensorFlow cannot compute it (UNKNOWN), and Keras and
    ``run_stage`` take the steps of an epoch from it. A repeated one stays INFINITE.
    Multi-worker training shards by example (``AutoShardPolicy.DATA``): every worker
    reads all of the data and takes its share of every global batch, so each worker takes
    the same ``examples // global_batch`` steps (sharding TFDS by file would give the
    workers different numbers of examples).
    """
    if not repeat:
        ds = ds.apply(tf.data.experimental.assert_cardinality(
            batches_per_epoch(num_examples, batch_size, drop_remainder)))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def _with_seeds(ds: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """Zip each example with its own int64[2] seed; new seeds on every iteration."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds))


def _augment_fn(augment: Augment, image_size, crop_scale):
    if callable(augment):
        return augment
    return make_augmentation(augment, image_size, crop_scale=crop_scale)


def _batch_stages(augment_fn, vectorize: bool | None):
    if vectorize is not None and not isinstance(vectorize, bool):
        raise ConfigError(f"vectorize must be True, False or None, got {vectorize!r}")
    stages = getattr(augment_fn, "batch_stages", None)
    if vectorize and stages is None:
        raise ConfigError(
            f"vectorize=True needs an augmentation with a batch stage (the simclr or flip_crop "
            f"policy), got {getattr(augment_fn, '__name__', augment_fn)!r}; pass vectorize=None"
        )
    if vectorize is False or stages is None:
        return None
    size = stages.image_size
    if vectorize is None and size is not None and size[0] * size[1] > _VECTORIZE_MAX_PIXELS:
        return None
    return stages


# By default the batch stage runs for views of at most 96 x 96 px. Measured with
# benchmarks/augment_vs_torchvision.py's kerascon side (2 threads, load 4.1-5.5, 3 epochs):
# 32 px 5,923-6,656 img/s batched vs 3,057-4,326 per image, 96 px 1,476-1,873 vs 1,411-1,611,
# but 224 px 172-200 vs 383-737 (the batched path is slower there; not resolved).
_VECTORIZE_MAX_PIXELS = 96 * 96


def _vectorized_views(ds, stages, views: int, batch_size: int, drop_remainder: bool,
                      deterministic: bool) -> tf.data.Dataset:
    """Crop every view alone, batch, then one ``stages.per_batch`` call over all B x V views.

    Each example's seed splits into ``views`` crop seeds and one more; the batch stage's
    seed is that extra seed of the batch's first example.
    """

    @tf.autograph.experimental.do_not_convert
    def crop_views(example, example_seed):
        image, label = example
        seeds = tf.random.experimental.stateless_split(example_seed, num=views + 1)
        crops = tf.stack([stages.per_image(image, seeds[v]) for v in range(views)])
        return crops, tf.cast(label, tf.int32), seeds[views]

    @tf.autograph.experimental.do_not_convert
    def finish_views(crops, labels, batch_seeds):
        shape = tf.shape(crops)
        flat = tf.reshape(crops, tf.concat([[-1], shape[2:]], axis=0))
        out = tf.reshape(stages.per_batch(flat, batch_seeds[0]), shape)
        out.set_shape(crops.shape)
        return out, labels

    ds = ds.map(crop_views, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    chunk = _chunk_size(ds.element_spec[0].shape, batch_size)
    ds = ds.batch(chunk, drop_remainder=drop_remainder and chunk == batch_size)
    ds = ds.map(finish_views, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if chunk != batch_size:
        # Chunks of every example (the last one partial), then whole batches: the same
        # examples // batch_size batches (drop_remainder) as batching directly.
        ds = ds.rebatch(batch_size, drop_remainder=drop_remainder)
    return ds


# The batch stage works on chunks of about this many bytes, then the chunks are rebatched: a
# chunk that stays in the CPU's caches is faster than a whole batch of large images streamed
# through memory (224 px, 2 threads: chunks of 2 examples 2.9 ms of CPU per view, of 8
# examples 3.3, per image 2.8-3.2), while at 32 px a whole batch of 64 is one chunk.
_CHUNK_BYTES = 2 * 1024 * 1024


def _chunk_size(views_shape: tf.TensorShape, batch_size: int) -> int:
    """Examples per batch-stage call: as many as fit in ``_CHUNK_BYTES``, at least 1."""
    per_example = 4 * (views_shape.num_elements() or 0)
    if per_example == 0:
        return batch_size
    return max(1, min(batch_size, _CHUNK_BYTES // per_example))


def multiview_dataset(
    source: DataSource,
    *,
    views: int = 2,
    batch_size: int = 256,
    augment: Augment = "simclr",
    image_size=32,
    shuffle: bool = True,
    seed: int | None = None,
    drop_remainder: bool = True,
    repeat: bool = False,
    crop_scale: tuple[float, float] | None = None,
    shuffle_buffer: int | None = None,
    vectorize: bool | None = None,
) -> tf.data.Dataset:
    """Batches of ``(views float32 [B, V, S, S, 3] in [0, 255], labels int32 [B])``.

    Args:
        source: a :class:`~kerascon.data.DataSource`.
        views: augmented views per example (``V`` >= 1).
        batch_size: examples per batch (``B``).
        augment: a policy name from :data:`kerascon.choices.AUGMENT_POLICIES` or a callable
            ``fn(image, seed) -> float32 [S, S, 3]``.
        image_size: output size ``S`` (int or ``(height, width)``).
        shuffle: shuffle examples (a new order every epoch).
        seed: makes order and augmentations reproducible; ``None`` = random.
        drop_remainder: drop the last incomplete batch (default, keeps ``B`` fixed).
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        crop_scale: random-resized-crop area range, e.g. ``(0.2, 1.0)`` for CIFAR.
        shuffle_buffer: shuffle buffer for sources without cheap keys (TFDS).
        vectorize: run the augmentation in two stages, the crop image by image and the
            rest (flip, colour jitter, grayscale, blur) once per batch with per-image
            random parameters -- the same distributions, much less per-op overhead.
            ``None`` (default): when the augmentation supports it (``simclr`` and
            ``flip_crop``, by name or as returned by ``make_augmentation``) and the views
            are at most 96 x 96 px (above that the per-image path measured faster);
            ``True``: required; ``False``: every view augmented alone by the per-image
            function.

    The dataset's ``cardinality()`` is ``len(source) // batch_size`` (the ceiling with
    ``drop_remainder=False``; see :func:`batches_per_epoch`), also when the batch stage
    works on chunks and rebatches them, and INFINITE with ``repeat=True``.

    Raises:
        ValueError: ``views``/``batch_size`` < 1, unknown policy, empty source,
            fewer examples than one batch with ``drop_remainder=True``, or
            ``vectorize=True`` with an augmentation that has no batch stage.

    Example::

        ds = multiview_dataset(src, views=2, batch_size=256, augment="simclr", seed=1)
        model.fit(ds, epochs=100)
    """
    _check_positive_int(views, "views")
    _check_positive_int(batch_size, "batch_size")
    _check_source(source, batch_size, drop_remainder, repeat)
    augment_fn = _augment_fn(augment, image_size, crop_scale)
    stages = _batch_stages(augment_fn, vectorize)
    deterministic = seed is not None
    seed = _resolve_seed(seed)
    ds = _with_seeds(_ordered(source, shuffle, seed, shuffle_buffer, repeat), seed)
    if stages is not None:
        ds = _vectorized_views(ds, stages, views, batch_size, drop_remainder, deterministic)
        return _finish(ds, source.num_examples, batch_size, drop_remainder, repeat)

    @tf.autograph.experimental.do_not_convert
    def make_views(example, example_seed):
        image, label = example
        view_seeds = tf.random.experimental.stateless_split(example_seed, num=views)
        stacked = tf.stack([tf.cast(augment_fn(image, view_seeds[v]), tf.float32) for v in range(views)])
        return stacked, tf.cast(label, tf.int32)

    ds = ds.map(make_views, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return _finish(ds, source.num_examples, batch_size, drop_remainder, repeat)


def single_view_dataset(
    source: DataSource,
    *,
    batch_size: int,
    image_size=32,
    augment: Augment = "none",
    shuffle: bool = False,
    seed: int | None = None,
    drop_remainder: bool = False,
    repeat: bool = False,
    crop_scale: tuple[float, float] | None = None,
    shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
    """Batches of ``(images float32 [B, S, S, 3] in [0, 255], labels int32 [B])``.

    ``augment="none"`` (default) applies the deterministic evaluation transform
    (resize shorter side + centre crop). ``"flip_crop"`` (random resized crop +
    flip) is the usual light augmentation for linear evaluation; any policy of
    :data:`kerascon.choices.AUGMENT_POLICIES` or a callable ``fn(image, seed)`` works too.
    Other arguments are as in :func:`multiview_dataset`, and so is the cardinality: an
    evaluation dataset (``drop_remainder=False``, the default) has ``ceil(len(source) /
    batch_size)`` batches.

    Example::

        train = single_view_dataset(src, batch_size=256, image_size=32,
                                    augment="flip_crop", shuffle=True, seed=0)
        test = single_view_dataset(test_src, batch_size=512, image_size=32)
    """
    _check_positive_int(batch_size, "batch_size")
    _check_source(source, batch_size, drop_remainder, repeat)
    deterministic = seed is not None
    seed = _resolve_seed(seed)
    ds = _ordered(source, shuffle, seed, shuffle_buffer, repeat)

    if augment is None or (isinstance(augment, str) and augment.lower() == "none"):
        evaluate = make_eval_transform(image_size)

        @tf.autograph.experimental.do_not_convert
        def transform(image, label):
            return evaluate(image), tf.cast(label, tf.int32)

        ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        augment_fn = _augment_fn(augment, image_size, crop_scale)

        @tf.autograph.experimental.do_not_convert
        def transform_seeded(example, example_seed):
            image, label = example
            return tf.cast(augment_fn(image, example_seed), tf.float32), tf.cast(label, tf.int32)

        ds = _with_seeds(ds, seed).map(
            transform_seeded, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic
        )
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return _finish(ds, source.num_examples, batch_size, drop_remainder, repeat)
