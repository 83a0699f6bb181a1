"""`kerascon zoo list` reads plain tables: no TensorFlow, natural order, the --pretrained view."""

import dataclasses
import os
import subprocess
import sys

import pytest

import kerascon.encoders  # noqa: F401  (fills the real registry to compare with)
from kerascon.encoders.registry import _ARCHITECTURES
from kerascon.zoo import catalogue
from kerascon.zoo.pretrained import list_pretrained

SCRIPT = """
import sys
from kerascon.cli.main import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print("LOADED", "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def run_cli(*args):
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True,
                          env=env, timeout=120, check=True)


@pytest.mark.parametrize("args", [("zoo", "list"), ("zoo", "list", "--pretrained")])
def test_zoo_list_loads_neither_tensorflow_nor_keras(args):
    result = run_cli(*args)
    assert result.stdout.strip().splitlines()[-1] == "LOADED False False", result.stdout
    assert "resnet18.supcon_digits" in result.stdout
    assert result.stderr == ""  # no TensorFlow log lines


def test_pretrained_view_columns_and_natural_order():
    out = run_cli("zoo", "list", "--pretrained").stdout
    for column in ("dataset", "metric", "size", "license"):
        assert column in out
    row = next(line for line in out.splitlines() if "resnet18.supcon_digits" in line)
    assert "embedded:digits" in row and "1.4 MB" in row and "linear top-1" in row
    assert out.index("keras_resnet50.imagenet") < out.index("keras_resnet101.imagenet")
    assert "resnet18 " not in out  # no architecture table in this view
    names = list_pretrained("keras_resnet*")
    assert names.index("keras_resnet50.imagenet") < names.index("keras_resnet101.imagenet")


def test_architecture_table_in_natural_order():
    out = run_cli("zoo", "list", "resnet*").stdout
    assert out.index("resnet18 ") < out.index("resnet34 ") < out.index("resnet101 ")


def test_catalogue_describes_the_registry_exactly():
    for name, info in catalogue.BUILTIN_ARCHITECTURES.items():
        spec = _ARCHITECTURES[name]
        assert info == catalogue.ArchitectureInfo(
            **{f.name: getattr(spec, f.name) for f in dataclasses.fields(info)}), name
    builtin = {n for n, s in _ARCHITECTURES.items()
               if s.builder.__module__.startswith("kerascon.encoders")}
    assert builtin == set(catalogue.BUILTIN_ARCHITECTURES)


def test_registered_architectures_show_once_the_registry_is_loaded(tiny_architecture):
    assert "cli_test_cnn" in catalogue.list_architectures()
    assert catalogue.describe_architecture("cli_test_cnn").feature_dim == 8
