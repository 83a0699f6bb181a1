"""kerascon's shipped pretrained entry (resnet18.supcon_digits): offline load, checksum,
refusals, and `kerascon zoo verify` on the real embedded digits (reduced linear budget)."""

import dataclasses
import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke_cli, one_error_line

import kerascon.zoo as zoo
from kerascon.zoo import pretrained as pretrained_module
from kerascon.zoo.float16_weights import load_float16_weights

pytestmark = pytest.mark.slow

NAME = "resnet18.supcon_digits"
ZOO_DIR = Path(zoo.__file__).resolve().parent


@pytest.fixture
def no_network(monkeypatch):
    """Any socket opened while loading fails the test: shipped entries load offline."""
    def refuse(*args, **kwargs):
        raise AssertionError("a shipped entry opened a network socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def register(request):
    names = []

    def add(spec):
        names.append(spec.name)
        return pretrained_module.register_pretrained(spec)

    yield add
    for name in names:
        pretrained_module._PRETRAINED.pop(name, None)


def test_shipped_file_matches_its_entry():
    spec = zoo.get_pretrained(NAME)
    path = zoo.shipped_file(NAME)
    assert path.is_file() and path.stat().st_size == spec.size <= 30 * 2**20
    assert zoo.sha256_file(path) == spec.sha256
    with np.load(path, allow_pickle=False) as stored:
        assert {stored[k].dtype for k in stored.files} == {np.dtype("float16")}
    for config_file in spec.recipe.config_files:
        assert (ZOO_DIR / config_file).is_file()


def test_load_offline_casts_float16_weights_to_float32(no_network):
    spec = zoo.get_pretrained(NAME)
    model = zoo.load(NAME, num_classes=10, stage="linear")
    assert model.feature_dim == spec.feature_dim == 128
    assert model.projection_head.output_dim == 128 and model.projection_head.hidden_dim == 256
    with np.load(zoo.shipped_file(NAME), allow_pickle=False) as stored:
        for variable in model.encoder.weights:
            assert str(variable.dtype) == "float32"
            np.testing.assert_array_equal(variable.numpy(), stored[variable.path].astype("float32"))
    images = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype("float32")
    assert model(images, training=False)["logits"].shape == (2, 10)


def test_tampered_copy_is_refused_and_kept(tmp_path, register):
    spec = zoo.get_pretrained(NAME)
    copy = tmp_path / "encoder.npz"
    shutil.copyfile(zoo.shipped_file(NAME), copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    relative = os.path.relpath(copy, ZOO_DIR)
    tampered = register(dataclasses.replace(spec, name="resnet18.tampered_digits",
                                            source="package:" + relative))
    with pytest.raises(zoo.ChecksumError, match="were not loaded.*reinstall kerascon"):
        zoo.load(tampered.name)
    assert copy.read_bytes() == bytes(data)  # a package file is left in place
    line = one_error_line(invoke_cli("zoo", "verify", tampered.name))
    assert "sha256" in line and "reinstall kerascon" in line


def test_weights_for_another_architecture_name_the_layer():
    from kerascon.encoders import build_encoder

    encoder = build_encoder("resnet18", width_multiplier=0.125)
    before = [w.numpy().copy() for w in encoder.weights]
    with pytest.raises(zoo.CheckpointError, match=r"layer stem_conv/kernel has shape"):
        load_float16_weights(encoder, zoo.shipped_file(NAME))
    for variable, value in zip(encoder.weights, before):  # nothing half-loaded
        np.testing.assert_array_equal(variable.numpy(), value)
    with pytest.raises(zoo.CheckpointError,
                       match=r"stem_conv/kernel has shape \(3, 3, 3, 16\) in .* but \(3, 3, 1, 16\)"):
        zoo.load(NAME, input_shape=(16, 16, 1))


def test_unknown_names_and_entries_without_recipe():
    line = one_error_line(invoke_cli("zoo", "verify", "resnet18.supcon_digit"))
    assert "did you mean 'resnet18.supcon_digits'" in line
    line = one_error_line(invoke_cli("zoo", "build", "keras_resnet50.imagenet", "--output", "x"))
    assert "has no recipe" in line and not Path("x").exists()


def test_card_states_what_the_entry_registers():
    spec = zoo.get_pretrained(NAME)
    card = (ZOO_DIR / "weights" / NAME / "README.md").read_text()
    assert spec.sha256 in card and f"{spec.size:,}" in card
    for metric in spec.metrics:
        assert f"{metric.value:.2f}" in card
    assert "kerascon zoo verify resnet18.supcon_digits" in card
    assert "CC BY 4.0" in card


def test_verify_reduced_budget_on_the_real_digits(tmp_path):
    result = invoke_cli("zoo", "verify", NAME, "--linear-epochs", "2", "--json",
                        "--output", tmp_path / "run")
    report = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    assert report["name"] == NAME and report["linear_epochs"] == 2
    card = {m.name: m.value for m in zoo.get_pretrained(NAME).metrics}
    rows = {row["name"]: row for row in report["metrics"]}
    assert set(rows) == {"linear top-1 (%)", "kNN top-1 (%)"}
    for name, row in rows.items():
        assert row["card"] == card[name]
        assert row["ok"] == (row["measured"] >= card[name] - 1.0)
    # kNN top-1 does not depend on the linear budget: the shipped encoder reproduces it.
    assert rows["kNN top-1 (%)"]["ok"], rows
    assert result.exit_code == (0 if report["ok"] else 1), result.output
    if not report["ok"]:
        assert "more than 1 point below the card" in one_error_line(result)
    assert (tmp_path / "run" / "evaluations").is_dir()
    assert "linear" in json.loads((tmp_path / "run" / "metrics.json").read_text())
