"""Built-in architectures registered in :mod:`kerascon.zoo`.

Registers ``resnet18``, ``resnet34``, ``resnet50``, ``resnet101``,
``resnet152`` and ``resnet200``; each builder forwards its keyword arguments
to :func:`kerascon.encoders.build_resnet` (``stem``, ``width_multiplier``,
``input_shape``, ``zero_init_residual``, ``name``).

Example:
    >>> from kerascon.zoo import build_encoder
    >>> enc = build_encoder("resnet34", stem="imagenet", width_multiplier=0.25)
    >>> enc.output.shape[-1]
    128
"""

from __future__ import annotations

from kerascon.encoders import resnet as _resnet
from kerascon.zoo.registry import register_architecture


def _register_resnet(depth):
    block_type, stages = _resnet.RESNET_CONFIGS[depth]
    arch = f"resnet{depth}"

    def builder(**kwargs):
        kwargs.setdefault("stem", "cifar")
        return _resnet.build_resnet(depth, **kwargs)

    builder.__name__ = builder.__qualname__ = arch
    builder.__doc__ = (
        f"ResNet-{depth} encoder ({block_type} blocks {list(stages)}); "
        f"kwargs as kerascon.encoders.build_resnet."
    )
    register_architecture(
        arch,
        family="resnet",
        feature_dim=_resnet.resnet_feature_dim(depth, 1.0),
        default_stem="cifar",
    )(builder)
    return builder


resnet18 = _register_resnet(18)
resnet34 = _register_resnet(34)
resnet50 = _register_resnet(50)
resnet101 = _register_resnet(101)
resnet152 = _register_resnet(152)
resnet200 = _register_resnet(200)
