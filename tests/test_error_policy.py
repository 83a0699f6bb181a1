"""One error policy: an error a user can cause is a kerascon.errors.KerasconError subclass
that is also the matching built-in (ConfigError is a ValueError), so ``except ValueError``
keeps working; bare built-in raises are left for programming errors only, and few."""

import ast
import builtins
import inspect
import pickle
from pathlib import Path

import pytest
import tensorflow as tf
from click.testing import CliRunner

import kerascon.errors as errors
from kerascon.cli.hints import render_error
from kerascon.cli.main import KerasconGroup, one_line

ROOT = Path(__file__).resolve().parents[1]
# Tiers 1-3 and the command line: kerascon/ (its cli and zoo entries are links to the
# top-level cli/ and zoo/ folders, scanned once, there).
SOURCE_ROOTS = ("kerascon", "cli", "zoo")
MAX_BARE_RAISES = 20

BUILTIN_EXCEPTIONS = {name for name, value in vars(builtins).items()
                      if isinstance(value, type) and issubclass(value, BaseException)}

# Each error of kerascon.errors and the built-in kind it promises to be.
PROMISED = {
    errors.ConfigError: ValueError,
    errors.ConfigTypeError: TypeError,
    errors.DataError: ValueError,
    errors.DataNotFoundError: FileNotFoundError,
    errors.DataUnavailableError: RuntimeError,
    errors.DependencyError: ImportError,
    errors.PathNotFoundError: FileNotFoundError,
    errors.RunError: RuntimeError,
    errors.StateError: RuntimeError,
    errors.UnknownArchitectureError: ValueError,
}


def source_files():
    for root in SOURCE_ROOTS:
        for path in sorted((ROOT / root).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if root == "kerascon" and relative.parts[1] in ("cli", "zoo"):
                continue  # the links to cli/ and zoo/
            yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))


def bare_builtin_raises():
    """``raise ValueError(...)``, ``raise KeyboardInterrupt``...: (file, line, class name)."""
    found = []
    for relative, tree in source_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(raised, ast.Name) and raised.id in BUILTIN_EXCEPTIONS:
                    found.append((str(relative), node.lineno, raised.id))
    return found


def test_scan_finds_bare_raises():
    # The scanner itself: a built-in raise counts, a kerascon error or a re-raise does not.
    tree = ast.parse("def f(x):\n    if x:\n        raise ValueError('x')\n"
                     "    raise ConfigError('y')\n"
                     "def g():\n    try:\n        pass\n    except OSError:\n        raise\n"
                     "    raise KeyboardInterrupt\n")
    raised = [node.exc for node in ast.walk(tree) if isinstance(node, ast.Raise) and node.exc]
    names = [(e.func if isinstance(e, ast.Call) else e).id for e in raised]
    assert sorted(n for n in names if n in BUILTIN_EXCEPTIONS) == ["KeyboardInterrupt", "ValueError"]
    assert any(path.parts[0] == "zoo" for path, _ in source_files())
    assert not any(path.parts[:2] in (("kerascon", "cli"), ("kerascon", "zoo"))
                   for path, _ in source_files())


def test_few_bare_builtin_raises_remain():
    found = bare_builtin_raises()
    listing = "\n".join(f"{path}:{line} {name}" for path, line, name in found)
    assert len(found) <= MAX_BARE_RAISES, (
        f"{len(found)} bare built-in raises (at most {MAX_BARE_RAISES}, for programming errors "
        f"only); raise a kerascon.errors.KerasconError subclass instead:\n{listing}")


def test_error_classes_are_the_built_ins_they_promise():
    declared = {value for value in vars(errors).values()
                if inspect.isclass(value) and issubclass(value, errors.KerasconError)
                and value is not errors.KerasconError}
    assert declared == set(PROMISED), "each error of kerascon.errors names its built-in kind here"
    for error_class, built_in in PROMISED.items():
        assert issubclass(error_class, built_in), error_class
        error = error_class("x must be > 0, got 0; set {0}", errors.Setting("x", 1))
        assert isinstance(error, errors.KerasconError) and isinstance(error, built_in)
        assert str(error) == "x must be > 0, got 0; set x=1"
        with pytest.raises(built_in, match="got 0; set x=1"):
            raise error
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is error_class and str(copy) == str(error)
    assert issubclass(errors.KerasconError, Exception)
    assert not issubclass(errors.KerasconError, (ValueError, TypeError, RuntimeError, OSError))


def test_every_error_class_of_the_package_is_a_kerascon_error():
    # By name, on the source: an exception class defined in kerascon, cli/ or zoo/ derives
    # from KerasconError (directly or through one of its subclasses).
    classes = {}
    for relative, tree in source_files():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                         for base in node.bases}
                classes[(str(relative), node.name)] = bases
    kerascon_errors, exceptions = {"KerasconError"}, set(BUILTIN_EXCEPTIONS)
    for _ in range(10):  # names reached through chains of subclasses
        for (_, name), bases in classes.items():
            if bases & kerascon_errors:
                kerascon_errors.add(name)
            if bases & exceptions:
                exceptions.add(name)
    outside = sorted(f"{path}: {name}" for (path, name), bases in classes.items()
                     if bases & exceptions and name not in kerascon_errors
                     and name != "KerasconError")
    assert not outside, f"error classes that are no KerasconError: {outside}"
    assert {"ConfigError", "CheckpointError", "DownloadError", "WeightsMismatchError"} <= kerascon_errors


@pytest.mark.parametrize("error", [
    errors.ConfigTypeError("encoder must be a Keras model or layer, got str; pass a keras.Model"),
    errors.DependencyError("keras-hub is not installed; pip install 'kerascon[text]'"),
    errors.StateError("compiled for another stage; call model.compile(optimizer=...) again"),
    errors.ConfigError("temperature must be > 0, got 0; set {0}", errors.Setting("temperature", 0.1)),
])
def test_cli_reports_kerascon_errors_as_one_expected_line(error):
    group = KerasconGroup(name="kerascon")

    @group.command()
    def fail():
        raise error

    result = CliRunner().invoke(group, ["fail"], obj={})
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"Error: {render_error(error)}"]  # the message itself, hints as flags
    assert one_line(error) == render_error(error)
    assert "unexpected" not in result.output and "Traceback" not in result.output


def test_a_bare_built_in_is_still_reported_as_unexpected():
    group = KerasconGroup(name="kerascon")

    @group.command()
    def fail():
        raise TypeError("unsupported operand")

    result = CliRunner().invoke(group, ["fail"], obj={})
    assert result.exit_code == 1
    assert "Error: TypeError: unsupported operand (unexpected; rerun with --debug" in result.output


def test_kerascon_errors_leave_a_traced_tensorflow_function_unchanged():
    # Keras traces train steps with AutoGraph, which turns exceptions of classes it does not
    # know into its StagingError (no ValueError); KerasconErrors pass through as raised.
    def check(x):
        if x.shape.rank != 2:
            raise errors.DataError(f"features must be [batch, dim], got rank {x.shape.rank}; reshape them")
        return x

    @tf.function
    def step(x):
        return check(x) * 2.0

    with pytest.raises(ValueError) as info:
        step(tf.zeros([3]))
    assert type(info.value) is errors.DataError
    assert str(info.value) == "features must be [batch, dim], got rank 1; reshape them"
