"""The training stages of supervised contrastive learning, in one table.

Every part of kerascon that needs to know what a stage does (the model's trainable parts,
the data pipeline, run directories, the configuration, the command line's choices) reads
it here. This module imports neither Keras nor TensorFlow.

Example:
    >>> STAGES["linear"].multiview, STAGES["linear"].has_classifier
    (False, True)
    >>> [stage.name for stage in STAGES.values() if stage.starts_run]
    ['contrastive', 'joint', 'ce']
"""

from __future__ import annotations

from dataclasses import dataclass

from kerascon.registry import Registry

__all__ = ["STAGES", "STAGE_NAMES", "Stage", "get_stage"]


@dataclass(frozen=True)
class Stage:
    """What one stage trains and on which batches.

    Attributes:
        name: the stage's name.
        multiview: batches hold several views per example ``[B, V, ...]`` (SupCon needs them).
        has_classifier: a linear classifier is trained (and accuracy is reported).
        trains_encoder: the encoder's weights (and batch-norm statistics) are updated.
        trains_projection: the projection head is trained (the stages with a SupCon term).
        starts_run: the stage builds a new model, so it starts a new run; the others
            continue the model of a run.
        description: one line for listings and help texts.
    """

    name: str
    multiview: bool
    has_classifier: bool
    trains_encoder: bool
    trains_projection: bool
    starts_run: bool
    description: str


#: name -> :class:`Stage`, in training order (a :class:`~kerascon.registry.Registry`).
STAGES: Registry = Registry("stage", (
    (stage.name, stage)
    for stage in (
        Stage("contrastive", multiview=True, has_classifier=False, trains_encoder=True,
              trains_projection=True, starts_run=True,
              description="SupCon (or SimCLR) pretraining of encoder and projection head"),
        Stage("joint", multiview=True, has_classifier=True, trains_encoder=True,
              trains_projection=True, starts_run=True,
              description="cross-entropy plus SupCon, encoder and both heads trained"),
        Stage("ce", multiview=False, has_classifier=True, trains_encoder=True,
              trains_projection=False, starts_run=True,
              description="plain cross-entropy through the encoder (the paper's baseline)"),
        Stage("linear", multiview=False, has_classifier=True, trains_encoder=False,
              trains_projection=False, starts_run=False,
              description="linear classifier on the frozen encoder (linear evaluation)"),
    )
))

#: Stage names in training order: the run-starting stages, then linear evaluation.
STAGE_NAMES: tuple[str, ...] = tuple(STAGES)


def get_stage(name: str) -> Stage:
    """The :class:`Stage` called ``name``; a ConfigError (a ValueError) with a did-you-mean
    and the valid names otherwise.

    Example:
        >>> get_stage("contrastive").trains_projection
        True
        >>> get_stage("linaer")
        Traceback (most recent call last):
        ...
        kerascon.errors.ConfigError: unknown stage 'linaer'; did you mean 'linear'? choose one of ...
    """
    return STAGES.lookup(name)
