"""CIFAR ResNets (resnet20 ... resnet110): structure, parameter counts, training, saving,
PyTorch parity, the CLI.

The PyTorch reference below writes out He et al.'s CIFAR ResNet with option A shortcuts as
the port ``pytorch_resnet_cifar10`` names it (``conv1``, ``bn1``, ``layer{s}.{k}.*``,
``linear``; the shortcut subsamples with ``x[:, :, ::2, ::2]`` and zero-pads ``planes // 4``
channels on each side).
"""

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kerascon.cli.main import main as cli
from kerascon.encoders import CIFAR_RESNET_DEPTHS, build_cifar_resnet, build_encoder, get_architecture
from kerascon.encoders.cifar_resnet import ZeroPadShortcut
from kerascon.errors import ConfigError
from kerascon.model import SupConModel
from kerascon.zoo import catalogue

NAMES = [f"resnet{depth}" for depth in CIFAR_RESNET_DEPTHS]


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_the_papers_layout(name):
    depth = int(name.removeprefix("resnet"))
    spec = get_architecture(name)
    assert (spec.family, spec.feature_dim, spec.default_stem, spec.input_size) == \
        ("cifar_resnet", 64, "cifar", (32, 32))
    assert catalogue.BUILTIN_ARCHITECTURES[name].family == "cifar_resnet"
    enc = build_cifar_resnet(depth, width_multiplier=0.25, input_shape=(32, 32, 3))
    convs = [layer for layer in enc.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) + 1 == depth  # 6n + 1 convolutions and the (caller's) classifier
    assert enc.output.shape[-1] == 16
    # 32 -> 32, 16, 8: the map halves at the first block of stages 2 and 3.
    assert enc.get_layer("stage1_block0_out").output.shape[1:] == (32, 32, 4)
    assert enc.get_layer("stage2_block0_out").output.shape[1:] == (16, 16, 8)
    assert enc.get_layer("stage3_block0_out").output.shape[1:] == (8, 8, 16)


@pytest.mark.parametrize("depth, params", [(20, 0.27e6), (32, 0.46e6), (44, 0.66e6),
                                           (56, 0.85e6), (110, 1.7e6)])
def test_parameter_counts_match_the_paper(depth, params):
    # He et al. 2016, Table 6 (two significant digits). Option A shortcuts add no weights.
    enc = build_cifar_resnet(depth, input_shape=(32, 32, 3))
    classifier = 64 * 10 + 10
    assert abs(_trainable(enc) + classifier - params) / params < 0.03
    assert not any(layer.weights for layer in enc.layers if isinstance(layer, ZeroPadShortcut))


def test_zero_pad_shortcut_odd_maps_and_channel_split():
    x = np.arange(1 * 5 * 5 * 2, dtype="float32").reshape(1, 5, 5, 2)
    y = keras.ops.convert_to_numpy(ZeroPadShortcut(6, stride=2)(x))
    assert y.shape == (1, 3, 3, 6)
    np.testing.assert_array_equal(y[..., 2:4], x[:, ::2, ::2, :])
    assert not y[..., :2].any() and not y[..., 4:].any()
    assert ZeroPadShortcut(6, 2).compute_output_shape((None, 5, None, 2)) == (None, 3, None, 6)


def test_bad_options_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="one stem, 'cifar'"):
        build_encoder("resnet20", stem="imagenet")
    with pytest.raises(ConfigError, match="width_multiplier must be > 0"):
        build_encoder("resnet20", width_multiplier=0)
    with pytest.raises(ConfigError, match="valid depths are 20, 32, 44, 56, 110"):
        build_cifar_resnet(26)


def test_supcon_step_mixed_precision_and_keras_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    model = SupConModel.from_architecture("resnet32", num_classes=3, width_multiplier=0.5,
                                          projection_dim=16, projection_hidden_dim=32)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    rng = np.random.default_rng(0)
    views = rng.integers(0, 256, size=(8, 2, 32, 32, 3)).astype("uint8")
    labels = np.arange(8) % 3
    before = keras.ops.convert_to_numpy(model.encoder.get_layer("stage3_block4_conv2").kernel).copy()
    history = model.fit(views, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = keras.ops.convert_to_numpy(model.encoder.get_layer("stage3_block4_conv2").kernel)
    assert not np.allclose(before, after)

    path = tmp_path / "r32.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    images = views[:4, 0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.predict(images, verbose=0)["embedding"]),
                               keras.ops.convert_to_numpy(model.predict(images, verbose=0)["embedding"]),
                               rtol=1e-5, atol=1e-5)

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        enc = build_encoder("resnet20", width_multiplier=0.25, input_shape=(32, 32, 3))
        out = enc(rng.normal(size=(2, 32, 32, 3)).astype("float32"), training=True)
        assert out.dtype == "float16" and np.isfinite(keras.ops.convert_to_numpy(out)).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_cli_lists_and_trains_a_cifar_resnet(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli, ["zoo", "list", "resnet*0"])
    assert listed.exit_code == 0, listed.output
    for name in ("resnet20", "resnet110"):
        assert name in listed.output
    rng = np.random.default_rng(1)
    data = tmp_path / "tiny.npz"
    np.savez(data, images=rng.integers(0, 256, size=(48, 32, 32, 3)).astype("uint8"),
             labels=np.arange(48) % 4)
    result = runner.invoke(cli, ["train", "--arch", "resnet20", "--width-multiplier", "0.25",
                                 "--data", str(data), "--image-size", "32", "--batch-size", "16",
                                 "--epochs", "1", "--output", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert model.encoder.name == "resnet20" and model.feature_dim == 16


# ----------------------------------------------------------------- PyTorch parity
torch = pytest.importorskip("torch")
from test_zoo_torch import randomised  # noqa: E402  (random weights and BN statistics, eval mode)
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


class _OptionABlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if (stride != 1 or in_planes != planes) else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + shortcut)


class _CifarResNet(nn.Module):
    def __init__(self, n, width=16, num_classes=10):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._layer(width, n, 1)
        self.layer2 = self._layer(2 * width, n, 2)
        self.layer3 = self._layer(4 * width, n, 2)
        self.linear = nn.Linear(4 * width, num_classes)

    def _layer(self, planes, n, stride):
        blocks = []
        for s in [stride] + [1] * (n - 1):
            blocks.append(_OptionABlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*blocks)

    def features(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return F.adaptive_avg_pool2d(out, 1).flatten(1)

    def forward(self, x):
        return self.linear(self.features(x))


@pytest.mark.parametrize("n, width", [(3, 16), (5, 8)])
def test_pytorch_checkpoint_converts_with_identical_outputs(n, width, tmp_path):
    from kerascon.zoo import from_torch

    torch.manual_seed(n)
    net = randomised(_CifarResNet(n, width=width), seed=n)
    path = tmp_path / "resnet.th"
    torch.save({"state_dict": net.state_dict()}, path)
    model = from_torch(path, layout="cifar_resnet", classifier=True)  # arch and width guessed
    assert model.encoder.name == f"resnet{6 * n + 2}" and model.feature_dim == 4 * width
    x = np.random.default_rng(n).normal(size=(2, 32, 32, 3)).astype("float32")
    with torch.no_grad():
        nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        features, logits = net.features(nchw).numpy(), net(nchw).numpy()
    keras_features = keras.ops.convert_to_numpy(model.encoder(x, training=False))
    np.testing.assert_allclose(keras_features, features, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.classifier(keras_features)), logits,
                               rtol=1e-4, atol=1e-4)

    without = from_torch(net.state_dict(), layout="cifar_resnet")  # `linear` ignored
    assert without.classifier is None
