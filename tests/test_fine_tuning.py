"""Fine-tuning a pretrained encoder: backbone learning-rate multiplier, frozen warm-up,
frozen batch-norm statistics; in the optimizers, in SupConModel and through the CLI."""

import hashlib

import keras
import numpy as np
import pytest
from conftest import invoke_cli

import kerascon.zoo as zoo
from kerascon.encoders import build_encoder
from kerascon.model import SupConModel
from kerascon.optimizers import LARS, CoupledDecaySGD
from kerascon.zoo import keras_imagenet
from kerascon.zoo import pretrained as pretrained_module

pytestmark = pytest.mark.slow


def _two_layers():
    backbone, head = keras.layers.Dense(3, name="backbone"), keras.layers.Dense(2, name="head")
    backbone.build((None, 4))
    head.build((None, 3))
    return backbone, head


def _deltas(optimizer_factory, steps, **schedule):
    """How far each layer's kernel moved after ``steps`` identical gradient steps."""
    keras.utils.set_random_seed(0)
    backbone, head = _two_layers()
    variables = [backbone.kernel, head.kernel]
    start = [np.array(v.numpy()) for v in variables]
    optimizer = optimizer_factory()
    if schedule:
        optimizer.scale_learning_rate_of([backbone.kernel], **schedule)
    grads = [np.full(v.shape, 0.5, "float32") for v in variables]
    moved = []
    for _ in range(steps):
        optimizer.apply(grads, variables)
        moved.append([float(np.abs(v.numpy() - s).sum()) for v, s in zip(variables, start)])
    return moved


@pytest.mark.parametrize("factory", [lambda: CoupledDecaySGD(0.1, momentum=0.9, weight_decay=0.0),
                                     lambda: LARS(0.1, momentum=0.9, weight_decay=0.0, eta=1.0)],
                         ids=["sgd", "lars"])
def test_multiplier_scales_only_the_backbone(factory):
    # One step: afterwards LARS' trust ratio sees different weights on the two runs.
    plain = _deltas(factory, 1)
    scaled = _deltas(factory, 1, multiplier=0.1)
    np.testing.assert_allclose(scaled[-1][0], 0.1 * plain[-1][0], rtol=1e-5)
    np.testing.assert_allclose(scaled[-1][1], plain[-1][1], rtol=1e-6)


def test_frozen_steps_then_training():
    moved = _deltas(lambda: CoupledDecaySGD(0.1, momentum=0.9, weight_decay=0.0), 4,
                    multiplier=1.0, frozen_steps=2)
    assert moved[0][0] == 0.0 and moved[1][0] == 0.0 and moved[0][1] > 0
    # After the warm-up the backbone starts from a zero momentum: it moves like step 1.
    plain = _deltas(lambda: CoupledDecaySGD(0.1, momentum=0.9, weight_decay=0.0), 1)
    np.testing.assert_allclose(moved[2][0], plain[0][0], rtol=1e-5)


def test_bad_multiplier_and_foreign_optimizer():
    with pytest.raises(ValueError, match="multiplier must be a finite number >= 0"):
        CoupledDecaySGD(0.1).scale_learning_rate_of([], -1.0)
    model = SupConModel.from_architecture("resnet18", num_classes=2, width_multiplier=0.125,
                                          projection_hidden_dim=8, projection_dim=4,
                                          backbone_lr_multiplier=0.1)
    with pytest.raises(ValueError, match="needs a kerascon optimizer"):
        model.compile(optimizer=keras.optimizers.Adam(1e-3))


def _views(n=8, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 2, size, size, 3)).astype("uint8"),
            rng.integers(0, 2, n).astype("int32"))


