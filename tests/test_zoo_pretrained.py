"""Pretrained-weights registry, verified download into the cache, and zoo.load (Keras files)."""

import dataclasses
import hashlib

import keras
import numpy as np
import pytest

import kerascon.zoo as zoo
from kerascon.model import SupConModel
from kerascon.zoo import (
    ChecksumError,
    DownloadError,
    PretrainedSpec,
    ReportedMetric,
    TrainingRecipe,
    UnknownArchitectureError,
    UnknownPretrainedError,
    cache_path,
    download,
    get_pretrained,
    list_pretrained,
    register_pretrained,
)
from kerascon.zoo import pretrained as pretrained_module

DATA = b"pretend these are weights" * 100


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """An empty KERASCON_HOME per test."""
    path = tmp_path / "home"
    monkeypatch.setenv("KERASCON_HOME", str(path))
    return path


@pytest.fixture
def scratch():
    """Registers entries for one test and removes them afterwards."""
    names = []

    def add(name, source, data=DATA, **kwargs):
        fields = dict(
            name=name, source=str(source), sha256=hashlib.sha256(data).hexdigest(),
            size=len(data), format="torch-supcontrast", input_size=(32, 32),
            mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), stem="cifar", feature_dim=64,
            projection_dim=16, license="BSD-2-Clause",
            recipe=TrainingRecipe(dataset="cifar10", epochs=1, batch_size=8, temperature=0.1,
                                  augmentation="SimAugment"),
            metrics=(ReportedMetric(name="top1", value=0.0, dataset="cifar10",
                                    citation="this test"),),
        )
        fields.update(kwargs)
        spec = register_pretrained(PretrainedSpec(**fields))
        names.append(spec.name)
        return spec

    yield add
    for name in names:
        pretrained_module._PRETRAINED.pop(name, None)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "weights.pth"
    path.write_bytes(DATA)
    return path


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------- registry
def test_spec_validation_and_registration(scratch, source):
    spec = scratch("resnet18.test_frozen", source)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.sha256 = "0" * 64
    assert (spec.arch, spec.tag, spec.filename) == (
        "resnet18", "test_frozen", "resnet18.test_frozen.pth")
    assert isinstance(spec.metrics, tuple) and spec.mean == (0.5, 0.5, 0.5)
    base = dataclasses.asdict(spec) | {"recipe": spec.recipe, "metrics": spec.metrics}
    for change, message in [({"sha256": None}, "64 hex digits"),
                            ({"sha256": "abc"}, "64 hex digits"),
                            ({"name": "resnet18"}, "ARCH.TAG"),
                            ({"format": "onnx"}, "unknown format"),
                            ({"size": 0}, "positive number of bytes")]:
        with pytest.raises(ValueError, match=message):
            PretrainedSpec(**(base | change))

    scratch("resnet18.test_dup", source)
    with pytest.raises(ValueError, match="'resnet18.test_dup' are already registered"):
        scratch("resnet18.test_dup", source)
    with pytest.raises(UnknownArchitectureError, match="did you mean 'resnet18'"):
        scratch("resnet81.test_x", source)


def test_wildcard_listing_and_unknown_names(scratch, source):
    for name in ("resnet18.test_b", "resnet18.test_a", "resnet50.test_c"):
        scratch(name, source, feature_dim=2048)
    assert list_pretrained("resnet18.test_*") == ["resnet18.test_a", "resnet18.test_b"]
    assert list_pretrained("*.test_c") == ["resnet50.test_c"]
    assert {"resnet18.test_a", "resnet50.test_c"} <= set(list_pretrained())

    scratch("resnet18.test_supcon", source)
    with pytest.raises(UnknownPretrainedError, match="did you mean 'resnet18.test_supcon'"):
        get_pretrained("resnet18.test_supcom")
    with pytest.raises(UnknownPretrainedError, match="named ARCH.TAG"):
        zoo.load("resnet18")
    with pytest.raises(ValueError, match="unknown pretrained weights 'vit.x'"):
        download("vit.x")


# ----------------------------------------------------------------- download
def test_download_local_path_file_url_and_cache_hit(scratch, source, home, monkeypatch):
    spec = scratch("resnet18.test_local", source)
    path = download(spec.name, progress=True)
    assert path == home / "pretrained" / "resnet18.test_local.pth" == cache_path(spec.name)
    assert path.read_bytes() == DATA and leftovers(path.parent) == []
    mtime = path.stat().st_mtime_ns
    source.unlink()  # a cache hit must not touch the source
    assert download(spec.name) == path and path.stat().st_mtime_ns == mtime

    source.write_bytes(DATA)
    spec = scratch("resnet18.test_url", source.as_uri())
    assert download(spec.name).read_bytes() == DATA

    monkeypatch.delenv("KERASCON_HOME")
    assert zoo.kerascon_home() == zoo.kerascon_home().home() / ".cache" / "kerascon"


