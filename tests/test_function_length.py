"""Short functions: no function or method in kerascon/, cli/ or zoo/ has a body over 80 lines.

A body is counted from its first statement after the docstring to its last line, so
documentation never counts against a function, and nested functions count in their own
right as well as in the function around them. A longer function is split into named steps.
"""

from __future__ import annotations

import ast
from pathlib import Path

from package_layout import MODULES, ROOT

MAX_BODY_LINES = 80


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the function's last line."""
    body = function.body
    if (len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        body = body[1:]
    return function.end_lineno - body[0].lineno + 1


def function_lengths(source: str) -> dict:
    """``qualified name -> body lines`` of every function in ``source``."""
    lengths = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths[f"{prefix}{child.name}:{child.lineno}"] = body_lines(child)
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return lengths


def test_the_counter_skips_the_docstring_and_sees_nested_functions():
    source = ('def outer():\n    """Doc.\n\n    More.\n    """\n    x = 1\n'
              '    def inner():\n        return x\n    return inner\n'
              'class A:\n    def method(self):\n        pass\n')
    assert function_lengths(source) == {"outer:1": 4, "outer.inner:7": 1, "A.method:11": 1}


def test_no_function_body_is_longer_than_80_lines():
    long = []
    for module, path in sorted(MODULES.items()):
        for name, lines in function_lengths(Path(path).read_text()).items():
            if lines > MAX_BODY_LINES:
                long.append(f"{Path(path).relative_to(ROOT)}: {name} has {lines} lines")
    assert not long, "split these functions into named steps:\n" + "\n".join(long)
