"""The package's layering (docs/ARCHITECTURE.md), checked on the source with the AST.

Every ``import`` and ``from ... import`` counts, at module level and inside functions, and
so do ``importlib.import_module("kerascon...")`` calls with a literal name: a module may
import only its own tier or lower ones, and no two modules may import each other, directly
or through a chain. Library code (tiers 1-3) must not speak the command line's words.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
from package_layout import MODULES, ROOT, tier


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> set:
    """The kerascon modules ``module`` imports (a package import counts as its __init__)."""
    path = MODULES[module]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            names = [f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target
                     for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        for name in names:
            while name and name not in MODULES and "." in name:
                name = name.rsplit(".", 1)[0]
            if name.startswith("kerascon") and name in MODULES and name != module:
                found.add(name)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_tier():
    assert {tier(m) for m in MODULES} == {1, 2, 3, 4}
    assert "kerascon.runs.training" in MODULES and tier("kerascon.runs.training") == 3
    assert tier("kerascon.zoo.loader") == 2 and tier("kerascon.cli.main") == 4
    assert tier("kerascon.model.supcon_model") == 1 and tier("kerascon.evaluation.knn") == 1


def test_imports_go_to_the_same_tier_or_lower():
    upward = sorted(f"{m} (tier {tier(m)}) imports {t} (tier {tier(t)})"
                    for m, targets in GRAPH.items() for t in targets if tier(t) > tier(m))
    assert not upward, "\n".join(upward)


def _cycles() -> list:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles():
    assert not _cycles()


def test_the_checker_sees_function_level_and_upward_imports(tmp_path):
    # The checker itself must be able to fail: a tier-1 function importing the CLI.
    source = "def f():\n    from kerascon.cli.main import main\n    return main\n"
    path = tmp_path / "probe.py"
    path.write_text(source)
    MODULES["kerascon.probe"] = path
    try:
        assert imports_of("kerascon.probe") == {"kerascon.cli.main"}
    finally:
        del MODULES["kerascon.probe"]


def _cli_options() -> set:
    """Every long option of the command line, read from its click commands."""
    import click

    from kerascon.cli.main import main

    options = set()

    def walk(command):
        for parameter in command.params:
            options.update(o for o in getattr(parameter, "opts", []) + list(
                getattr(parameter, "secondary_opts", [])) if o.startswith("--"))
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                walk(sub)

    walk(main)
    return options - {"--help", "--version"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if tier(m) < 4))
def test_library_speaks_no_command_line_words(module):
    text = MODULES[module].read_text()
    options = sorted(_cli_options(), key=len, reverse=True)
    flag = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, options)) + r")(?![\w-])")
    command = re.compile(r"\bkerascon (train|eval|freeze|export|zoo|report)\b")
    found = [match.group(0) for match in flag.finditer(text)]
    found += [match.group(0) for match in command.finditer(text)]
    assert not found, f"{module} mentions {sorted(set(found))}"


# ------------------------------------------------------------------------ the layout

# Prefixes (with the dot) of the parts of tier 1 that must stay apart.
LOSSES, MODEL, ENCODERS, DATA = "kerascon.losses.", "kerascon.model.", "kerascon.encoders.", "kerascon.data."
WHERE_THINGS_ARE = ROOT / "docs" / "ARCHITECTURE.md"


def _within(module: str, prefix: str) -> bool:
    return (module + ".").startswith(prefix)


def _reaching(graph: dict, lower: str, higher: str) -> list:
    """``"a imports b"`` for each module under ``lower`` reaching one under ``higher``."""
    found = []
    for module in sorted(m for m in graph if _within(m, lower)):
        seen, todo = set(), [module]
        while todo:
            for target in graph[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        found += [f"{module} imports {t}" for t in sorted(seen) if _within(t, higher)]
    return found


@pytest.mark.parametrize(("lower", "higher"), [(LOSSES, MODEL), (ENCODERS, DATA)])
def test_losses_never_import_the_model_nor_encoders_the_data(lower, higher):
    found = _reaching(GRAPH, lower, higher)
    assert not found, "\n".join(found)


def test_the_finer_rules_see_a_chain():
    graph = {"kerascon.losses.kernel": {"kerascon.backend"}, "kerascon.backend": {"kerascon.model.stages"},
             "kerascon.model.stages": set()}
    assert _reaching(graph, LOSSES, MODEL) == ["kerascon.losses.kernel imports kerascon.model.stages"]


def _table(text: str) -> dict:
    """The "Where things are" table: package -> the modules its row names."""
    table = {}
    for line in text[text.index("## Where things are"):].splitlines():
        row = re.match(r"\| `([\w.]+)` \|(.*)\|\s*$", line)
        if row:
            cell = row.group(2)
            while re.search(r"\([^()]*\)", cell):  # notes in parentheses name no module
                cell = re.sub(r"\([^()]*\)", "", cell)
            table[row.group(1)] = {m.rstrip("/") for m in re.findall(r"`([A-Za-z_]\w*/?)`", cell)}
    return table


def _unlisted(modules: dict, table: dict) -> list:
    """Modules missing from the table (a package needs a row), then names it lists in vain."""
    missing = []
    for module, path in sorted(modules.items()):
        package, _, name = module.rpartition(".")
        if Path(path).name == "__init__.py":
            missing += [] if module in table else [f"{module} (no row)"]
        elif name not in table.get(package, ()):
            missing.append(module)
    stale = sorted(f"{package}.{name} (listed, no such module)" for package, names in table.items()
                   for name in names if f"{package}.{name}" not in modules)
    return missing + stale


def test_architecture_md_names_every_module():
    problems = _unlisted(MODULES, _table(WHERE_THINGS_ARE.read_text()))
    assert not problems, "docs/ARCHITECTURE.md, Where things are:\n" + "\n".join(problems)


def test_the_table_check_sees_a_missing_module():
    text = "## Where things are\n| `kerascon` | `errors` (and `notes`) |\n"
    modules = {"kerascon": Path("kerascon/__init__.py"), "kerascon.errors": Path("kerascon/errors.py"),
               "kerascon.text": Path("kerascon/text.py"), "kerascon.data": Path("kerascon/data/__init__.py")}
    assert _unlisted(modules, _table(text)) == ["kerascon.data (no row)", "kerascon.text"]
    stale = "## Where things are\n| `kerascon` | `errors`, `gone` |\n"
    assert _unlisted({"kerascon": Path("kerascon/__init__.py"), "kerascon.errors": Path("errors.py")},
                     _table(stale)) == ["kerascon.gone (listed, no such module)"]


def test_at_most_twelve_modules_at_the_kerascon_root():
    root = sorted(path.name for path in (ROOT / "kerascon").glob("*.py"))
    assert len(root) <= 12, root


def _named_object(dotted: str):
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[end:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


def test_the_readme_import_paths_keep_working():
    readme = (ROOT / "README.md").read_text()
    paths = {f"{module}.{name.strip()}" for module, names in re.findall(
        r"^from (kerascon[\w.]*) import ([\w, ]+)$", readme, re.M) for name in names.split(",")}
    paths |= set(re.findall(r"`(kerascon(?:\.\w+)+)[`(]", readme))
    assert {"view_layers.ViewAugmentation", "model.SupConModel"} <= {p.split(".", 1)[1] for p in paths}
    broken = []
    for path in sorted(paths):
        try:
            _named_object(path)
        except (ImportError, AttributeError) as error:
            broken.append(f"{path}: {error}")
    assert not broken, "\n".join(broken)
