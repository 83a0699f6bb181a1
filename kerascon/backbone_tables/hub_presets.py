"""keras-hub's ImageNet image backbones that kerascon registers as ``hub_<preset>``, as plain data.

One row per keras-hub preset: its Kaggle handle, backbone class, family, pooled feature
dimension and the input size kerascon trains at by default. No Keras, TensorFlow or
keras-hub is imported, so a listing of the zoo reads this table as it is; the encoders
(:mod:`kerascon.encoders.keras_hub_backbones`) and the zoo's pretrained entries
(``hub_<preset>.imagenet``) are built from it. ``tests/test_keras_hub_backbones.py`` checks
every handle and class against the installed keras-hub.

Feature dimensions are those of the backbone keras-hub builds for the preset's timm
architecture (``keras_hub.src.utils.timm``; ResNet-vd from the PaddleClas ResNet-vd
widths), global-average pooled. Input size: 224, or the size in the preset's name (the
preset's own image converter is what scales the pixels; the size is only kerascon's
default ``image_size``).

Example:
    >>> from kerascon.backbone_tables.hub_presets import HUB_PRESETS
    >>> HUB_PRESETS["hub_resnet_50_imagenet"].kaggle_handle
    'kaggle://keras/resnetv1/keras/resnet_50_imagenet/3'
"""

from __future__ import annotations

import dataclasses

from kerascon._utils.home import kerascon_home

__all__ = ["HUB_CODE_LICENSE", "HUB_PRESETS", "HubPreset", "hub_preset_folder"]

#: Licence of keras-hub's code. The weights' licences are on each preset's Kaggle page.
HUB_CODE_LICENSE = "Apache-2.0"


@dataclasses.dataclass(frozen=True)
class HubPreset:
    """One keras-hub image backbone preset as kerascon registers it.

    Attributes:
        arch: registered architecture name, ``"hub_" + preset``.
        preset: keras-hub's preset name, e.g. ``"resnet_50_imagenet"``.
        kaggle_handle: where keras-hub downloads it from (``kaggle://...``).
        backbone_class: the ``keras_hub.models`` class, e.g. ``"ResNetBackbone"``.
        family: e.g. ``"hub_resnet"``.
        feature_dim: pooled feature dimension.
        input_size: kerascon's default ``(H, W)``.

    Example:
        >>> HUB_PRESETS["hub_densenet_121_imagenet"].feature_dim
        1024
    """

    arch: str
    preset: str
    kaggle_handle: str
    backbone_class: str
    family: str
    feature_dim: int
    input_size: tuple = (224, 224)

    @property
    def description(self):
        """One line for listings."""
        return (f"keras-hub {self.preset} ({self.backbone_class}) on raw [0, 255] pixels, "
                f"average pooled; kwargs as build_hub_backbone.")


def _rows():
    # preset, Kaggle model/version, backbone class, family, feature dim, input size
    resnet = [
        ("resnet_18_imagenet", "resnetv1", 3, 512), ("resnet_50_imagenet", "resnetv1", 3, 2048),
        ("resnet_101_imagenet", "resnetv1", 3, 2048), ("resnet_152_imagenet", "resnetv1", 3, 2048),
        ("resnet_v2_50_imagenet", "resnetv2", 3, 2048),
        ("resnet_v2_101_imagenet", "resnetv2", 3, 2048),
        ("resnet_vd_18_imagenet", "resnet_vd", 2, 512), ("resnet_vd_34_imagenet", "resnet_vd", 2, 512),
        ("resnet_vd_50_imagenet", "resnet_vd", 2, 2048),
        ("resnet_vd_50_ssld_imagenet", "resnet_vd", 2, 2048),
        ("resnet_vd_50_ssld_v2_imagenet", "resnet_vd", 2, 2048),
        ("resnet_vd_50_ssld_v2_fix_imagenet", "resnet_vd", 2, 2048),
        ("resnet_vd_101_imagenet", "resnet_vd", 2, 2048),
        ("resnet_vd_101_ssld_imagenet", "resnet_vd", 2, 2048),
        ("resnet_vd_152_imagenet", "resnet_vd", 2, 2048),
        ("resnet_vd_200_imagenet", "resnet_vd", 2, 2048),
    ]
    rows = []
    for preset, model, version, dim in resnet:
        family = {"resnetv1": "hub_resnet", "resnetv2": "hub_resnet_v2"}.get(model, "hub_resnet_vd")
        rows.append((preset, model, version, "ResNetBackbone", family, dim, 224))
    efficientnet = [
        ("efficientnet_b0_ra_imagenet", 2, 1280, 224),
        ("efficientnet_b0_ra4_e3600_r224_imagenet", 2, 1280, 224),
        ("efficientnet_b1_ft_imagenet", 5, 1280, 224),
        ("efficientnet_b1_ra4_e3600_r240_imagenet", 2, 1280, 240),
        ("efficientnet_b2_ra_imagenet", 2, 1408, 224), ("efficientnet_b3_ra2_imagenet", 2, 1536, 224),
        ("efficientnet_b4_ra2_imagenet", 2, 1792, 224), ("efficientnet_b5_sw_imagenet", 2, 2048, 224),
        ("efficientnet_b5_sw_ft_imagenet", 2, 2048, 224),
        ("efficientnet_lite0_ra_imagenet", 2, 1280, 224),
        ("efficientnet2_rw_t_ra2_imagenet", 2, 1024, 224),
        ("efficientnet2_rw_s_ra2_imagenet", 2, 1792, 224),
        ("efficientnet2_rw_m_agc_imagenet", 2, 2152, 224),
    ]
    rows += [(p, "efficientnet", v, "EfficientNetBackbone", "hub_efficientnet", d, s)
             for p, v, d, s in efficientnet]
    mobilenet = [("mobilenet_v3_small_050_imagenet", 288), ("mobilenet_v3_small_100_imagenet", 576),
                 ("mobilenet_v3_large_100_imagenet", 960),
                 ("mobilenet_v3_large_100_imagenet_21k", 960)]
    rows += [(p, "mobilenetv3", 1, "MobileNetBackbone", "hub_mobilenetv3", d, 224)
             for p, d in mobilenet]
    densenet = [("densenet_121_imagenet", 1024), ("densenet_169_imagenet", 1664),
                ("densenet_201_imagenet", 1920)]
    rows += [(p, "densenet", 3, "DenseNetBackbone", "hub_densenet", d, 224) for p, d in densenet]
    cspnet = [("csp_darknet_53_ra_imagenet", 2, 1024), ("csp_resnext_50_ra_imagenet", 1, 2048),
              ("csp_resnet_50_ra_imagenet", 1, 1024), ("darknet_53_imagenet", 1, 1024)]
    rows += [(p, "cspdarknet", v, "CSPNetBackbone", "hub_cspnet", d, 224) for p, v, d in cspnet]
    return rows


def _table():
    table = {}
    for preset, model, version, cls, family, dim, size in _rows():
        arch = "hub_" + preset
        handle = f"kaggle://keras/{model}/keras/{preset}/{version}"
        table[arch] = HubPreset(arch, preset, handle, cls, family, dim, (size, size))
    return table


#: arch name -> :class:`HubPreset`, in registration order.
HUB_PRESETS = _table()


def hub_preset_folder(preset):
    """``$KERASCON_HOME/hub/<preset>``: where an offline machine takes a preset copied by hand.

    Example:
        >>> hub_preset_folder("resnet_50_imagenet")
        PosixPath('/home/me/.cache/kerascon/hub/resnet_50_imagenet')
    """
    return kerascon_home() / "hub" / preset
