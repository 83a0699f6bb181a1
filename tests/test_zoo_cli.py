"""`kerascon zoo list/show/download/convert` through click's CliRunner."""

import hashlib
import sys

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kerascon.cli.main import main
from kerascon.zoo import PretrainedSpec, TrainingRecipe, register_pretrained
from kerascon.zoo import pretrained as pretrained_module

DATA = b"cli test weights" * 64


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_line(result):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def entry(tmp_path, monkeypatch):
    """A registered torch-format entry whose source is a local file."""
    monkeypatch.setenv("KERASCON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps long cells at the default 80
    source = tmp_path / "w.pth"
    source.write_bytes(DATA)
    spec = register_pretrained(PretrainedSpec(
        name="resnet18.clitest", source=str(source), sha256=hashlib.sha256(DATA).hexdigest(),
        size=len(DATA), format="torch-supcontrast", input_size=(32, 32), mean=(0.5,) * 3,
        std=(0.25,) * 3, stem="cifar", feature_dim=512, projection_dim=128,
        recipe=TrainingRecipe(dataset="cifar10", epochs=1000, temperature=0.1),
        license="BSD-2-Clause",
    ))
    yield spec
    pretrained_module._PRETRAINED.pop(spec.name, None)


def test_list_and_show(entry):
    result = invoke("zoo", "list")
    assert result.exit_code == 0, result.output
    assert "resnet50" in result.output and "resnet18.clitest" in result.output
    assert "BSD-2-Clause" in result.output
    only = invoke("zoo", "list", "resnet18.*")
    assert "resnet18.clitest" in only.output and "resnet50" not in only.output
    none = invoke("zoo", "list", "resnet50*")
    assert "resnet50" in none.output and "No pretrained weights match" in none.output

    result = invoke("zoo", "show", "resnet18.clitest")
    assert result.exit_code == 0, result.output
    for text in (entry.sha256[:16], "torch-supcontrast", "dataset=cifar10", "not downloaded"):
        assert text in result.output
    assert "did you mean 'resnet18.clitest'" in error_line(invoke("zoo", "show", "resnet18.clitset"))
    assert "did you mean 'resnet50'" in error_line(invoke("zoo", "show", "resnet05"))


def test_download(entry, tmp_path):
    result = invoke("zoo", "download", entry.name)
    assert result.exit_code == 0, result.output
    path = tmp_path / "home" / "pretrained" / "resnet18.clitest.pth"
    assert str(path) in result.output and path.read_bytes() == DATA
    assert "(present)" in invoke("zoo", "show", entry.name).output
    path.write_bytes(b"tampered")
    line = error_line(invoke("zoo", "download", entry.name))
    assert "has sha256 " + hashlib.sha256(b"tampered").hexdigest() in line
    assert entry.sha256 in line and not path.exists()

    pretrained_module._PRETRAINED.pop(entry.name)
    register_pretrained(PretrainedSpec(**{
        **{f: getattr(entry, f) for f in entry.__dataclass_fields__},
        "source": "http://127.0.0.1:9/w.pth"}))
    line = error_line(invoke("zoo", "download", entry.name))
    assert "save it as " + str(tmp_path / "home" / "pretrained" / "resnet18.clitest.pth") in line


def test_convert_and_bad_input(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from test_zoo_torch import CIFAR10_MEAN, CIFAR10_STD, supcon_net, to_torch

    net = supcon_net()
    ckpt = tmp_path / "last.pth"
    torch.save({"model": net.state_dict()}, ckpt)
    out = tmp_path / "out" / "model.keras"
    result = invoke("zoo", "convert", ckpt, "--layout", "supcontrast", "--arch", "resnet18",
                    "--output", out, "--mean", *CIFAR10_MEAN, "--std", *CIFAR10_STD)
    assert result.exit_code == 0, result.output
    assert "64-d features, mlp head -> 16" in result.output
    assert [p.name for p in out.parent.iterdir()] == ["model.keras"]

    model = keras.saving.load_model(out, safe_mode=True)
    raw = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("uint8")
    norm = ((raw / 255.0 - np.array(CIFAR10_MEAN)) / np.array(CIFAR10_STD)).astype("float32")
    with torch.no_grad():
        expected = net(to_torch(norm)).numpy()
    np.testing.assert_allclose(model(raw)["projection"], expected, atol=1e-4)

    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage")
    line = error_line(invoke("zoo", "convert", bad, "--output", tmp_path / "m.keras"))
    assert "not a PyTorch checkpoint that can be read safely" in line
    assert not (tmp_path / "m.keras").exists()
    result = invoke("zoo", "convert", bad, "--output", tmp_path / "m.h5")
    assert result.exit_code == 2 and "must end with .keras" in result.output
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    line = error_line(invoke("zoo", "convert", ckpt, "--output", tmp_path / "m.keras"))
    assert "pip install 'kerascon[torch]'" in line
