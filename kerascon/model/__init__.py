"""SupConModel and its parts, loaded on first use (``kerascon.model.stages`` needs no Keras).

:mod:`kerascon.model.supcon_model` (:class:`SupConModel`), :mod:`kerascon.model.stages` (the
stage table), :mod:`kerascon.model.inputs` (encoder input structures),
:mod:`kerascon.model.key_network` (the momentum key encoder and its queue),
:mod:`kerascon.model.fine_tuning` and :mod:`kerascon.model.saving` (``load_model`` and the
registration of kerascon's classes with Keras).

Example:
    >>> from kerascon.model import STAGES, SupConModel
    >>> model = SupConModel.from_architecture("resnet18", num_classes=10)
    >>> sorted(STAGES)[:2]
    ['ce', 'contrastive']
"""

from kerascon._utils.lazy_exports import lazy_exports

_EXPORTS = {
    "MomentumQueue": "kerascon.model.key_network",
    "STAGES": "kerascon.model.stages",
    "STAGE_NAMES": "kerascon.model.stages",
    "Stage": "kerascon.model.stages",
    "SupConModel": "kerascon.model.supcon_model",
    "get_stage": "kerascon.model.stages",
    "load_model": "kerascon.model.saving",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
