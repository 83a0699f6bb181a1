"""Docstring examples are code a reader can run: every name they use is defined.

An example (the ``>>>`` lines of a docstring) may use the names of its own module, Python's
builtins, and what it imports or assigns itself; anything else (a ``model`` or a dataset
that the reader cannot know) must be written out. Files a reader is expected to have
(``runs/digits``) are fine: this checks names, it does not run the examples.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import importlib
from pathlib import Path

import pytest
from package_layout import MODULES

_PARSER = doctest.DocTestParser()


def _docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=True)
            if text and ">>>" in text:
                yield getattr(node, "name", "<module>"), text


def _undefined(code: str, known: set) -> set:
    tree = ast.parse(code)
    defined = set(known)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            defined.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - defined


@pytest.mark.parametrize("module", sorted(MODULES))
def test_examples_use_only_defined_names(module):
    source = Path(MODULES[module]).read_text()
    if ">>>" not in source:
        return
    namespace = set(vars(importlib.import_module(module)))
    known = namespace | set(dir(builtins))
    problems = []
    for owner, text in _docstrings(ast.parse(source)):
        code = "\n".join(example.source for example in _PARSER.get_examples(text))
        try:
            missing = _undefined(code, known)
        except SyntaxError as error:
            problems.append(f"{owner}: example does not parse ({error.msg})")
            continue
        if missing:
            problems.append(f"{owner}: {', '.join(sorted(missing))}")
    assert not problems, f"{module}: undefined names in examples: " + "; ".join(problems)
