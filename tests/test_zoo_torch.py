"""PyTorch -> Keras conversion (kerascon.zoo.from_torch): output parity and bad input.

The reference networks below reproduce, in plain PyTorch, the parameter names and
forward passes of (a) the SupContrast authors' ``networks/resnet_big.py``
(``SupConResNet``: CIFAR stem, ``shortcut`` projections, ``head.0``/``head.2``, stride
on the bottleneck's 3x3 conv2) and (b) torchvision's ResNet (ImageNet stem,
``downsample``, ``fc``). A ``width`` argument (base channels, 64 in both originals)
keeps the tests small; the converter infers the width multiplier from ``conv1``.
"""

import argparse
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from kerascon.zoo import CheckpointError, from_torch, read_state_dict  # noqa: E402

DEPTHS = {"resnet18": ("basic", [2, 2, 2, 2]), "resnet34": ("basic", [3, 4, 6, 3]),
          "resnet50": ("bottleneck", [3, 4, 6, 3])}
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


# ----------------------------------------------------------------- SupContrast resnet_big.py
class SCBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class SCBottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, self.expansion * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(self.expansion * planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += self.shortcut(x)
        return F.relu(out)


class SCResNet(nn.Module):
    def __init__(self, block, num_blocks, width=64, in_channel=3):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(in_channel, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(block, width, num_blocks[0], 1)
        self.layer2 = self._make_layer(block, 2 * width, num_blocks[1], 2)
        self.layer3 = self._make_layer(block, 4 * width, num_blocks[2], 2)
        self.layer4 = self._make_layer(block, 8 * width, num_blocks[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def _make_layer(self, block, planes, num_blocks, stride):
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return torch.flatten(self.avgpool(out), 1)


class SupConResNet(nn.Module):
    """backbone + projection head, as SupContrast's (with a width argument)."""

    def __init__(self, name="resnet50", head="mlp", feat_dim=128, width=64):
        super().__init__()
        kind, blocks = DEPTHS[name]
        block = SCBasicBlock if kind == "basic" else SCBottleneck
        self.encoder = SCResNet(block, blocks, width)
        dim_in = 8 * width * block.expansion
        if head == "linear":
            self.head = nn.Linear(dim_in, feat_dim)
        else:
            self.head = nn.Sequential(nn.Linear(dim_in, dim_in), nn.ReLU(inplace=True),
                                      nn.Linear(dim_in, feat_dim))

    def forward(self, x):
        return F.normalize(self.head(self.encoder(x)), dim=1)


# ----------------------------------------------------------------- torchvision ResNet
class TVBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class TVBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class TorchvisionResNet(nn.Module):
    def __init__(self, name="resnet50", num_classes=10, width=64):
        super().__init__()
        kind, blocks = DEPTHS[name]
        block = TVBasicBlock if kind == "basic" else TVBottleneck
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, width, blocks[0])
        self.layer2 = self._make_layer(block, 2 * width, blocks[1], 2)
        self.layer3 = self._make_layer(block, 4 * width, blocks[2], 2)
        self.layer4 = self._make_layer(block, 8 * width, blocks[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.features(x))


# ----------------------------------------------------------------- helpers
def randomised(net, seed=0):
    """Random weights and batch-norm statistics, eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.2)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.2)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
                module.num_batches_tracked.fill_(7)
            elif isinstance(module, nn.Linear):
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
    return net.eval()


def supcon_net(name="resnet18", head="mlp", width=8, feat_dim=16, seed=0):
    torch.manual_seed(seed)
    return randomised(SupConResNet(name, head=head, feat_dim=feat_dim, width=width), seed)


def images(size=32, batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, size, size, 3)).astype("float32")


def to_torch(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def assert_close(keras_out, torch_out, tol=1e-4):
    a, b = np.asarray(keras_out), torch_out.detach().numpy()
    assert a.shape == b.shape
    scale = max(1.0, float(np.abs(b).max()))
    assert float(np.abs(a - b).max()) <= tol * scale, float(np.abs(a - b).max())


def assert_supcon_parity(model, net, x):
    with torch.no_grad():
        feat = net.encoder(to_torch(x))
        proj = net(to_torch(x))
    keras_feat = model.encoder(x, training=False)
    assert_close(keras_feat, feat)
    assert_close(model.projection_head(keras_feat), proj)


@pytest.fixture(scope="module")
def r18_state():
    """State dict of a width-8 SupContrast ResNet-18 (mlp head, 16-d projection)."""
    return supcon_net().state_dict()


# ----------------------------------------------------------------- parity
def test_supcontrast_resnet18_file_with_dataparallel_and_opt(tmp_path):
    net = supcon_net("resnet18")
    net.encoder = nn.DataParallel(net.encoder)  # as main_supcon.py does: encoder.module.*
    path = tmp_path / "ckpt_epoch_5.pth"
    opt = argparse.Namespace(model="resnet18", temp=0.1, batch_size=1024)
    torch.save({"opt": opt, "model": net.state_dict(), "epoch": 5}, path)
    assert any(k.startswith("encoder.module.") for k in net.state_dict())

    model = from_torch(path, mean=CIFAR10_MEAN, std=CIFAR10_STD)  # arch guessed
    assert model.encoder.name == "resnet18" and model.feature_dim == 64
    assert (model.projection_head.hidden_dim, model.projection_head.output_dim) == (64, 16)
    assert {lyr.name for lyr in model.encoder.layers}.isdisjoint({"stem_pool"})  # cifar stem
    net.encoder = net.encoder.module
    assert_supcon_parity(model, net, images())

    raw = np.random.default_rng(1).integers(0, 256, size=(2, 32, 32, 3)).astype("uint8")
    norm = (raw / 255.0 - np.array(CIFAR10_MEAN)) / np.array(CIFAR10_STD)
    with torch.no_grad():
        expected = net(to_torch(norm.astype("float32")))
    assert_close(model(raw)["projection"], expected)


def test_supcontrast_resnet50_bottleneck_parity():
    net = supcon_net("resnet50", width=8, seed=1)
    model = from_torch(net.state_dict(), layout="supcontrast", arch="resnet50")
    assert model.feature_dim == 256
    assert_supcon_parity(model, net, images(seed=1))


def test_supcontrast_linear_head():
    net = supcon_net("resnet18", head="linear", seed=2)
    model = from_torch({"model": net.state_dict()})
    assert model.projection_head.head_type == "linear"
    assert_supcon_parity(model, net, images(seed=2))

    w = np.ones((2, 3, 3, 3), "float32")
    state = read_state_dict({"state_dict": {"module.conv1.weight": torch.from_numpy(w),
                                            "module.bn1.num_batches_tracked": torch.tensor(3)}})
    assert list(state) == ["conv1.weight"] and state["conv1.weight"].dtype == np.float32


def test_torchvision_parity_with_classifier():
    # Basic blocks here; the bottleneck mapping (conv3/bn3) is checked on the supcontrast net.
    torch.manual_seed(3)
    net = randomised(TorchvisionResNet("resnet18", num_classes=10, width=8), seed=3)
    model = from_torch(net.state_dict(), layout="torchvision", arch="resnet18", classifier=True)
    assert "stem_pool" in {lyr.name for lyr in model.encoder.layers}  # imagenet stem from 7x7
    assert model.num_classes == 10
    x = images(size=64, seed=3)
    with torch.no_grad():
        feat, logits = net.features(to_torch(x)), net(to_torch(x))
    keras_feat = model.encoder(x, training=False)
    assert_close(keras_feat, feat)
    assert_close(model.classifier(keras_feat), logits)


def test_torchvision_fc_ignored_and_cifar_stem_inferred(r18_state):
    # The supcontrast encoder renamed to torchvision keys (3x3 conv1, no max-pool) plus an fc.
    state = {k.removeprefix("encoder.").replace("shortcut", "downsample"): v
             for k, v in r18_state.items() if k.startswith("encoder.")}
    state.update({"fc.weight": torch.zeros(5, 64), "fc.bias": torch.zeros(5)})
    model = from_torch(state, layout="torchvision")
    assert model.classifier is None and "stem_pool" not in {lyr.name for lyr in model.encoder.layers}
    net = supcon_net()
    x = images(seed=4)
    with torch.no_grad():
        assert_close(model.encoder(x, training=False), net.encoder(to_torch(x)))


# ----------------------------------------------------------------- bad input
class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):  # unpickling this would create a directory
        return (os.mkdir, (self.marker,))


def test_unreadable_checkpoints(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"this is not a torch checkpoint")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint that can be read safely"):
        from_torch(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        from_torch(tmp_path / "missing.pth")

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"model": {"conv1.weight": torch.zeros(1)}, "x": _Payload(str(marker))}, evil)
    with pytest.raises(CheckpointError, match="weights_only=True.*mkdir") as info:
        from_torch(evil)
    assert "\n" not in str(info.value)
    assert not marker.exists()  # no code from the file ran

    listed = tmp_path / "list.pth"
    torch.save([1, 2, 3], listed)
    with pytest.raises(CheckpointError, match="holds a list"):
        from_torch(listed)
    with pytest.raises(CheckpointError, match=r"no state dict of tensors.*'epoch'"):
        from_torch({"epoch": 3, "opt": "x"})


def test_missing_unexpected_keys_and_wrong_arch(r18_state):
    state = dict(r18_state)
    del state["encoder.layer1.0.bn1.running_var"]
    state["encoder.layer5.0.conv1.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as info:
        from_torch(state)
    msg = str(info.value)
    assert "1 missing keys (encoder.layer1.0.bn1.running_var)" in msg
    assert "1 unexpected keys (encoder.layer5.0.conv1.weight)" in msg
    assert "\n" not in msg

    with pytest.raises(CheckpointError, match=r"missing keys \(encoder.layer1.2.conv1.weight.*"
                                              r"looks like resnet18: pass arch='resnet18'"):
        from_torch(r18_state, arch="resnet34")


def test_shape_mismatch_wrong_layout_and_head(r18_state):
    with pytest.raises(CheckpointError, match=r"encoder.conv1.weight is \(8, 3, 3, 3\) but Keras "
                                              r"layer 'stem_conv' needs \(8, 3, 7, 7\)"):
        from_torch(r18_state, stem="imagenet")
    with pytest.raises(CheckpointError, match=r"shape mismatch for \d+ weights.*'stem_conv'"):
        from_torch(r18_state, width_multiplier=0.25)

    with pytest.raises(CheckpointError, match="looks like the 'supcontrast' layout"):
        from_torch(r18_state, layout="torchvision")
    tv = {k.removeprefix("encoder."): v for k, v in r18_state.items() if k.startswith("encoder.")}
    with pytest.raises(CheckpointError, match="looks like the 'torchvision' layout"):
        from_torch(tv, layout="supcontrast")
    with pytest.raises(CheckpointError, match="projection_dim=16, not 32"):
        from_torch(r18_state, projection_dim=32)
    with pytest.raises(ValueError, match="unknown layout"):
        from_torch(r18_state, layout="timm")


# ----------------------------------------------------------------- zoo.load
def test_load_registered_torch_entry(tmp_path, monkeypatch):
    import hashlib

    from kerascon import zoo
    from kerascon.zoo import pretrained

    monkeypatch.setenv("KERASCON_HOME", str(tmp_path / "home"))
    net = supcon_net()
    path = tmp_path / "last.pth"
    torch.save({"model": net.state_dict(), "epoch": 1}, path)
    spec = zoo.PretrainedSpec(
        name="resnet18.test_torch", source=str(path),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size,
        format="torch-supcontrast", input_size=(32, 32), mean=CIFAR10_MEAN, std=CIFAR10_STD,
        stem="cifar", width_multiplier=0.125, feature_dim=64, projection_dim=16,
        projection_hidden_dim=64, license="BSD-2-Clause",
    )
    zoo.register_pretrained(spec)
    try:
        model = zoo.load("resnet18.test_torch", num_classes=10, stage="linear")
    finally:
        pretrained._PRETRAINED.pop("resnet18.test_torch")
    assert model.stage == "linear" and model.num_classes == 10
    assert model.preprocessing.mean == CIFAR10_MEAN
    assert_supcon_parity(model, net, images(seed=5))
