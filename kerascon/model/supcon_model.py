"""SupConModel: one Keras model for every stage of supervised contrastive learning."""

from __future__ import annotations

import keras
from keras import ops

from kerascon.backend import StageStepMixin, check_labels_in_range, num_replicas_in_sync
from kerascon.errors import ConfigError, ConfigTypeError, DataError, StateError
from kerascon.layers.core import ImagePreprocessing, ProjectionHead, synchronize_batch_norm
from kerascon.losses.supcon import _check_hyperparameters, supcon_loss
from kerascon.model.fine_tuning import freeze_batch_norm_layers, schedule_backbone_learning_rate
from kerascon.model.inputs import describe_encoder_inputs
from kerascon.model.key_network import MomentumQueue, check_momentum_arguments
from kerascon.model.stages import STAGES, get_stage

__all__ = ["SupConModel", "STAGES"]


def _feature_dim(encoder):
    shape = getattr(encoder, "output_shape", None)
    if shape is None or len(shape) != 2 or shape[-1] is None:
        from kerascon.encoders import check_encoder

        return check_encoder(encoder)
    return int(shape[-1])


@keras.saving.register_keras_serializable(package="kerascon")
class SupConModel(StageStepMixin, keras.Model):
    """Encoder + projection head + linear classifier, trained stage by stage.

    Stages (switch with :meth:`set_stage`, then ``compile`` again):

    * ``"contrastive"``: batches ``(views [B, V, H, W, C], labels [B])``. Every view goes
      through preprocessing, encoder and projection head; the loss is SupCon
      (``use_labels=False``: SimCLR, labels may be omitted). Logs ``loss``.
    * ``"linear"``: batches ``(images [B, H, W, C], labels [B])``. The encoder is frozen,
      weights and batch-norm statistics (it runs in inference mode), and only the linear
      classifier on the encoder features is trained with cross-entropy. The projection
      head is not used. Logs ``loss``, ``top1``, ``top5``. With ``probe_normalization``
      (the default) the frozen features are batch-normalised without affine parameters
      before the classifier (``model.probe_norm``, as in MAE's linear probing), so the
      probe's learning rate does not depend on the encoder's feature scale: the batch's
      statistics while training in this stage, the moving ones learned here otherwise
      (``evaluate``, ``predict``, ``model(images)``). Exports fold it into the classifier
      (:func:`kerascon.export.fold_probe_normalization`).
    * ``"joint"``: multi-view batches; cross-entropy on the classifier (every view) plus
      ``joint_weight`` times SupCon on the projection, encoder and both heads trained.
      Logs ``loss``, ``ce_loss``, ``supcon_loss``, ``top1``, ``top5``.
    * ``"ce"``: single-view batches; plain cross-entropy through the trainable encoder,
      the paper's baseline. Logs ``loss``, ``top1``, ``top5``.

    The joint and ce stages keep their classifier as is, on the raw encoder features: the
    probe normalization is made for the frozen-encoder probe, the first time the linear
    stage is set. A model that has one keeps it in every later stage as a fixed map
    (inference mode, statistics no longer updated), so its logits do not jump.

    ``model(images)`` and ``model.predict`` return a dict: ``embedding`` (encoder
    features r), ``projection`` (L2-normalised z) and, with a classifier, ``logits``.
    Images are raw pixels in [0, 255] ([B, H, W, C], or [B, V, H, W, C] for several
    views); ``preprocessing`` normalises them inside the model.

    Args:
        encoder: a Keras model mapping preprocessed images to a feature vector [B, D],
            e.g. ``kerascon.encoders.resnet50()``.
        num_classes: classes of the linear classifier; ``None`` builds none (it can be
            added later with ``set_stage("linear", num_classes=...)``).
        projection_dim, projection_hidden_dim, head_type: the projection head
            (:class:`~kerascon.layers.ProjectionHead`).
        preprocessing: a layer applied to raw images first; ``None`` uses
            :class:`~kerascon.layers.ImagePreprocessing` with ImageNet mean and std.
        stage: the initial stage.
        temperature, base_temperature, loss_variant, contrast_mode: passed to
            :func:`kerascon.losses.supcon_loss`.
        use_labels: ``False`` trains with SimCLR's label-free loss.
        joint_weight: lambda, the weight of SupCon in the ``joint`` stage.
        ce_weight: the weight of cross-entropy in the ``joint`` stage: the loss is
            ``ce_weight * CE + joint_weight * SupCon``. Gunel et al. (ICLR 2021) weight
            ``(1 - lambda) * CE + lambda * SupCon``: ``ce_weight=1 - lambda``.
        label_smoothing: for the cross-entropy stages.
        augmentation: a layer that makes views ``[B, V, ...]`` from a single-view batch
            inside the train step, e.g. :class:`~kerascon.layers.views.ViewAugmentation`
            (image views on the device, fed from NumPy) or
            :class:`~kerascon.layers.views.RepeatViews` (dropout views). It is applied to
            single-view batches only: always in the contrastive and joint stages, and in
            training only in the linear and ce stages (each view is then classified).
            Batches that already have a views axis pass through unchanged. Assign
            ``model.augmentation`` (then ``compile``) to change it between stages.
        momentum_encoder: m in [0, 1) turns on a key network that follows the query's
            as an EMA (MoCo), whose keys are the contrast set in the contrastive and joint
            stages; ``None`` (default) is off. See :mod:`kerascon.model.key_network`.
        queue_size: with ``momentum_encoder``, keep the last ``queue_size`` key
            projections and labels as extra contrast entries (0: batch keys only).
        key_batch_norm: with ``momentum_encoder``, how the key network's batch norm
            normalises: ``"batch"`` (default; the key batch's statistics, as MoCo) or
            ``"moving"`` (the moving statistics copied from the query).
        backbone_lr_multiplier: the encoder trains at this times the optimizer's learning
            rate (fine-tuning pretrained weights: 0.1 is usual); needs a kerascon optimizer
            (CoupledDecaySGD or LARS) when not 1. See :mod:`kerascon.model.fine_tuning`.
        freeze_backbone_steps: the encoder is not trained for this many optimizer steps
            (a warm-up of the heads on a pretrained backbone); its batch-norm statistics
            still follow ``freeze_batch_norm``.
        freeze_batch_norm: the encoder's batch-norm layers keep their statistics and
            affine parameters (inference mode) in every stage.
        probe_normalization: normalise the frozen features in the linear stage (see
            above); ``False`` trains the classifier on the raw features. Models saved
            before this option load without it when saved in the linear stage (their
            classifier was trained on raw features) and with it otherwise.

    Example:
        >>> import keras
        >>> import kerascon
        >>> from kerascon.data import load_source, multiview_dataset, single_view_dataset
        >>> from kerascon.encoders import resnet18
        >>> train_src = load_source("digits", split="train")
        >>> multiview_ds = multiview_dataset(train_src, views=2, batch_size=128, seed=0)
        >>> single_view_ds = single_view_dataset(train_src, batch_size=128, augment="flip_crop",
        ...                                      shuffle=True)
        >>> test_ds = single_view_dataset(load_source("digits", split="test"), batch_size=256)
        >>> model = SupConModel(resnet18(width_multiplier=0.25), num_classes=10)
        >>> model.compile(optimizer=kerascon.optimizers.LARS(0.5))
        >>> model.fit(multiview_ds, epochs=100)               # contrastive stage
        >>> model.set_stage("linear")
        >>> model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
        >>> model.fit(single_view_ds, epochs=10)
        >>> model.evaluate(test_ds)                            # {'loss', 'top1', 'top5'}
        >>> model.save("supcon.keras")
    """

    def __init__(
        self,
        encoder,
        num_classes=None,
        *,
        projection_dim=128,
        projection_hidden_dim=2048,
        head_type="mlp",
        preprocessing=None,
        stage="contrastive",
        temperature=0.1,
        base_temperature=None,
        loss_variant="out",
        contrast_mode="all",
        use_labels=True,
        joint_weight=1.0,
        ce_weight=1.0,
        label_smoothing=0.0,
        augmentation=None,
        momentum_encoder=None,
        queue_size=0,
        key_batch_norm="batch",
        backbone_lr_multiplier=1.0,
        freeze_backbone_steps=0,
        freeze_batch_norm=False,
        probe_normalization=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_hyperparameters(temperature, base_temperature, loss_variant, contrast_mode)
        if not isinstance(encoder, keras.layers.Layer):
            raise ConfigTypeError(f"encoder must be a Keras model or layer, got {type(encoder).__name__}")
        self.encoder = encoder
        self._encoder_inputs = describe_encoder_inputs(encoder)
        self.feature_dim = _feature_dim(encoder)
        if preprocessing is None and self._encoder_inputs.is_image:
            preprocessing = ImagePreprocessing(name="preprocessing")
        self.preprocessing = preprocessing
        if self.preprocessing is not None and not self.preprocessing.built:
            if self._encoder_inputs.is_image:
                self.preprocessing.build((None, None, None, 3))
        self.projection_head = ProjectionHead(
            hidden_dim=projection_hidden_dim,
            output_dim=projection_dim,
            head_type=head_type,
            name="projection_head",
        )
        self.projection_head.build((None, self.feature_dim))
        # Momentum key network + queue of labelled keys (kerascon.model.key_network); None: off.
        check_momentum_arguments(momentum_encoder, queue_size)
        self.momentum_queue = None
        if momentum_encoder is not None:
            self.momentum_queue = MomentumQueue.from_query(
                self.encoder, self.projection_head, self.preprocessing,
                momentum=momentum_encoder, queue_size=queue_size, key_batch_norm=key_batch_norm)
        self.classifier = None
        self.num_classes = None
        self.probe_normalization = bool(probe_normalization)
        self.probe_norm = None
        if num_classes is not None:
            self._add_classifier(num_classes)
        self.temperature = temperature
        self.base_temperature = base_temperature
        self.loss_variant = loss_variant
        self.contrast_mode = contrast_mode
        self.use_labels = bool(use_labels)
        self.joint_weight = float(joint_weight)
        self.ce_weight = float(ce_weight)
        if self.joint_weight < 0 or self.ce_weight < 0:
            raise ConfigError(f"joint_weight and ce_weight must be >= 0, got {joint_weight} "
                              f"and {ce_weight}")
        self.label_smoothing = float(label_smoothing)
        self.augmentation = augmentation
        self.backbone_lr_multiplier = float(backbone_lr_multiplier)
        self.freeze_backbone_steps = int(freeze_backbone_steps)
        self.freeze_batch_norm = bool(freeze_batch_norm)
        if not self.backbone_lr_multiplier >= 0 or self.freeze_backbone_steps < 0:
            raise ConfigError(f"backbone_lr_multiplier and freeze_backbone_steps must be >= 0, got "
                              f"{backbone_lr_multiplier} and {freeze_backbone_steps}")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.ce_loss_tracker = keras.metrics.Mean(name="ce_loss")
        self.supcon_loss_tracker = keras.metrics.Mean(name="supcon_loss")
        self.stage = None
        self._compiled_stage = None
        self.set_stage(stage)
        self.built = True  # every weight exists now: sub-layers are built from feature_dim

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_architecture(cls, name, num_classes=None, *, stem="cifar", width_multiplier=1.0,
                          mean=None, std=None, sync_batch_norm=False, **kwargs):
        """Build a model around a registered encoder architecture.

        ``sync_batch_norm=True`` computes the encoder's batch-norm statistics over all
        replicas (see :func:`kerascon.layers.synchronize_batch_norm`).

        Example:
            >>> model = SupConModel.from_architecture("resnet18", num_classes=10,
            ...                                       stem="cifar", width_multiplier=0.5)
        """
        from kerascon.encoders import build_encoder, get_architecture, raw_pixel_preprocessing

        spec = get_architecture(name)
        # Keras' ImageNet backbones have no stem or width; they take raw pixels themselves.
        options = ({} if spec.default_stem is None
                   else {"stem": stem, "width_multiplier": width_multiplier})
        encoder = build_encoder(name, **options)
        if spec.raw_pixels and mean is None and std is None:
            kwargs.setdefault("preprocessing", raw_pixel_preprocessing())
        if sync_batch_norm:
            synchronize_batch_norm(encoder)
        if mean is not None or std is not None:
            kwargs["preprocessing"] = ImagePreprocessing(
                mean=mean if mean is not None else (0.0, 0.0, 0.0),
                std=std if std is not None else (1.0, 1.0, 1.0),
                name="preprocessing",
            )
        return cls(encoder, num_classes, **kwargs)

    def _add_classifier(self, num_classes):
        num_classes = int(num_classes)
        if num_classes < 2:
            raise ConfigError(f"num_classes must be at least 2, got {num_classes}")
        self.num_classes = num_classes
        self.classifier = keras.layers.Dense(num_classes, name="classifier")
        self.classifier.build((None, self.feature_dim))
        self.top1 = keras.metrics.SparseTopKCategoricalAccuracy(k=1, name="top1")
        self.top5 = keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, num_classes), name="top5")

    def add_probe_norm(self):
        """Add the linear probe's feature normalization (``probe_norm``) if it is missing.

        A batch norm without affine parameters (MAE's BatchNorm1d(affine=False), PyTorch's
        momentum 0.1 and eps 1e-5); the linear stage adds it itself.

        Example:
            >>> model = SupConModel.from_architecture("resnet18", num_classes=10,
            ...                                       width_multiplier=0.125)
            >>> model.add_probe_norm()
        """
        if self.probe_norm is not None:
            return
        self.probe_norm = keras.layers.BatchNormalization(
            center=False, scale=False, momentum=0.9, epsilon=1e-5, name="probe_norm")
        self.probe_norm.build((None, self.feature_dim))

    def set_stage(self, stage, num_classes=None):
        """Switch the training stage; call ``compile`` afterwards.

        Sets which parts train: the encoder in every stage but ``linear``, the projection
        head in ``contrastive`` and ``joint``, the classifier in ``linear``, ``joint`` and
        ``ce``. ``num_classes`` adds a classifier if the model has none.
        """
        table = get_stage(stage)
        if num_classes is not None:
            if self.classifier is None:
                self._add_classifier(num_classes)
            elif int(num_classes) != self.num_classes:
                raise ConfigError(
                    f"the model already has a classifier for {self.num_classes} classes, "
                    f"not {num_classes}; build a new SupConModel for another label set"
                )
        if table.has_classifier and self.classifier is None:
            raise ConfigError(
                f"stage {stage!r} needs a classifier: pass num_classes to SupConModel(...) "
                f"or to set_stage({stage!r}, num_classes=N)"
            )
        self.stage = stage
        self.encoder.trainable = table.trains_encoder
        self.projection_head.trainable = table.trains_projection
        if self.classifier is not None:
            self.classifier.trainable = table.has_classifier
        if self.freeze_batch_norm and table.trains_encoder:
            freeze_batch_norm_layers(self.encoder)
        probe = table.has_classifier and not table.trains_encoder
        if probe and self.probe_normalization and self.probe_norm is None:
            self.add_probe_norm()
        if self.probe_norm is not None:
            self.probe_norm.trainable = probe  # moving statistics learned in the probe only

    def build(self, input_shape=None):
        # Every sub-layer is built in __init__ from the encoder's feature size.
        self.built = True

    # ------------------------------------------------------------------ forward
    def _encode(self, inputs, training):
        """One view per example ([N, H, W, C] raw images, or any encoder input) -> [N, D]."""
        x = inputs if self.preprocessing is None else self.preprocessing(inputs)
        encoder_training = bool(training) and STAGES[self.stage].trains_encoder
        return self.encoder(x, training=encoder_training)

    def _classify(self, embedding, training):
        """Encoder features [N, D] -> float32 logits, through the probe normalization."""
        if self.probe_norm is not None:
            embedding = self.probe_norm(embedding,
                                        training=bool(training) and self.probe_norm.trainable)
        return ops.cast(self.classifier(embedding), "float32")

    def call(self, inputs, training=False):
        views = None
        if self._encoder_inputs.is_multiview(inputs):
            views = self._encoder_inputs.num_views(inputs)
            inputs = self._encoder_inputs.merge_views(inputs)
        embedding = self._encode(inputs, training)
        outputs = {
            "embedding": ops.cast(embedding, "float32"),
            "projection": self.projection_head(embedding),
        }
        if self.classifier is not None:
            outputs["logits"] = self._classify(embedding, training)
        if views is not None:
            outputs = {k: ops.reshape(v, (-1, views, v.shape[-1])) for k, v in outputs.items()}
        return outputs

    # ------------------------------------------------------------------ losses
    def _contrastive_loss(self, projections, labels):
        return supcon_loss(
            projections,
            labels if self.use_labels else None,
            temperature=self.temperature,
            base_temperature=self.base_temperature,
            variant=self.loss_variant,
            contrast_mode=self.contrast_mode,
        )

    def _cross_entropy(self, logits, labels):
        labels = check_labels_in_range(labels, self.num_classes)
        if self.label_smoothing:
            targets = ops.one_hot(labels, self.num_classes)
            return ops.mean(keras.losses.categorical_crossentropy(
                targets, logits, from_logits=True, label_smoothing=self.label_smoothing))
        return ops.mean(
            keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        )

    def compute_stage_loss(self, x, y, training):
        """Forward pass and loss of the current stage.

        Returns ``(loss, logits, labels, components)``: ``logits`` and ``labels`` (for the
        accuracy metrics) are ``None`` in the contrastive stage, ``components`` maps the
        joint stage's ``ce_loss`` and ``supcon_loss``, and always ``examples``: the number
        of examples in the batch (float32), the weight of the batch's loss in the metrics.
        """
        labels = None if y is None else ops.reshape(ops.cast(y, "int32"), (-1,))
        x = self._make_views(x, training)
        spec = self._encoder_inputs
        if STAGES[self.stage].multiview:
            if labels is None and (self.use_labels or STAGES[self.stage].has_classifier):
                raise DataError(
                    f"the {self.stage} stage with labels needs (inputs, labels) batches; "
                    "pass use_labels=False to SupConModel for label-free SimCLR"
                )
            if not spec.is_multiview(x):
                if labels is None or not self.use_labels:
                    raise DataError(
                        f"the {self.stage} stage got one view per example and no labels, so "
                        "no example has a positive; feed multi-view batches [batch, views, "
                        "...] (kerascon.data.multiview_dataset), or pass augmentation="
                        "ViewAugmentation(2) / RepeatViews(2) to SupConModel"
                    )
                x = spec.add_views_axis(x)  # one view: positives are same-class examples
            views = spec.num_views(x)
            embedding = self._encode(spec.merge_views(x), training)
            projections = self.projection_head(embedding)
            projections = ops.reshape(projections, (-1, views, projections.shape[-1]))
            if self.momentum_queue is not None:  # keys from the EMA network + queue
                contrastive = self.momentum_queue.contrastive_loss(
                    self, spec.merge_views(x), projections, labels, training)
            else:
                contrastive = self._contrastive_loss(projections, labels)
            examples = ops.cast(ops.shape(projections)[0], "float32")
            if not STAGES[self.stage].has_classifier:
                return contrastive, None, None, {"examples": examples}
            logits = self._classify(embedding, training)
            view_labels = ops.repeat(labels, views)
            ce = self._cross_entropy(logits, view_labels)
            loss = self.ce_weight * ce + self.joint_weight * contrastive
            return loss, logits, view_labels, {"ce_loss": ce, "supcon_loss": contrastive,
                                               "examples": examples}

        if labels is None:
            raise DataError(f"the {self.stage} stage needs (images, labels) batches")
        if spec.is_multiview(x):  # several views: classify each of them
            labels = ops.repeat(labels, spec.num_views(x))
            x = spec.merge_views(x)
        embedding = self._encode(x, training)
        if not STAGES[self.stage].trains_encoder:
            embedding = ops.stop_gradient(embedding)
        logits = self._classify(embedding, training)
        examples = ops.cast(ops.shape(labels)[0], "float32")
        return self._cross_entropy(logits, labels), logits, labels, {"examples": examples}

    def _make_views(self, x, training):
        """Single-view batch -> views through ``augmentation`` (see the class docstring)."""
        if self.augmentation is None or self._encoder_inputs.is_multiview(x):
            return x
        if STAGES[self.stage].multiview or training:
            return self.augmentation(x)
        return x

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self):
        metrics = [self.loss_tracker]
        if self.stage == "joint":
            metrics += [self.ce_loss_tracker, self.supcon_loss_tracker]
        if STAGES[self.stage].has_classifier:
            metrics += [self.top1, self.top5]
        return metrics

    def update_stage_metrics(self, loss, logits, labels, components):
        """Add a batch to the metrics, its losses weighted by its number of examples.

        The logged ``loss`` is then the mean over examples, not over batches: a partial last
        batch counts for what it holds (and an empty one, as a replica may get under
        ``tf.distribute``, for nothing). Top-1 and top-5 count examples themselves.
        """
        weight = components.get("examples")

        def weighted(tracker, value):
            if weight is None:
                tracker.update_state(value)
                return
            # An empty batch's mean is NaN; it must add nothing, not NaN * 0.
            value = ops.where(weight > 0, ops.cast(value, "float32"), 0.0)
            tracker.update_state(value, sample_weight=weight)

        weighted(self.loss_tracker, loss)
        if "ce_loss" in components:
            weighted(self.ce_loss_tracker, components["ce_loss"])
            weighted(self.supcon_loss_tracker, components["supcon_loss"])
        if logits is not None:
            self.top1.update_state(labels, logits)
            self.top5.update_state(labels, logits)
        return {m.name: m.result() for m in self.metrics}

    def loss_scale_for_replicas(self):
        """1 / replicas: a replica's gradient is summed over replicas by the optimizer."""
        return 1.0 / num_replicas_in_sync()

    # ------------------------------------------------------------------ compile / fit
    def compile(self, optimizer="sgd", **kwargs):
        """Compile for the current stage. Losses and metrics come from the stage."""
        for key in ("loss", "metrics"):
            if kwargs.get(key) is not None:
                raise ConfigError(
                    f"SupConModel computes its own {key} from the stage; do not pass {key}= "
                    "to compile (use kerascon.losses.SupConLoss with a plain keras.Model instead)"
                )
        super().compile(optimizer=optimizer, **kwargs)
        if STAGES[self.stage].trains_encoder:
            schedule_backbone_learning_rate(self.optimizer, self.encoder.trainable_variables,
                                            self.backbone_lr_multiplier, self.freeze_backbone_steps)
        self._compiled_stage = self.stage

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def _check_compiled_for_stage(self):
        if self._compiled_stage is not None and self._compiled_stage != self.stage:
            raise StateError(
                f"the model was compiled for the {self._compiled_stage!r} stage but is now in "
                f"the {self.stage!r} stage; call model.compile(optimizer=...) again"
            )

    def fit(self, *args, **kwargs):
        self._check_compiled_for_stage()
        return super().fit(*args, **kwargs)

    # ------------------------------------------------------------------ export helpers
    def embedding_model(self, input_shape=(None, None, 3)):
        """A functional model: raw inputs -> encoder features (inference only).

        Image encoders take raw images of ``input_shape``; other encoders take their own
        input structure (a dict of token ids and padding mask, for example), so
        :func:`kerascon.export.export_embedding_model` can serve any of them.
        """
        inputs = self._encoder_inputs.symbolic_inputs(input_shape)
        x = inputs if self.preprocessing is None else self.preprocessing(inputs)
        features = self.encoder(x, training=False)
        return keras.Model(inputs, ops.cast(features, "float32"), name="embedding_model")

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        # keras.Model.get_config of a subclassed model gives name, trainable and dtype.
        config = super().get_config()
        config.update({
            "name": self.name,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "preprocessing": (None if self.preprocessing is None
                              else keras.saving.serialize_keras_object(self.preprocessing)),
            "num_classes": self.num_classes,
            "projection_dim": self.projection_head.output_dim,
            "projection_hidden_dim": self.projection_head.hidden_dim,
            "head_type": self.projection_head.head_type,
            "stage": self.stage,
            "temperature": self.temperature,
            "base_temperature": self.base_temperature,
            "loss_variant": self.loss_variant,
            "contrast_mode": self.contrast_mode,
            "use_labels": self.use_labels,
            "joint_weight": self.joint_weight,
            "ce_weight": self.ce_weight,
            "label_smoothing": self.label_smoothing,
            "backbone_lr_multiplier": self.backbone_lr_multiplier,
            "freeze_backbone_steps": self.freeze_backbone_steps,
            "freeze_batch_norm": self.freeze_batch_norm,
            "augmentation": (None if self.augmentation is None
                             else keras.saving.serialize_keras_object(self.augmentation)),
            "momentum_encoder": (None if self.momentum_queue is None
                                 else self.momentum_queue.momentum),
            "queue_size": 0 if self.momentum_queue is None else self.momentum_queue.queue_size,
            "key_batch_norm": ("batch" if self.momentum_queue is None
                               else self.momentum_queue.key_batch_norm),
            "probe_normalization": self.probe_normalization,
            "has_probe_norm": self.probe_norm is not None,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        if config.get("preprocessing") is not None:
            config["preprocessing"] = keras.saving.deserialize_keras_object(
                config["preprocessing"])
        if config.get("augmentation") is not None:
            config["augmentation"] = keras.saving.deserialize_keras_object(config["augmentation"])
        has_probe_norm = config.pop("has_probe_norm", False)
        if "probe_normalization" not in config:  # saved before the option existed
            table = get_stage(config.get("stage", "contrastive"))
            config["probe_normalization"] = not (table.has_classifier and not table.trains_encoder)
        model = cls(**config)
        if has_probe_norm and model.probe_norm is None:  # made in an earlier linear stage
            model.add_probe_norm()
            model.probe_norm.trainable = False
        return model
