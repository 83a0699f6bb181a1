"""Momentum key encoder and a queue of labelled keys for SupCon at small batch sizes.

SupCon wants many negatives per step. With a small batch, the MoCo trick supplies them:
a key encoder (a copy of preprocessing + encoder + projection head) follows the query
network as an exponential moving average, and the key projections of the last
``queue_size`` examples are kept, with their labels, in a FIFO queue. Each query view is
contrasted with the current batch's keys and the queue (:mod:`kerascon.losses.queue`).

Conventions (documented choices):

* The EMA ``key = m * key + (1 - m) * query`` covers every trainable weight; batch-norm
  moving statistics (non-trainable weights) are copied from the query at each update.
  Averaging them too made every key nearly identical early in training (mean key cosine
  0.995 after 30 steps of a ResNet-18 at m = 0.99): the averaged statistics keep their
  initial 0/1 for ~1/(1-m) steps while the key network runs in inference mode. The EMA is
  applied in each training step before the keys are computed
  (as MoCo does), i.e. once after every optimizer step: the keys of step t come from the
  EMA of the query weights after steps 0..t-1. The query's forward pass of step t runs
  before the update, so the moving statistics copied are those after that pass. At construction the key
  network is an exact copy of the query network (:meth:`MomentumQueue.copy_from_query`
  re-copies it, e.g. after loading pretrained encoder weights).
* With ``key_batch_norm="batch"`` (the default) the key network runs in training mode, as
  MoCo's key encoder does: batch norm normalises with the key batch's own statistics (and
  dropout / stochastic depth, where an encoder has them, are active). With
  ``key_batch_norm="moving"`` it runs in inference mode with the moving statistics copied
  from the query: no statistics shared between the keys of a batch, but early in training
  those lag the weights and the keys come out nearly alike (mean key cosine 0.93 vs 0.13
  for the queries after 30 steps of a ResNet-18 at m = 0.99, measured), which made the
  queue useless in a short run (BENCHMARKS.md). The key batch norm layers stay outside
  the optimizer either way (the key network changes by EMA only).
* Every view of the global batch is enqueued after every training step (``B * V`` keys;
  under ``tf.distribute`` keys and labels are gathered from all replicas first, so the
  global batch enters once). The queue is a ring buffer: ``queue_size`` need not be a
  multiple of the keys per step, writes wrap around modulo ``queue_size``; it must hold at
  least one step's keys. Entries not written yet are masked out of the loss.
* The key of the anchor's own view counts as a positive (the query and its key are the
  same image through two encoders). Without labels, positives are the keys of every view
  of the same example; queue entries are then negatives only.
* Evaluation (``training=False``) uses the keys and queue but changes neither.
"""

from __future__ import annotations

import keras
from keras import ops

from kerascon.backend import replica_context
from kerascon.choices import KEY_BATCH_NORM_MODES
from kerascon.errors import ConfigError
from kerascon.losses.kernel import l2_normalize
from kerascon.losses.queue import queue_supcon_sum
from kerascon.losses.supcon import replica_keys, replica_share

__all__ = ["MomentumQueue", "check_momentum_arguments"]

_NO_MATCH = -(2**31) + 1  # the stored key of a label-free entry: matches no anchor


def check_momentum_arguments(momentum, queue_size):
    """Validate ``momentum_encoder`` / ``queue_size`` (one-line ``ValueError``s).

    Example:
        >>> check_momentum_arguments(0.999, 4096)
    """
    if momentum is None:
        if queue_size:
            raise ConfigError(f"queue_size={queue_size} needs a momentum encoder; pass "
                              "momentum_encoder=0.999 (or queue_size=0)")
        return
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not (
            0.0 <= float(momentum) < 1.0):
        raise ConfigError(f"momentum_encoder must be a float in [0, 1), got {momentum!r}; "
                          "use e.g. momentum_encoder=0.999, or None for no key encoder")
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 0:
        raise ConfigError(f"queue_size must be an int >= 0, got {queue_size!r}; "
                          "use e.g. queue_size=65536, or 0 for no queue")


def _clone(layer, name):
    config = keras.saving.serialize_keras_object(layer)
    config["config"] = dict(config["config"], name=name)
    return keras.saving.deserialize_keras_object(config)


