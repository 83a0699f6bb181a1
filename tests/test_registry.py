"""kerascon.registry.Registry: the one registry type of stages, architectures and pretrained
entries (checked registration, did-you-mean look-up, natural-order wildcard listing)."""

import subprocess
import sys

import pytest

from kerascon.errors import ConfigError, KerasconError, UnknownArchitectureError
from kerascon.registry import Registry


def _nets():
    return Registry("net", [(name, len(name)) for name in
                            ("resnet101", "resnet18", "resnet50", "resnet56", "vgg16")])


def test_lookup_returns_the_entry_and_mapping_reads_work():
    nets = _nets()
    assert nets.lookup("resnet50") == 8 and nets["vgg16"] == 5
    assert list(nets) == ["resnet101", "resnet18", "resnet50", "resnet56", "vgg16"]  # registration order
    assert len(nets) == 5 and "resnet18" in nets and "resnet19" not in nets
    assert ["x"] not in nets  # unhashable: not registered, no TypeError
    with pytest.raises(KeyError):
        nets["resnet19"]  # plain mapping access keeps KeyError
    assert dict(nets.items())["resnet56"] == 8


def test_unknown_name_suggests_the_closest_and_lists_the_names():
    nets = _nets()
    with pytest.raises(ConfigError) as info:
        nets.lookup("resnet05")  # a swap of two neighbours is one edit
    assert str(info.value) == ("unknown net 'resnet05'; did you mean 'resnet50'? choose one of "
                               "resnet101, resnet18, resnet50, resnet56, vgg16")
    with pytest.raises(ConfigError, match="did you mean 'resnet50' or 'resnet56'"):
        nets.lookup("resnet51")
    with pytest.raises(ConfigError) as info:
        nets.lookup("transformer")
    assert "did you mean" not in str(info.value) and "choose one of resnet101" in str(info.value)
    with pytest.raises(ConfigError, match=r"unknown net \['x'\]"):
        nets.lookup(["x"])
    with pytest.raises(ConfigError, match="no colour is registered"):
        Registry("colour").lookup("red")
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_custom_unknown_error():
    archs = Registry("architecture", [("resnet18", 1)], unknown=UnknownArchitectureError.for_name)
    with pytest.raises(UnknownArchitectureError, match="did you mean 'resnet18'"):
        archs.lookup("resnet81")


def test_wildcard_listing_in_natural_order():
    nets = _nets()
    assert nets.list() == ["resnet18", "resnet50", "resnet56", "resnet101", "vgg16"]
    assert nets.list("resnet5?") == ["resnet50", "resnet56"]
    assert nets.list("*1*") == ["resnet18", "resnet101", "vgg16"]
    assert nets.list("resnet[15]*") == ["resnet18", "resnet50", "resnet56", "resnet101"]
    assert nets.list("vit*") == []


def test_a_name_registered_twice_is_refused_and_pop_removes():
    nets = _nets()
    with pytest.raises(ConfigError, match="net 'vgg16' is already registered; choose another name"):
        nets.register("vgg16", 0)
    assert nets["vgg16"] == 5  # untouched
    assert nets.register("vgg19", 6) == 6 and nets.list("vgg*") == ["vgg16", "vgg19"]
    assert nets.pop("vgg19") == 6 and nets.pop("vgg19", None) is None
    with pytest.raises(KeyError):
        nets.pop("vgg19")

    class Taken(KerasconError):
        pass

    strict = Registry("net", duplicate=lambda name, entry: Taken(f"{name} taken by {entry}"))
    strict.register("a", 1)
    with pytest.raises(Taken, match="a taken by 1"):
        strict.register("a", 2)


def test_registry_loads_neither_keras_nor_tensorflow():
    code = ("import sys, kerascon.registry, kerascon.model.stages, kerascon.backbone_tables.resnet; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_stages_are_a_registry():
    from kerascon.model.stages import STAGE_NAMES, STAGES, get_stage

    assert isinstance(STAGES, Registry) and STAGE_NAMES == ("contrastive", "joint", "ce", "linear")
    assert get_stage("linear") is STAGES["linear"] and not STAGES["linear"].starts_run
    with pytest.raises(ConfigError) as info:
        get_stage("linaer")
    assert str(info.value) == ("unknown stage 'linaer'; did you mean 'linear'? choose one of "
                               "contrastive, joint, ce, linear")
