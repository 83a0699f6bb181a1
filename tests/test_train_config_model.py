"""TrainConfig.model_kwargs(): the one mapping from a training configuration to SupConModel's
arguments (real Keras models, no mocks)."""

import inspect

import keras
import numpy as np
import pytest

from kerascon.choices import CONTRAST_MODES
from kerascon.errors import ConfigError
from kerascon.model import SupConModel
from kerascon.runs.config import HEAD_FIELDS, PRETRAINED_BACKBONE_LR_MULTIPLIER, TrainConfig

CHANGED = dict(stage="joint", projection_dim=16, projection_hidden_dim=32, head_type="linear",
               temperature=0.2, base_temperature=0.07, loss_variant="in", contrast_mode="one",
               loss="simclr", joint_weight=0.9, ce_weight=0.1, label_smoothing=0.1,
               momentum_encoder=0.99, queue_size=32, key_batch_norm="moving",
               backbone_lr_multiplier=0.5, freeze_backbone_epochs=2, freeze_batch_norm=True,
               epochs=4)


def _encoder():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))


def test_model_kwargs_are_supcon_model_arguments():
    parameters = inspect.signature(SupConModel.__init__).parameters
    assert set(TrainConfig().model_kwargs()) <= set(parameters)
    assert set(HEAD_FIELDS) <= set(TrainConfig().model_kwargs())
    architecture = inspect.signature(SupConModel.from_architecture).parameters
    assert set(TrainConfig().encoder_kwargs()) <= set(architecture)


@pytest.mark.parametrize("values", [{}, CHANGED], ids=["defaults", "changed"])
def test_model_kwargs_round_trip_into_a_supcon_model(values):
    config = TrainConfig(**values)
    kwargs = config.model_kwargs(steps_per_epoch=5)
    model = SupConModel(_encoder(), num_classes=3, **kwargs)
    stored = model.get_config()
    assert {key: stored[key] for key in kwargs} == kwargs
    assert kwargs["use_labels"] is (config.loss == "supcon")
    assert kwargs["freeze_backbone_steps"] == config.freeze_backbone_epochs * 5
    if values:
        assert (model.contrast_mode, model.ce_weight, model.label_smoothing) == ("one", 0.1, 0.1)
        assert model.momentum_queue.queue_size == 32 and model.stage == "joint"


def test_backbone_multiplier_defaults_by_pretrained():
    assert TrainConfig().model_kwargs()["backbone_lr_multiplier"] == 1.0
    pretrained = TrainConfig(pretrained="resnet18.supcon_digits").model_kwargs()
    assert pretrained["backbone_lr_multiplier"] == PRETRAINED_BACKBONE_LR_MULTIPLIER
    given = TrainConfig(pretrained="resnet18.supcon_digits", backbone_lr_multiplier=0.0)
    assert given.model_kwargs()["backbone_lr_multiplier"] == 0.0


def test_from_architecture_takes_encoder_and_model_kwargs():
    config = TrainConfig(arch="resnet18", width_multiplier=0.125, stage="ce", ce_weight=0.5,
                         label_smoothing=0.2, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    model = SupConModel.from_architecture(config.arch, num_classes=4, **config.encoder_kwargs(),
                                          **config.model_kwargs())
    assert model.feature_dim == 64 and model.stage == "ce"
    assert (model.ce_weight, model.label_smoothing) == (0.5, 0.2)


def test_new_fields_are_checked_and_survive_yaml(tmp_path):
    from kerascon.losses import supcon_loss

    for mode in CONTRAST_MODES:  # the choices table names what the loss accepts
        features = np.random.default_rng(0).normal(size=(4, 2, 8)).astype("float32")
        assert np.isfinite(float(supcon_loss(features, np.array([0, 1, 0, 1]), contrast_mode=mode)))
    with pytest.raises(ConfigError, match="unknown contrast_mode 'none'; choose one of all, one"):
        TrainConfig(contrast_mode="none")
    with pytest.raises(ConfigError, match="unknown loss_variant 'mid'; choose one of out, in"):
        TrainConfig(loss_variant="mid")
    assert TrainConfig(loss_variant="in").model_kwargs()["loss_variant"] == "in"
    with pytest.raises(ConfigError, match=r"label_smoothing must be in \[0, 1\), got 1.0"):
        TrainConfig(label_smoothing=1.0)
    with pytest.raises(ConfigError, match="joint_weight and ce_weight must be >= 0"):
        TrainConfig(ce_weight=-0.5)
    with pytest.raises(ConfigError, match="ce_weight must be a finite number"):
        TrainConfig(ce_weight="high")
    config = TrainConfig(ce_weight=0.25, label_smoothing=0.1, contrast_mode="one")
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    assert TrainConfig.from_yaml(path) == config
    # A run recorded before these fields existed reads with their defaults.
    old = {k: v for k, v in TrainConfig().to_dict().items()
           if k not in ("ce_weight", "label_smoothing", "contrast_mode")}
    assert TrainConfig.from_dict(old) == TrainConfig()