def _bn_state(model):
    layers = [lyr for lyr in model.encoder._flatten_layers() if isinstance(lyr, keras.layers.BatchNormalization)]
    return [np.array(w.numpy()) for lyr in layers for w in lyr.weights]


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_batch_norm_keeps_statistics_and_survives_save(freeze, tmp_path):
    keras.utils.set_random_seed(1)
    model = SupConModel.from_architecture("resnet18", num_classes=2, width_multiplier=0.125,
                                          projection_hidden_dim=8, projection_dim=4,
                                          freeze_batch_norm=freeze)
    model.compile(optimizer=CoupledDecaySGD(0.1))
    before = _bn_state(model)
    model.fit(*_views(), batch_size=8, epochs=1, verbose=0)
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, _bn_state(model)))
    assert unchanged is freeze
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.freeze_batch_norm is freeze and loaded.backbone_lr_multiplier == 1.0
    loaded.set_stage("contrastive")  # trainable flags are set again: BN stays frozen
    assert all(not lyr.trainable for lyr in loaded.encoder._flatten_layers()
               if isinstance(lyr, keras.layers.BatchNormalization)) is freeze


@pytest.fixture
def local_imagenet_entry(tmp_path, monkeypatch):
    """``keras_mobilenetv3small.test_ft``: a random application in Keras' cache, registered
    with the hash of that file (the real entry's hash is Keras' own)."""
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    arch = "keras_mobilenetv3small"
    path = home / "models" / keras_imagenet.KERAS_WEIGHTS[arch][1]
    keras.utils.set_random_seed(3)
    encoder = build_encoder(arch, input_shape=(32, 32, 3))
    keras.saving.save_model(encoder.layers[-1], path)
    spec = keras_imagenet.keras_imagenet_spec(
        arch, tag="test_ft", keras_file=path.name,
        keras_file_hash=hashlib.md5(path.read_bytes()).hexdigest())
    zoo.register_pretrained(spec)
    yield spec.name, encoder
    pretrained_module._PRETRAINED.pop(spec.name, None)


def test_cli_fine_tunes_from_pretrained_weights(local_imagenet_entry, tmp_path):
    name, pretrained = local_imagenet_entry
    run = tmp_path / "run"
    common = ["--data", "embedded:digits", "--image-size", "32", "--batch-size", "8",
              "--projection-dim", "8", "--projection-hidden-dim", "16", "--quiet"]
    result = invoke_cli("train", "--arch", "keras_mobilenetv3small", "--pretrained", name,
                        *common, "--epochs", "2", "--steps-per-epoch", "2",
                        "--freeze-backbone-epochs", "1", "--freeze-batch-norm",
                        "--eval-split", "none", "--output", run)
    assert result.exit_code == 0, result.output
    config = (run / "stages" / "contrastive" / "config.yaml").read_text()
    assert "freeze_backbone_epochs: 1" in config and "freeze_batch_norm: true" in config
    model = keras.saving.load_model(run / "model.keras")
    assert model.backbone_lr_multiplier == pytest.approx(0.1)  # the default with --pretrained
    assert model.freeze_backbone_steps == 2 and model.optimizer.iterations.numpy() == 4
    # Trained (epoch 2 at 0.1 x lr) but batch-norm statistics are ImageNet's (here: the file's).
    trained = {w.path: np.array(w.numpy()) for w in model.encoder.weights}
    original = {w.path: np.array(w.numpy()) for w in pretrained.weights}
    moving = [p for p in trained if "moving" in p]
    assert moving and all(np.array_equal(trained[p], original[p]) for p in moving)
    assert any(not np.array_equal(trained[p], original[p]) for p in trained if "kernel" in p)
    linear = invoke_cli("train", "--stage", "linear", "--run", run, "--epochs", "1",
                        "--steps-per-epoch", "2", "--eval-split", "none", "--quiet")
    assert linear.exit_code == 0, linear.output


def test_pretrained_entry_sets_architecture_and_image_size():
    from kerascon.errors import ConfigError
    from kerascon.runs.training import resolve_config

    config = resolve_config("contrastive", None, {"pretrained": "resnet18.supcon_digits"})
    assert (config.arch, config.image_size) == ("resnet18", 16)
    assert resolve_config("contrastive", None, {"pretrained": "resnet18.supcon_digits",
                                                "image_size": 24}).image_size == 24
    with pytest.raises(ConfigError, match="is a resnet18 encoder, not 'resnet50'"):
        resolve_config("contrastive", None, {"pretrained": "resnet18.supcon_digits",
                                             "arch": "resnet50"})
