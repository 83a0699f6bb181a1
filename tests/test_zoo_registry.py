"""Tests for the architecture registry in kerascon.encoders.registry (real Keras, no mocks)."""

import dataclasses

import keras
import pytest

import kerascon.encoders as encoders
import kerascon.zoo as zoo
from kerascon.encoders import check_encoder, registry
from kerascon.encoders.registry import (
    ArchitectureSpec,
    UnknownArchitectureError,
    build_encoder,
    get_architecture,
    list_architectures,
    natural_key,
    register_architecture,
)

RESNETS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet200"]
CIFAR_RESNETS = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]


@pytest.fixture
def scratch_names():
    """Names registered by a test; removed from the global registry afterwards."""
    names = []
    yield names
    for name in names:
        registry._ARCHITECTURES.pop(name, None)


def _tiny_cnn(**kwargs):
    """A two-layer CNN for registry tests."""
    return keras.Sequential(
        [keras.layers.Conv2D(kwargs.get("filters", 8), 3), keras.layers.GlobalAveragePooling2D()]
    )


def test_public_api_exported():
    for name in zoo.__all__:
        assert hasattr(zoo, name)
    assert issubclass(UnknownArchitectureError, ValueError)
    # One registry: kerascon.zoo re-exports the encoders' names (the same objects).
    for name in ("ArchitectureSpec", "UnknownArchitectureError", "build_encoder",
                 "get_architecture", "register_architecture"):
        assert getattr(zoo, name) is getattr(encoders, name) is getattr(registry, name)
    # zoo.list_architectures reads a Keras-free table until the encoders are loaded, then
    # the registry itself (tests/test_zoo_list.py checks the table against the registry).
    for pattern in ("*", "resnet1*", "keras_*"):
        assert zoo.list_architectures(pattern) == encoders.list_architectures(pattern)


def test_encoders_do_not_import_zoo():
    import subprocess
    import sys

    code = ("import sys, kerascon.encoders; "
            "print(sorted(m for m in sys.modules if m.startswith('kerascon.zoo')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "[]"


def test_natural_sort_order():
    assert sorted(["resnet101", "resnet18", "a2b10", "a2b9", "keras_resnet50v2",
                   "keras_resnet101"], key=natural_key) == [
        "a2b9", "a2b10", "keras_resnet50v2", "keras_resnet101", "resnet18", "resnet101"]


def test_builtin_resnets_registered_sorted():
    names = list_architectures()
    assert names == sorted(names, key=natural_key)
    assert set(RESNETS) <= set(names)
    assert list_architectures("resnet*") == sorted(RESNETS + CIFAR_RESNETS, key=natural_key)


def test_wildcard_listing():
    assert list_architectures("resnet1*") == ["resnet18", "resnet101", "resnet110", "resnet152"]
    assert list_architectures("*50") == ["keras_resnet50", "resnet50"]
    assert list_architectures("resnet?4") == ["resnet34", "resnet44"]
    assert list_architectures("resnet[23]*") == ["resnet20", "resnet32", "resnet34", "resnet200"]
    assert list_architectures("vit*") == []


@pytest.mark.parametrize("name", RESNETS)
def test_resnet_specs(name):
    spec = get_architecture(name)
    assert isinstance(spec, ArchitectureSpec)
    assert spec.name == name and spec.family == "resnet"
    assert spec.builder.__module__ == "kerascon.encoders.resnet"  # registered where defined
    assert spec.raw_pixels is False
    assert spec.feature_dim == (512 if name in ("resnet18", "resnet34") else 2048)
    assert spec.default_stem == "cifar"
    assert spec.description and "\n" not in spec.description
    assert callable(spec.builder)


def test_spec_is_frozen():
    spec = get_architecture("resnet18")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.feature_dim = 1


def test_unknown_name_suggests_close_match():
    with pytest.raises(UnknownArchitectureError) as info:
        get_architecture("resnet05")
    msg = str(info.value)
    assert "\n" not in msg
    assert "'resnet05'" in msg
    assert "did you mean 'resnet50'?" in msg
    assert "list_architectures()" in msg
    with pytest.raises(ValueError, match="resnet18"):
        build_encoder("resnt18")


def test_unknown_name_without_close_match():
    with pytest.raises(UnknownArchitectureError, match=r"unknown architecture 'vit_b16'") as info:
        get_architecture("vit_b16")
    assert "did you mean" not in str(info.value)


def test_duplicate_registration_raises(scratch_names):
    scratch_names.append("test_tiny_cnn")
    register_architecture("test_tiny_cnn")(_tiny_cnn)
    with pytest.raises(ValueError, match="test_tiny_cnn.*already registered"):
        register_architecture("test_tiny_cnn")(_tiny_cnn)
    with pytest.raises(ValueError, match="already registered"):
        register_architecture("resnet18")(_tiny_cnn)
    assert get_architecture("resnet18").family == "resnet"  # untouched


def test_register_custom_and_build(scratch_names):
    scratch_names.extend(["test_custom_cnn", "test_bare_cnn"])

    @register_architecture("test_custom_cnn", family="custom", feature_dim=8)
    def custom(**kwargs):
        """Tiny custom encoder.

        Longer description that is not part of the summary.
        """
        return _tiny_cnn(**kwargs)

    assert custom.__name__ == "custom"  # decorator returns the function unchanged
    spec = get_architecture("test_custom_cnn")
    assert (spec.family, spec.feature_dim, spec.default_stem) == ("custom", 8, None)
    assert spec.description == "Tiny custom encoder."
    assert "test_custom_cnn" in list_architectures("test_*")
    enc = build_encoder("test_custom_cnn", filters=6)
    assert check_encoder(enc, input_shape=(16, 16, 3)) == 6

    @register_architecture
    def test_bare_cnn(**kwargs):
        return _tiny_cnn(**kwargs)

    assert get_architecture("test_bare_cnn").builder is test_bare_cnn
    assert get_architecture("test_bare_cnn").description == ""


def test_build_encoder_forwards_kwargs():
    enc = build_encoder("resnet18", width_multiplier=0.125, input_shape=(32, 32, 3))
    names = {lyr.name for lyr in enc.layers}
    assert "stem_pool" not in names  # default stem is "cifar"
    assert enc.name == "resnet18" and enc.output.shape[-1] == 64
    enc = build_encoder("resnet18", stem="imagenet", width_multiplier=0.125, name="enc")
    assert "stem_pool" in {lyr.name for lyr in enc.layers}
    assert enc.name == "enc"
