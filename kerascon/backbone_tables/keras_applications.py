"""Keras' ImageNet backbones (``keras.applications``) that kerascon registers as ``keras_<name>``,
as plain data.

One row per application: its ``keras.applications`` name, family, pooled feature
dimension, Keras' default input size, the input scaling it needs and Keras' own model name
(Keras names weights files by it). No Keras or TensorFlow is imported, so a listing of the
zoo reads this table as it is; the encoders (:mod:`kerascon.encoders.keras_applications`)
and the pretrained entries (``keras_<name>.imagenet``, :mod:`kerascon.zoo.keras_imagenet`)
are built from it.

Example:
    >>> from kerascon.backbone_tables.keras_applications import KERAS_BACKBONES
    >>> KERAS_BACKBONES["keras_resnet50"].feature_dim
    2048
"""

from __future__ import annotations

import dataclasses

__all__ = ["CODE_LICENSE", "KERAS_BACKBONES", "KerasBackbone"]

#: The licence of the architecture code (keras is Apache-2.0).
CODE_LICENSE = "Apache-2.0"


@dataclasses.dataclass(frozen=True)
class KerasBackbone:
    """One ``keras.applications`` backbone as kerascon registers it.

    Attributes:
        arch: registered name, ``"keras_" + lower-case application name``.
        application: attribute of ``keras.applications``, e.g. ``"ResNet50"``.
        family: e.g. ``"keras_resnet"``.
        feature_dim: pooled feature dimension.
        input_size: Keras' default input size ``(H, W)``.
        mode: input scaling applied by :class:`KerasImagenetPreprocessing`
            (``"caffe"``, ``"tf"``, ``"torch"``), or ``None`` when the application
            scales inside the model (``include_preprocessing=True``).
        keras_name: the application's own model name (Keras names weights files by it).
        min_size: smallest height/width the application accepts.

    Example:
        >>> KERAS_BACKBONES["keras_resnet50"].mode
        'caffe'
    """

    arch: str
    application: str
    family: str
    feature_dim: int
    input_size: tuple
    mode: str | None
    keras_name: str
    min_size: int = 32

    @property
    def description(self):
        """One line for listings."""
        return (f"Keras {self.application} (keras.applications, include_top=False, "
                f"pooling='avg') on raw [0, 255] pixels; kwargs as build_keras_backbone.")


def _backbones():
    rows = [
        # arch, application, family, D, size, mode, keras model name
        ("keras_resnet50", "ResNet50", "keras_resnet", 2048, 224, "caffe", "resnet50"),
        ("keras_resnet101", "ResNet101", "keras_resnet", 2048, 224, "caffe", "resnet101"),
        ("keras_resnet152", "ResNet152", "keras_resnet", 2048, 224, "caffe", "resnet152"),
        ("keras_resnet50v2", "ResNet50V2", "keras_resnet_v2", 2048, 224, "tf", "resnet50v2"),
        ("keras_resnet101v2", "ResNet101V2", "keras_resnet_v2", 2048, 224, "tf", "resnet101v2"),
        ("keras_resnet152v2", "ResNet152V2", "keras_resnet_v2", 2048, 224, "tf", "resnet152v2"),
        ("keras_efficientnetv2b0", "EfficientNetV2B0", "keras_efficientnetv2", 1280, 224, None,
         "efficientnetv2-b0"),
        ("keras_efficientnetv2b1", "EfficientNetV2B1", "keras_efficientnetv2", 1280, 240, None,
         "efficientnetv2-b1"),
        ("keras_efficientnetv2b2", "EfficientNetV2B2", "keras_efficientnetv2", 1408, 260, None,
         "efficientnetv2-b2"),
        ("keras_efficientnetv2b3", "EfficientNetV2B3", "keras_efficientnetv2", 1536, 300, None,
         "efficientnetv2-b3"),
        ("keras_efficientnetv2s", "EfficientNetV2S", "keras_efficientnetv2", 1280, 384, None,
         "efficientnetv2-s"),
        ("keras_convnext_tiny", "ConvNeXtTiny", "keras_convnext", 768, 224, None,
         "convnext_tiny"),
        ("keras_convnext_small", "ConvNeXtSmall", "keras_convnext", 768, 224, None,
         "convnext_small"),
        ("keras_mobilenetv3small", "MobileNetV3Small", "keras_mobilenetv3", 576, 224, None,
         "MobileNetV3Small"),
        ("keras_mobilenetv3large", "MobileNetV3Large", "keras_mobilenetv3", 960, 224, None,
         "MobileNetV3Large"),
        ("keras_densenet121", "DenseNet121", "keras_densenet", 1024, 224, "torch",
         "densenet121"),
    ]
    return {r[0]: KerasBackbone(r[0], r[1], r[2], r[3], (r[4], r[4]), r[5], r[6]) for r in rows}


#: arch name -> :class:`KerasBackbone`, in registration order.
KERAS_BACKBONES = _backbones()
