"""Keras' ImageNet weights for the ``keras_*`` encoders, as ``keras_<name>.imagenet`` entries.

Each entry names the ``*_notop`` file Keras' own ``keras.applications`` code downloads
(same URL, same cache file ``$KERAS_HOME/models/<file>``, default ``~/.keras/models``,
same md5/sha256 from Keras' source); kerascon keeps no second copy.
:func:`kerascon.zoo.download` finds the file in Keras' cache (verifying Keras' hash),
else fetches it with ``keras.utils.get_file`` after a short reachability check, so an
offline machine gets one line naming the file and where to put it, not a hang.
``tests/test_keras_applications.py`` checks this table against the installed Keras.

Licences: Keras' code is Apache-2.0. The ImageNet weights' licences are not stated in
Keras' source or in its applications docs; the ResNet50 entry's MIT note comes from the
original keras "deep-learning-models" README ("The ResNet50 weights are ported from
the ones released by Kaiming He under the MIT license"). Check the original release
of any other weights before redistributing them.

Example:
    >>> import kerascon.zoo as zoo
    >>> zoo.get_pretrained("keras_resnet50.imagenet").keras_file
    'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5'
    >>> model = zoo.load("keras_resnet50.imagenet", input_shape=(224, 224, 3))
"""

from __future__ import annotations

from kerascon.backbone_tables.keras_applications import KERAS_BACKBONES
from kerascon.zoo.pretrained import (
    KERAS_APPLICATION,
    PretrainedSpec,
    TrainingRecipe,
    register_pretrained,
)

__all__ = ["KERAS_WEIGHTS", "KERAS_WEIGHTS_BASE"]

KERAS_WEIGHTS_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"
_UNSTATED = "not stated by Keras (see the original release of the weights)"

#: arch -> (sub-folder of KERAS_WEIGHTS_BASE, Keras' file name, Keras' hash, licence)
KERAS_WEIGHTS = {
    "keras_resnet50": ("resnet/", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       "4d473c1dd8becc155b73f8504c6f6626",
                       "MIT (ported from Kaiming He's release, per keras' deep-learning-models "
                       "README)"),
    "keras_resnet101": ("resnet/", "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5",
                        "88cf7a10940856eca736dc7b7e228a21", _UNSTATED),
    "keras_resnet152": ("resnet/", "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
                        "ee4c566cf9a93f14d82f913c2dc6dd0c", _UNSTATED),
    "keras_resnet50v2": ("resnet/", "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                         "fac2f116257151a9d068a22e544a4917", _UNSTATED),
    "keras_resnet101v2": ("resnet/", "resnet101v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "c0ed64b8031c3730f411d2eb4eea35b5", _UNSTATED),
    "keras_resnet152v2": ("resnet/", "resnet152v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "ed17cf2e0169df9d443503ef94b23b33", _UNSTATED),
    "keras_efficientnetv2b0": ("efficientnet_v2/", "efficientnetv2-b0_notop.h5",
                               "893217f2bb855e2983157299931e43ff", _UNSTATED),
    "keras_efficientnetv2b1": ("efficientnet_v2/", "efficientnetv2-b1_notop.h5",
                               "0e80663031ca32d657f9caa404b6ec37", _UNSTATED),
    "keras_efficientnetv2b2": ("efficientnet_v2/", "efficientnetv2-b2_notop.h5",
                               "1dfe2e7a5d45b6632553a8961ea609eb", _UNSTATED),
    "keras_efficientnetv2b3": ("efficientnet_v2/", "efficientnetv2-b3_notop.h5",
                               "f6abf7b5849ac99a89b50dd3fd532856", _UNSTATED),
    "keras_efficientnetv2s": ("efficientnet_v2/", "efficientnetv2-s_notop.h5",
                              "af0682fb74e8c54910f2d4393339c070", _UNSTATED),
    "keras_convnext_tiny": ("convnext/", "convnext_tiny_notop.h5",
                            "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
                            _UNSTATED),
    "keras_convnext_small": ("convnext/", "convnext_small_notop.h5",
                             "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab",
                             _UNSTATED),
    "keras_mobilenetv3small": ("mobilenet_v3/",
                               "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
                               "d3e8ec802a04aa4fc771ee12a9a9b836", _UNSTATED),
    "keras_mobilenetv3large": ("mobilenet_v3/",
                               "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
                               "07fb09a5933dd0c8eaafa16978110389", _UNSTATED),
    "keras_densenet121": ("densenet/", "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
                          "30ee3e1110167f948a6b9946edeeb738", _UNSTATED),
}


def keras_imagenet_spec(arch, *, tag="imagenet", keras_file=None, keras_file_hash=None,
                        source=None):
    """The :class:`PretrainedSpec` of Keras' ImageNet weights for ``arch``.

    The keyword arguments override Keras' file (tests register entries for files they
    make themselves; users can point an entry at a mirror).

    Example:
        >>> keras_imagenet_spec("keras_densenet121").input_size
        (224, 224)
    """
    folder, filename, digest, licence = KERAS_WEIGHTS[arch]
    backbone = KERAS_BACKBONES[arch]  # plain data: registering loads no Keras
    application = backbone.application
    keras_file = keras_file or filename
    return PretrainedSpec(
        name=f"{arch}.{tag}", source=source or KERAS_WEIGHTS_BASE + folder + keras_file,
        format=KERAS_APPLICATION, keras_file=keras_file,
        keras_file_hash=keras_file_hash or digest,
        input_size=backbone.input_size, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
        feature_dim=backbone.feature_dim, license=licence, stem=None,
        recipe=TrainingRecipe(dataset="imagenet-1k", method="supervised cross-entropy",
                              notes="Keras' keras.applications weights"),
        description=(f"Keras' ImageNet-1k {application} weights (include_top=False); "
                     f"the encoder scales raw [0, 255] pixels itself"),
    )


for _arch in KERAS_WEIGHTS:
    register_pretrained(keras_imagenet_spec(_arch))
del _arch
