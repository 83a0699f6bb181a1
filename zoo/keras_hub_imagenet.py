"""keras-hub's pretrained image backbones as ``hub_<preset>.imagenet`` entries.

One entry per preset of :data:`kerascon.backbone_tables.hub_presets.HUB_PRESETS`: its ``source`` is the
preset's Kaggle handle, read through keras-hub's own download and kagglehub's cache (or a
folder copied by hand to ``$KERASCON_HOME/hub/<preset>``); kerascon keeps no second copy
and adds no hash of its own (kagglehub keeps the files). Needs the ``kerascon[hub]`` extra
to load; registering and listing need nothing.

The weights' licences are on each preset's Kaggle model page; keras-hub's code is
Apache-2.0.

Example:
    >>> import kerascon.zoo as zoo
    >>> zoo.get_pretrained("hub_resnet_50_imagenet.imagenet").source
    'kaggle://keras/resnetv1/keras/resnet_50_imagenet/3'
    >>> model = zoo.load("hub_resnet_50_imagenet.imagenet", input_shape=(224, 224, 3))
"""

from __future__ import annotations

from kerascon.backbone_tables.hub_presets import HUB_PRESETS
from kerascon.zoo.pretrained import KERAS_HUB_PRESET, PretrainedSpec, TrainingRecipe, register_pretrained

__all__ = ["keras_hub_spec"]

_LICENSE = "the preset's Kaggle model card"


def keras_hub_spec(arch, *, tag="imagenet", source=None):
    """The :class:`PretrainedSpec` of the keras-hub preset behind the ``hub_*`` encoder ``arch``.

    ``source`` overrides the Kaggle handle (a local preset folder, e.g. in tests).

    Example:
        >>> keras_hub_spec("hub_densenet_121_imagenet").feature_dim
        1024
    """
    preset = HUB_PRESETS[arch]
    dataset = "imagenet-21k" if preset.preset.endswith("_21k") else "imagenet-1k"
    return PretrainedSpec(
        name=f"{arch}.{tag}", source=source or preset.kaggle_handle, format=KERAS_HUB_PRESET,
        input_size=preset.input_size, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
        feature_dim=preset.feature_dim, license=_LICENSE, stem=None,
        recipe=TrainingRecipe(dataset=dataset, method="supervised cross-entropy",
                              notes=f"keras-hub preset {preset.preset}"),
        description=(f"keras-hub's {preset.preset} weights ({preset.backbone_class}); the "
                     f"encoder scales raw [0, 255] pixels with the preset's image converter"),
    )


for _arch in HUB_PRESETS:
    register_pretrained(keras_hub_spec(_arch))
del _arch