def test_checksum_mismatch_deletes_and_names_both_hashes(scratch, source, home):
    expected = hashlib.sha256(b"other bytes").hexdigest()
    spec = scratch("resnet18.test_bad", source, sha256=expected)
    with pytest.raises(ChecksumError) as info:
        download(spec.name)
    msg = str(info.value)
    assert expected in msg and hashlib.sha256(DATA).hexdigest() in msg and "deleted" in msg
    assert not cache_path(spec.name).exists()
    assert leftovers(home / "pretrained") == []

    spec = scratch("resnet18.test_corrupt", source)
    path = download(spec.name)
    path.write_bytes(b"bit rot")
    with pytest.raises(ChecksumError, match=f"expected {spec.sha256}"):
        download(spec.name)
    assert not path.exists()
    assert download(spec.name).read_bytes() == DATA  # fetched anew


def test_offline_says_where_to_put_the_file(scratch, home, tmp_path):
    spec = scratch("resnet18.test_offline", "http://127.0.0.1:9/weights.pth")
    with pytest.raises(DownloadError) as info:
        download(spec.name, timeout=5)
    msg = str(info.value)
    where = str(home / "pretrained" / "resnet18.test_offline.pth")
    assert f"save it as {where}" in msg and spec.sha256 in msg and "\n" not in msg
    assert not (home / "pretrained" / "resnet18.test_offline.pth").exists()
    assert leftovers(home / "pretrained") == []
    # Putting the file there by hand works offline.
    (home / "pretrained" / "resnet18.test_offline.pth").write_bytes(DATA)
    assert download(spec.name).read_bytes() == DATA

    spec = scratch("resnet18.test_missing", tmp_path / "nowhere.pth")
    with pytest.raises(DownloadError, match="could not fetch resnet18.test_missing"):
        download(spec.name)


# ----------------------------------------------------------------- load (Keras format)
def _tiny_supcon():
    encoder = keras.Sequential([keras.Input((None, None, 3)),
                                keras.layers.Conv2D(4, 3, activation="relu"),
                                keras.layers.GlobalAveragePooling2D()], name="tiny")
    return SupConModel(encoder, projection_dim=3, projection_hidden_dim=5)


def test_load_keras_entry(scratch, tmp_path):
    model = _tiny_supcon()
    path = tmp_path / "tiny.keras"
    model.save(path)
    data = path.read_bytes()
    spec = scratch("resnet18.test_keras", path, data=data, format="keras", feature_dim=4,
                   projection_dim=3)
    assert spec.filename.endswith(".keras")
    raw = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype("float32")
    expected = model(raw)["projection"]

    loaded = zoo.load(spec.name)
    assert isinstance(loaded, SupConModel)
    np.testing.assert_allclose(loaded(raw)["projection"], expected, atol=1e-6)

    tuned = zoo.load(spec.name, num_classes=3, temperature=0.2)
    assert tuned.num_classes == 3 and tuned.temperature == 0.2
    np.testing.assert_allclose(tuned(raw)["projection"], expected, atol=1e-6)
    same = zoo.load(spec.name, projection_dim=3, projection_hidden_dim=None)
    np.testing.assert_allclose(same(raw)["projection"], expected, atol=1e-6)
    with pytest.raises(zoo.CheckpointError, match="head has projection_dim=3, not 7"):
        zoo.load(spec.name, projection_dim=7)


def test_train_starts_from_a_pretrained_entry(scratch, tmp_path):
    """`kerascon train --pretrained NAME` starts from the entry's verified weights."""
    import json

    from click.testing import CliRunner

    from kerascon.cli.main import main
    from kerascon.runs.records import stage_config

    model = _tiny_supcon()
    path = tmp_path / "tiny.keras"
    model.save(path)
    spec = scratch("resnet18.test_start", path, data=path.read_bytes(), format="keras",
                   feature_dim=4, projection_dim=3)
    run = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "train", "--pretrained", spec.name, "--data", "embedded:digits", "--image-size", "8",
        "--batch-size", "32", "--epochs", "1", "--steps-per-epoch", "1", "--lr", "1e-9",
        "--output", str(run), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stage"] == "contrastive"
    assert stage_config(run, "contrastive").pretrained == spec.name
    trained = kerascon_load(run / "model.keras")
    for a, b in zip(model.encoder.get_weights(), trained.encoder.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)  # lr 1e-9: still the pretrained weights
    unknown = CliRunner().invoke(main, ["train", "--pretrained", "resnet18.test_strat",
                                        "--output", str(tmp_path / "other")])
    assert unknown.exit_code == 1 and "resnet18.test_start" in unknown.output
    assert not (tmp_path / "other").exists()


def kerascon_load(path):
    import kerascon

    return kerascon.load_model(path)