@keras.saving.register_keras_serializable(package="kerascon")
class MomentumQueue(keras.layers.Layer):
    """Key network (EMA of the query's) and queue of labelled key projections.

    Build it with :meth:`from_query`; :class:`~kerascon.model.SupConModel` does so for
    ``momentum_encoder=m, queue_size=K``. Its weights (key network, ``queue`` [K, dim]
    float32, ``queue_labels`` [K] int32, ``queue_pointer`` and ``queue_filled`` int32
    scalars) are non-trainable Keras variables, saved with the model.

    Args:
        key_encoder, key_projection_head, key_preprocessing: the key network (built);
            ``key_preprocessing`` may be ``None``.
        momentum: m in [0, 1).
        queue_size: K >= 0 (0: contrast with the current batch's keys only).
        projection_dim: width of the key projections.
        key_batch_norm: ``"batch"`` (the key batch's statistics) or ``"moving"`` (the
            moving statistics copied from the query).

    Example:
        >>> from kerascon.model import SupConModel
        >>> model = SupConModel.from_architecture("resnet18", width_multiplier=0.125)
        >>> keys = MomentumQueue.from_query(model.encoder, model.projection_head,
        ...                                 model.preprocessing, momentum=0.99, queue_size=4096)
    """

    def __init__(self, key_encoder, key_projection_head, key_preprocessing=None, *,
                 momentum=0.999, queue_size=0, projection_dim=128, key_batch_norm="batch",
                 **kwargs):
        super().__init__(**kwargs)
        check_momentum_arguments(momentum, queue_size)
        if key_batch_norm not in KEY_BATCH_NORM_MODES:
            raise ConfigError(f"key_batch_norm must be one of {KEY_BATCH_NORM_MODES}, got "
                              f"{key_batch_norm!r}; use 'batch' (MoCo's choice) or 'moving'")
        self.key_batch_norm = key_batch_norm
        self.momentum = float(momentum)
        self.queue_size = int(queue_size)
        self.projection_dim = int(projection_dim)
        self.key_encoder = key_encoder
        self.key_projection_head = key_projection_head
        self.key_preprocessing = key_preprocessing
        if not key_projection_head.built:
            key_projection_head.build((None, _feature_dim(key_encoder, key_encoder)))
        size = max(self.queue_size, 1)  # a 1-entry placeholder, never valid, when K = 0
        self.queue = self.add_weight(shape=(size, self.projection_dim), initializer="zeros",
                                     dtype="float32", trainable=False, name="queue",
                                     autocast=False)
        self.queue_labels = self.add_weight(shape=(size,), initializer="zeros", dtype="int32",
                                            trainable=False, name="queue_labels")
        self.queue_pointer = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                             trainable=False, name="queue_pointer")
        self.queue_filled = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                            trainable=False, name="queue_filled")
        self._freeze()
        self.built = True

    @classmethod
    def from_query(cls, encoder, projection_head, preprocessing=None, *, momentum=0.999,
                   queue_size=0, key_batch_norm="batch", name="momentum_queue"):
        """Clone the query network into a key network with identical weights."""
        key_encoder = _clone(encoder, "key_encoder")
        key_head = _clone(projection_head, "key_projection_head")
        if not key_head.built:
            key_head.build((None, _feature_dim(key_encoder, encoder)))
        key_preprocessing = None
        if preprocessing is not None:
            key_preprocessing = _clone(preprocessing, "key_preprocessing")
            if not key_preprocessing.built and preprocessing.weights:
                key_preprocessing.build((None, None, None, 3))
        layer = cls(key_encoder, key_head, key_preprocessing, momentum=momentum,
                    queue_size=queue_size, projection_dim=projection_head.output_dim,
                    key_batch_norm=key_batch_norm, name=name)
        layer.copy_from_query(encoder, projection_head, preprocessing)
        return layer

    # ------------------------------------------------------------------ key network
    def _key_layers(self):
        return [layer for layer in (self.key_encoder, self.key_projection_head,
                                    self.key_preprocessing) if layer is not None]

    def _freeze(self):
        for layer in self._key_layers():
            layer.trainable = False
        if getattr(self, "key_batch_norm", "moving") == "batch":
            # Keras' batch norm uses batch statistics only when the layer is trainable; its
            # variables stay non-trainable, so the optimizer never sees them.
            for layer in self._key_layers():
                for sub in layer._flatten_layers():
                    if isinstance(sub, keras.layers.BatchNormalization):
                        sub.trainable = True
                        for variable in sub.weights:
                            variable.trainable = False

    @property
    def trainable(self):
        return False

    @trainable.setter
    def trainable(self, value):
        # Always frozen: the key network changes by EMA only (model.trainable = True must
        # not hand it to the optimizer).
        self._trainable = False
        if getattr(self, "_layers", None):
            self._freeze()

    def _pairs(self, encoder, projection_head, preprocessing):
        pairs = [(encoder, self.key_encoder), (projection_head, self.key_projection_head)]
        if preprocessing is not None and self.key_preprocessing is not None:
            pairs.append((preprocessing, self.key_preprocessing))
        out = []
        for query_layer, key_layer in pairs:
            query_weights, key_weights = query_layer.weights, key_layer.weights
            if len(query_weights) != len(key_weights) or any(
                    tuple(q.shape) != tuple(k.shape) for q, k in zip(query_weights, key_weights)):
                raise ConfigError(f"the key copy of {query_layer.name!r} does not match it; "
                                  "build SupConModel again so the key network is cloned from it")
            out += list(zip(query_weights, key_weights))
        return out

    def copy_from_query(self, encoder, projection_head, preprocessing=None):
        """Set the key network's weights to the query's (eagerly)."""
        for query, key in self._pairs(encoder, projection_head, preprocessing):
            key.assign(ops.copy(query.value))  # own buffer: JAX donates each variable's

    def momentum_update(self, encoder, projection_head, preprocessing=None):
        """``key = m * key + (1 - m) * query`` for every trainable weight; the query's moving
        statistics are copied."""
        m = self.momentum
        for query, key in self._pairs(encoder, projection_head, preprocessing):
            if not query.trainable or not keras.backend.is_float_dtype(key.dtype):
                # Moving statistics (and integer state) are copied, not averaged: averaged
                # statistics lag their initial 0/1 for ~1/(1-m) steps, and the inference-mode
                # key network then maps every image to nearly the same key (measured).
                key.assign(ops.copy(query.value))
                continue
            value = ops.cast(query.value, key.dtype)
            key.assign(ops.stop_gradient(key.value * m + value * (1.0 - m)))

    def key_projections(self, inputs):
        """Raw inputs [N, ...] -> L2-normalised float32 key projections [N, dim], no gradient."""
        batch_stats = self.key_batch_norm == "batch"
        x = inputs if self.key_preprocessing is None else self.key_preprocessing(inputs)
        features = self.key_encoder(x, training=batch_stats)
        return ops.stop_gradient(
            l2_normalize(self.key_projection_head(features, training=batch_stats)))

    # ------------------------------------------------------------------ queue
    def queue_valid(self):
        """[K] bool: entries written so far."""
        if self.queue_size == 0:
            return ops.zeros((1,), "bool")
        return ops.arange(self.queue_size, dtype="int32") < self.queue_filled.value

    def enqueue(self, keys, labels):
        """Write ``keys`` [n, dim] and ``labels`` [n] at the pointer (FIFO, wrapping)."""
        if self.queue_size == 0:
            return
        count = keys.shape[0]
        if count is not None and count > self.queue_size:
            raise ConfigError(f"queue_size={self.queue_size} is smaller than the {count} keys "
                              "one step enqueues (global batch x views); use a queue_size of "
                              "at least that")
        count = ops.shape(keys)[0]
        pointer = self.queue_pointer.value
        rows = (pointer + ops.arange(count, dtype="int32")) % self.queue_size
        rows = ops.expand_dims(rows, 1)
        self.queue.assign(ops.scatter_update(self.queue.value, rows,
                                             ops.cast(ops.stop_gradient(keys), "float32")))
        self.queue_labels.assign(ops.scatter_update(self.queue_labels.value, rows,
                                                    ops.cast(labels, "int32")))
        count = ops.cast(count, "int32")
        self.queue_pointer.assign((pointer + count) % self.queue_size)
        self.queue_filled.assign(ops.minimum(self.queue_filled.value + count, self.queue_size))

    # ------------------------------------------------------------------ loss
    def contrastive_loss(self, model, inputs, projections, labels, training):
        """SupCon of ``projections`` [B, V, dim] against the keys of ``inputs`` and the queue.

        ``inputs`` are the raw views merged to [B * V, ...] (batch-major, as
        ``projections``); ``labels`` [B] or ``None`` (label-free: positives are the same
        example's keys). In training, first updates the key network (EMA), and enqueues the
        batch's keys afterwards. Uses ``model``'s temperature, base_temperature,
        loss_variant, contrast_mode and use_labels. Returns this replica's share of the
        loss (the mean over replicas is the global loss), as ``supcon_loss`` does.
        """
        if training:
            self.momentum_update(model.encoder, model.projection_head, model.preprocessing)
        views = projections.shape[1]
        dim = projections.shape[-1]
        queries = l2_normalize(projections)
        keys = self.key_projections(inputs)  # [B * V, dim], batch-major
        replicas = replica_context()
        local_batch = ops.shape(queries)[0]
        global_keys = replicas.all_gather(keys)
        global_batch = ops.shape(global_keys)[0] // views
        labelled = labels is not None and model.use_labels
        local_ids, local_keys, global_labels = replica_keys(
            replicas, labels if labelled else None, local_batch, global_batch)
        # Label-free keys are example ids, meaningless in a later step: queued, they match
        # no anchor (negatives only).
        queue_keys = (global_labels if labelled else
                      ops.full((global_batch,), _NO_MATCH, "int32"))
        key_labels = ops.repeat(global_labels, views)
        # Anchors batch-major: row b * V + v is view v of example b.
        anchor_views = views if model.contrast_mode == "all" else 1
        anchors = ops.reshape(queries[:, :anchor_views], (-1, dim))
        anchor_keys = ops.repeat(local_keys, anchor_views)
        view_index = ops.tile(ops.arange(anchor_views, dtype="int32"), (local_batch,))
        own_columns = ops.repeat(local_ids, anchor_views) * views + view_index

        loss_sum, valid = queue_supcon_sum(
            anchors, anchor_keys, own_columns, global_keys, key_labels, self.queue.value,
            self.queue_labels.value, self.queue_valid(), temperature=model.temperature,
            variant=model.loss_variant,
        )
        loss = replica_share(loss_sum, valid, replicas, model.temperature,
                             model.base_temperature)
        if training:
            self.enqueue(global_keys, ops.repeat(queue_keys, views))
        return loss

    # ------------------------------------------------------------------ saving
    def load_own_variables(self, store):
        expected = (max(self.queue_size, 1), self.projection_dim)
        keys = list(store.keys()) if hasattr(store, "keys") else []
        if not keys and getattr(self, "_load_error", None) is not None:
            # Keras retries a failed layer under another (empty) path; keep the real cause.
            raise self._load_error
        stored = tuple(store["0"].shape) if "0" in keys else expected
        if stored != expected:
            self._load_error = ConfigError(
                f"the saved queue has shape {stored}, this model's is {expected}; build the "
                "model with the saved projection_dim and queue_size")
            raise self._load_error
        self._load_error = None
        super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        config.update({
            "key_encoder": keras.saving.serialize_keras_object(self.key_encoder),
            "key_projection_head": keras.saving.serialize_keras_object(
                self.key_projection_head),
            "key_preprocessing": (None if self.key_preprocessing is None else
                                  keras.saving.serialize_keras_object(self.key_preprocessing)),
            "momentum": self.momentum,
            "queue_size": self.queue_size,
            "projection_dim": self.projection_dim,
            "key_batch_norm": self.key_batch_norm,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("key_encoder", "key_projection_head", "key_preprocessing"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _feature_dim(key_encoder, encoder):
    shape = getattr(encoder, "output_shape", None)
    if shape is not None and len(shape) == 2 and shape[-1] is not None:
        return int(shape[-1])
    from kerascon.encoders import check_encoder

    return check_encoder(encoder)
