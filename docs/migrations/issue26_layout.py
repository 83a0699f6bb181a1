# Pending migration (issue 26, items 1 and 7): run from the repository root with
#   python docs/migrations/issue26_layout.py --ruff "$(which ruff)"
# then run the whole test suite; it moves tier 1 into packages. Delete this file once applied.
"""Move kerascon's tier-1 modules into packages (issue 26, items 1 and 7). Idempotent.

Run from the repository root::

    python tools_move_layout.py [--ruff PATH]

What it does, each step skipped where it is done already (a second run changes nothing):

1. ``git mv`` the modules at the root of ``kerascon/`` into packages (:data:`MOVES`):
   ``kerascon.losses`` (supcon, kernel, blockwise, queue), ``kerascon.layers`` (core, views),
   ``kerascon.model`` (supcon_model, stages, inputs, key_network, fine_tuning, saving),
   ``kerascon.backbone_tables`` (the Keras-free backbone tables) and ``kerascon._utils``.
   ``kerascon/resnet_table.py`` moves too when it exists.
2. Write the new packages' ``__init__.py`` (lazy re-exports, so ``kerascon.model.stages``
   and the tables stay importable without TensorFlow) and ``kerascon/view_layers.py``, a
   thin re-export for the import path the README documents.
3. Rewrite the dotted module paths and ``kerascon/<module>.py`` file paths in kerascon/,
   cli/, zoo/, tests/, benchmarks/, docs/, README.md and BENCHMARKS.md. Library code imports
   the defining module (``from kerascon.losses.supcon import supcon_loss``); tests, examples
   and the README keep a package's public path (``from kerascon.losses import supcon_loss``)
   when the package re-exports every name imported.
4. Fix the places that name modules otherwise: the registering modules of
   ``kerascon.model.saving``, ``kerascon``'s submodule list, ``pyproject.toml``'s packages,
   docs/ARCHITECTURE.md (tier text, rules, the "Where things are" table, rebuilt from the
   tree) and the layout tests of tests/test_architecture.py.
5. ``ruff check --fix --select I`` (import order), then ``ruff check`` to show what is left.

Keras' registered names (``package="kerascon"``) do not change, so saved ``.keras`` files load.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

# old module -> new module (dotted).
MOVES = {
    "kerascon.losses": "kerascon.losses.supcon",
    "kerascon.loss_kernel": "kerascon.losses.kernel",
    "kerascon.loss_blocks": "kerascon.losses.blockwise",
    "kerascon.queue_loss": "kerascon.losses.queue",
    "kerascon.layers": "kerascon.layers.core",
    "kerascon.view_layers": "kerascon.layers.views",
    "kerascon.model": "kerascon.model.supcon_model",
    "kerascon.model_inputs": "kerascon.model.inputs",
    "kerascon.momentum": "kerascon.model.key_network",
    "kerascon.fine_tuning": "kerascon.model.fine_tuning",
    "kerascon.stages": "kerascon.model.stages",
    "kerascon.saving": "kerascon.model.saving",
    "kerascon.keras_application_table": "kerascon.backbone_tables.keras_applications",
    "kerascon.hub_presets": "kerascon.backbone_tables.hub_presets",
    "kerascon.resnet_table": "kerascon.backbone_tables.resnet",
    "kerascon.atomic_files": "kerascon._utils.atomic_files",
    "kerascon.natural_order": "kerascon._utils.natural_order",
    "kerascon.lazy_exports": "kerascon._utils.lazy_exports",
    "kerascon.home": "kerascon._utils.home",
    "kerascon.image_ops": "kerascon._utils.image_ops",
}

# Modules that become a package of the same name: what the package serves (lazily).
EXPORTS = {
    "kerascon.losses": {
        "AUTO_BLOCK_ELEMENTS": "kerascon.losses.blockwise",
        "SimCLRLoss": "kerascon.losses.supcon",
        "SupConLoss": "kerascon.losses.supcon",
        "replica_keys": "kerascon.losses.supcon",
        "replica_share": "kerascon.losses.supcon",
        "simclr_loss": "kerascon.losses.supcon",
        "supcon_loss": "kerascon.losses.supcon",
    },
    "kerascon.layers": {
        "IMAGENET_MEAN": "kerascon.layers.core",
        "IMAGENET_STD": "kerascon.layers.core",
        "ImagePreprocessing": "kerascon.layers.core",
        "L2Normalize": "kerascon.layers.core",
        "ProjectionHead": "kerascon.layers.core",
        "RepeatViews": "kerascon.layers.views",
        "ViewAugmentation": "kerascon.layers.views",
        "synchronize_batch_norm": "kerascon.layers.core",
    },
    "kerascon.model": {
        "MomentumQueue": "kerascon.model.key_network",
        "STAGES": "kerascon.model.stages",
        "STAGE_NAMES": "kerascon.model.stages",
        "Stage": "kerascon.model.stages",
        "SupConModel": "kerascon.model.supcon_model",
        "get_stage": "kerascon.model.stages",
        "load_model": "kerascon.model.saving",
    },
}
AMBIGUOUS = set(EXPORTS)
# The submodules of each package (after the move), never rewritten again.
SUBMODULES = {}
for _new in MOVES.values():
    _package, _leaf = _new.rsplit(".", 1)
    SUBMODULES.setdefault(_package, set()).add(_leaf)

# Old paths the README documents that keep working through a thin module.
SHIMS = {"kerascon.view_layers"}
SHIM_MARKER = "thin re-export for the import path the README documents"

# Where text is rewritten, and how: library code imports the defining module; tests,
# benchmarks and user documents keep a package's public path.
SCAN = ("kerascon", "cli", "zoo", "tests", "benchmarks", "docs", "README.md", "BENCHMARKS.md")
TEXT_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".txt", ".rst", ".sh")

PACKAGE_DOCS = {
    "kerascon.losses": '''"""Contrastive losses: SupCon and SimCLR's NT-Xent, dense or in blocks, and against a queue.

:mod:`kerascon.losses.supcon` holds the losses (:func:`supcon_loss`, :class:`SupConLoss`,
:class:`SimCLRLoss`) and the replica set-up, :mod:`kerascon.losses.kernel` the per-anchor maths
every loss shares, :mod:`kerascon.losses.blockwise` the computation one block of anchor rows at a
time and :mod:`kerascon.losses.queue` the loss against momentum keys and a queue. The names
below load on first use.

Example:
    >>> import numpy as np
    >>> from kerascon.losses import SupConLoss, supcon_loss
    >>> loss = supcon_loss(np.random.normal(size=(8, 2, 16)).astype("float32"), np.arange(8) % 4)
    >>> keras_loss = SupConLoss(temperature=0.1)
"""
''',
    "kerascon.layers": '''"""Keras layers of a SupCon model, loaded on first use.

:mod:`kerascon.layers.core`: projection head, L2 normalisation, image preprocessing and
synchronised batch norm; :mod:`kerascon.layers.views`: the layers that make views on the device.

Example:
    >>> from kerascon.layers import ProjectionHead, ViewAugmentation
    >>> head = ProjectionHead(hidden_dim=512, output_dim=128)
    >>> views = ViewAugmentation(views=2, seed=0)
"""
''',
    "kerascon.model": '''"""SupConModel and its parts, loaded on first use (``kerascon.model.stages`` needs no Keras).

:mod:`kerascon.model.supcon_model` (:class:`SupConModel`), :mod:`kerascon.model.stages` (the
stage table), :mod:`kerascon.model.inputs` (encoder input structures),
:mod:`kerascon.model.key_network` (the momentum key encoder and its queue),
:mod:`kerascon.model.fine_tuning` and :mod:`kerascon.model.saving` (``load_model`` and the
registration of kerascon's classes with Keras).

Example:
    >>> from kerascon.model import STAGES, SupConModel
    >>> model = SupConModel.from_architecture("resnet18", num_classes=10)
    >>> sorted(STAGES)[:2]
    ['ce', 'contrastive']
"""
''',
    "kerascon.backbone_tables": '''"""Backbones kerascon registers, as plain data: no Keras, no TensorFlow.

The encoders build and register their architectures from these tables, and the listing of
the zoo (:mod:`kerascon.zoo.catalogue`) reads them without loading Keras.
"""
''',
    "kerascon._utils": '''"""Small helpers kerascon's modules share (files, names, folders, images); not public API."""
''',
}
EXPORTING_PACKAGE_BODY = '''
from kerascon._utils.lazy_exports import lazy_exports

_EXPORTS = {{
{entries}
}}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
'''

SHIM_TEXT = f'''"""``kerascon.view_layers``: a {SHIM_MARKER}.

The layers live in :mod:`kerascon.layers.views` (also served by :mod:`kerascon.layers`).

Example:
    >>> from kerascon.view_layers import ViewAugmentation
    >>> augment = ViewAugmentation(views=2, seed=0)
"""

from kerascon.layers.views import RepeatViews, ViewAugmentation

__all__ = ["RepeatViews", "ViewAugmentation"]
'''


def run(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def path_of(module: str, package: bool = False) -> Path:
    parts = module.split(".")
    return Path(*parts, "__init__.py") if package else Path(*parts[:-1], parts[-1] + ".py")


# ----------------------------------------------------------------------------- 1. moves

def move_modules() -> list:
    moved = []
    for old, new in MOVES.items():
        source, target = path_of(old), path_of(new)
        if not source.exists():
            continue
        if old in SHIMS and SHIM_MARKER in source.read_text():
            continue
        if target.exists():
            sys.exit(f"both {source} and {target} exist; merge them by hand, then run again")
        target.parent.mkdir(parents=True, exist_ok=True)
        run("git", "mv", str(source), str(target))
        moved.append(f"{source} -> {target}")
    return moved


# ----------------------------------------------------------------------------- 2. new files

def package_init_text(package: str) -> str:
    text = PACKAGE_DOCS[package]
    if package in EXPORTS:
        entries = "\n".join(f'    "{name}": "{module}",' for name, module in sorted(EXPORTS[package].items()))
        text += EXPORTING_PACKAGE_BODY.format(entries=entries)
    return text


def write_new_files() -> list:
    written = []
    files = {path_of(package, package=True): package_init_text(package) for package in PACKAGE_DOCS}
    for shim in SHIMS:
        files[path_of(shim)] = SHIM_TEXT
    for path, text in files.items():
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        run("git", "add", str(path))
        written.append(str(path))
    return written


# ----------------------------------------------------------------------------- 3. rewriting

def _short(module: str) -> str:
    return module[len("kerascon."):]


_OLD_NAMES = sorted((_short(m) for m in MOVES), key=len, reverse=True)
DOTTED = re.compile(r"(?<![\w.])kerascon\.(" + "|".join(_OLD_NAMES) + r")(?!\w)")
FILE_PATH = re.compile(r"(?<![\w./])kerascon/(" + "|".join(_OLD_NAMES) + r")\.py(?!\w)")
FROM_KERASCON = re.compile(r"^([ \t]*(?:>>> |\.\.\. )?)from kerascon import (\([^)]*\)|[^\n]*)", re.M)
IMPORTED_NAMES = re.compile(r"\s+import\s+(\([^)]*\)|[^\n]*)")


def _names(clause: str) -> list:
    """``[(name, asname)]`` of an import's names clause (``a, b as c`` or ``(a,\\n b)``)."""
    clause = re.sub(r"#[^\n]*", "", clause).strip().strip("()").replace("\\\n", " ")
    pairs = []
    for part in clause.split(","):
        words = part.split()
        if words:
            pairs.append((words[0], words[2] if len(words) == 3 and words[1] == "as" else None))
    return pairs


def _is_doctest(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(">>>") or stripped.startswith("... ") or stripped == "..."


def _line_at(text: str, index: int) -> tuple:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return start, text[start:] if end < 0 else text[start:end]


def _rewrite_from_kerascon(text: str, library: bool) -> str:
    """``from kerascon import loss_kernel`` -> ``from kerascon.losses import kernel as loss_kernel``."""

    def replace(match):
        prefix, clause = match.group(1), match.group(2)
        doctest = bool(prefix.strip())
        kept, moved = [], []
        for name, asname in _names(clause):
            old = f"kerascon.{name}"
            if old not in MOVES or (old in AMBIGUOUS and (doctest or not library)):
                kept.append(name if asname is None else f"{name} as {asname}")
                continue
            parent, leaf = MOVES[old].rsplit(".", 1)
            local = asname or name
            moved.append(f"from {parent} import {leaf}" + ("" if local == leaf else f" as {local}"))
        if not moved:
            return match.group(0)
        lines = ([f"from kerascon import {', '.join(kept)}"] if kept else []) + moved
        comment = re.search(r"#[^\n]*$", clause) if "(" not in clause else None
        if comment:
            lines[0] += "  " + comment.group(0)
        return ("\n" + prefix).join([prefix + lines[0], *lines[1:]])

    return FROM_KERASCON.sub(replace, text)


def rewrite_text(text: str, library: bool, user_document: bool) -> str:
    """Rewrite old module paths in ``text``.

    ``library``: a .py file of kerascon/, cli/ or zoo/ (imports go to the defining module);
    ``user_document``: README.md and friends (paths the README documents stay as they are).
    """
    text = _rewrite_from_kerascon(text, library)

    def replace(match):
        old = "kerascon." + match.group(1)
        new = MOVES[old]
        after = text[match.end():]
        line_start, line = _line_at(text, match.start())
        before = text[line_start:match.start()]
        doctest = _is_doctest(line)
        public = not library or doctest
        if old in SHIMS and user_document:
            return match.group(0)
        if old not in AMBIGUOUS:
            return new
        attribute = re.match(r"\.(\w+)", after)
        if attribute and attribute.group(1) in SUBMODULES[old]:
            return match.group(0)  # already a path of the new layout
        exported = set(EXPORTS[old]) | SUBMODULES[old]
        if re.search(r"(^|\s)from\s+$", before):  # from kerascon.losses import ...
            imported = IMPORTED_NAMES.match(after)
            names = {name for name, _ in _names(imported.group(1))} if imported else set()
            return match.group(0) if public and names and names <= exported else new
        if attribute:  # kerascon.losses.supcon_loss: the package serves its exports
            return match.group(0) if attribute.group(1) in exported else new
        if re.search(r"(^|[\s\"'])import\s+$", before) and not doctest:
            return new  # import kerascon.losses: the module it meant
        quote = text[match.start() - 1:match.start()]
        if quote in ("'", '"') and after[:1] == quote and not user_document:
            return new  # "kerascon.model" as a module name (lazy export tables, tiers)
        return match.group(0)  # the package in prose

    text = DOTTED.sub(replace, text)
    return FILE_PATH.sub(lambda m: str(path_of(MOVES["kerascon." + m.group(1)])), text)


def files_to_scan(skip: set) -> list:
    listed = run("git", "ls-files", "--", *SCAN).stdout.split("\n")
    paths = []
    for name in listed:
        path = Path(name)
        if not name or path.is_symlink() or not path.is_file() or name in skip:
            continue
        if path.suffix in TEXT_SUFFIXES:
            paths.append(path)
    return paths


def rewrite_files(skip: set) -> list:
    changed = []
    for path in files_to_scan(skip):
        text = path.read_text()
        library = path.suffix == ".py" and path.parts[0] in ("kerascon", "cli", "zoo")
        user_document = path.suffix != ".py" and path.parts[0] != "docs"
        new = rewrite_text(text, library, user_document)
        if new != text:
            path.write_text(new)
            changed.append(str(path))
    return changed


# ----------------------------------------------------------------------------- 4. special places

def fix_registering_modules() -> bool:
    """``kerascon.model.saving._REGISTERING_MODULES`` names modules relative to ``kerascon``."""
    path = path_of(MOVES["kerascon.saving"])
    text = path.read_text()
    match = re.search(r"_REGISTERING_MODULES = \(([^)]*)\)", text)
    if not match:
        sys.exit(f"{path}: no _REGISTERING_MODULES tuple")

    def one(entry):
        old = "kerascon." + entry.group(1)
        return f'"{_short(MOVES[old])}"' if old in MOVES else entry.group(0)

    entries = re.sub(r'"([\w.]+)"', one, match.group(1)).replace("\n", " ").split()
    body = ("\n" + " " * len("_REGISTERING_MODULES = (")).join(_wrap(entries, 72))
    new = text[:match.start(1)] + body + text[match.end(1):]
    if new != text:
        path.write_text(new)
    return new != text


def fix_package_submodules() -> bool:
    """``kerascon._SUBMODULES``: only the submodules that still exist at the root."""
    path = Path("kerascon/__init__.py")
    text = path.read_text()
    match = re.search(r"_SUBMODULES = \(([^)]*)\)", text)
    names = re.findall(r'"(\w+)"', match.group(1))
    kept = [n for n in names if Path("kerascon", n + ".py").exists() or Path("kerascon", n).is_dir()]
    new = text
    if kept != names:
        words = [f'"{n}",' for n in kept]
        words[-1] = words[-1].rstrip(",")
        body = ("\n" + " " * len("_SUBMODULES = (")).join(_wrap(words, 80))
        new = text[:match.start(1)] + body + text[match.end(1):]
    new = new.replace("``model``, ``stages``,", "``model`` (stages, saving),")
    if new != text:
        path.write_text(new)
    return new != text


def fix_pyproject() -> bool:
    path = Path("pyproject.toml")
    text = path.read_text()
    match = re.search(r"^packages = \[\n(.*?)^\]", text, re.M | re.S)
    listed = re.findall(r'"([\w.]+)"', match.group(1))
    wanted = set(listed) | {p for p in PACKAGE_DOCS if path_of(p, package=True).exists()}
    front = sorted(p for p in wanted if not p.startswith(("kerascon.cli", "kerascon.zoo")))
    back = [p for p in listed if p.startswith(("kerascon.cli", "kerascon.zoo"))]
    body = "".join(f'  "{p}",\n' for p in front + back)
    new = text[:match.start(1)] + body + text[match.end(1):]
    if new != text:
        path.write_text(new)
    return new != text


# docs/ARCHITECTURE.md ----------------------------------------------------------------------

TIER_1_INDENT = " " * 67
TIER_1 = ("tier 1  kerascon (everything else)          may import tier 1      ",
          "kerascon.losses, kerascon.layers, kerascon.model (SupConModel, stages, key network, saving), "
          "kerascon.backend, kerascon.encoders and kerascon.backbone_tables (architectures and their "
          "tables), kerascon.data, kerascon.augment, kerascon.evaluation (metrics), kerascon._utils; "
          "at the root: {root}")


def _wrap(words: list, width: int) -> list:
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [line]

FINER_RULES = """\
Inside tier 1, the losses (`kerascon.losses`) never import the model (`kerascon.model`) and the
encoders (`kerascon.encoders`) never import the data pipeline (`kerascon.data`), not even
through another module; `kerascon/` keeps at most 12 modules at its root (its parts live in
packages); and the table at the end of this page names every module. `tests/test_architecture.py`
checks these too."""

# Rows of the "Where things are" table this script writes: package -> [(modules, note)];
# a note (or None) follows the modules it describes.
ROWS = {
    "kerascon": [
        (("errors",), "one-line errors with structured fixes"),
        (("choices",), "the names a user chooses from"),
        (("registry",), "the one registry type"),
        (("optimizers",), None), (("distribute",), None), (("export",), None),
        (("text",), "keras-hub text encoders"),
        (("ownership",), "what kerascon may delete or replace; no Keras"),
        (("view_layers",), "the README's import path of `kerascon.layers.views`"),
    ],
    "kerascon.losses": [
        (("supcon",), "`supcon_loss`, `SupConLoss`, `SimCLRLoss`, the replica set-up"),
        (("kernel",), "the per-anchor maths every loss shares"),
        (("blockwise",), "one block of anchor rows at a time; the dense-or-blocks policy"),
        (("queue",), "against momentum keys and a queue"),
    ],
    "kerascon.layers": [
        (("core",), "projection head, L2 normalisation, image preprocessing, synchronised batch norm"),
        (("views",), "views made on the device"),
    ],
    "kerascon.model": [
        (("supcon_model",), "`SupConModel`"), (("stages",), "the stage table; no Keras"),
        (("inputs",), "encoder input structures"), (("key_network",), "momentum key encoder and queue"),
        (("fine_tuning",), None),
        (("saving",), "`load_model`, and the registration of kerascon's classes when Keras loads"),
    ],
    "kerascon.backend": [(("replicas",), "replica context"),
                         (("tensorflow_steps", "jax_steps"), "each backend's train steps")],
    "kerascon.backbone_tables": [
        (("keras_applications", "hub_presets", "resnet"),
         "backbones as data; no Keras"),
    ],
    "kerascon.evaluation.corruptions": [
        (("dispatch",), "corruptions by name"),
        (("noise", "blur", "weather", "digital"), "the CIFAR-10-C families"), (("_common",), None)],
    "kerascon._utils": [
        (("atomic_files",), None), (("lazy_exports",), "names loaded on first use"),
        (("natural_order",), None), (("home",), "`$KERASCON_HOME`"), (("image_ops",), None),
    ],
}
# Where a row this script adds goes: after the row of this package.
ROW_AFTER = {"kerascon.losses": "kerascon", "kerascon.layers": "kerascon.losses",
             "kerascon.model": "kerascon.layers", "kerascon.backend": "kerascon.model",
             "kerascon.backbone_tables": "kerascon.encoders",
             "kerascon.evaluation.corruptions": "kerascon.evaluation",
             "kerascon._utils": "kerascon.evaluation.corruptions"}
PACKAGE_FOLDERS = {"kerascon": Path("kerascon"), "kerascon.cli": Path("cli"), "kerascon.zoo": Path("zoo")}


def packages_on_disk() -> dict:
    """package -> its modules (not __init__) and subpackages (``name/``), from the tree."""
    found = {}
    for package, folder in PACKAGE_FOLDERS.items():
        for init in sorted(folder.rglob("__init__.py")):
            relative = init.parent.relative_to(folder)
            if package == "kerascon" and relative.parts[:1] in (("cli",), ("zoo",)):
                continue
            name = ".".join([package, *relative.parts])
            found[name] = sorted(p.stem for p in init.parent.glob("*.py") if p.stem != "__init__")
    return found


def _row_modules(cell: str) -> list:
    while re.search(r"\([^()]*\)", cell):
        cell = re.sub(r"\([^()]*\)", "", cell)
    return [name.rstrip("/") for name in re.findall(r"`([A-Za-z_]\w*/?)`", cell)]


def _written_row(package: str, present: list) -> str:
    parts = []
    for modules, note in ROWS[package]:
        names = [f"`{m}`" for m in modules if m in present]
        if names:
            joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            parts.append(joined + (f" ({note})" if note else ""))
    return f"| `{package}` | {', '.join(parts)} |"


def rebuild_table(text: str) -> str:
    head = text.index("## Where things are")
    lines = text[head:].split("\n")
    rows = [i for i, line in enumerate(lines) if line.startswith("| `")]
    table_end = rows[-1] + 1
    order, cells = [], {}
    for i in rows:
        package = re.match(r"\| `([\w.]+)` \|", lines[i]).group(1)
        order.append(package)
        cells[package] = lines[i]
    on_disk = packages_on_disk()
    for package in ROWS:
        if package not in on_disk:
            cells.pop(package, None)
            if package in order:
                order.remove(package)
            continue
        cells[package] = _written_row(package, on_disk[package])
        if package not in order:
            anchor = ROW_AFTER.get(package)
            order.insert(order.index(anchor) + 1 if anchor in order else len(order), package)
    for package in on_disk:  # a package the table does not know yet: a row of its own
        if package not in order:
            order.append(package)
            cells[package] = f"| `{package}` |  |"
    for package in order:
        present = on_disk.get(package, [])
        listed = _row_modules(cells[package].split("|")[2])
        missing = [m for m in present if m not in listed]
        if missing:
            row = cells[package].rstrip().rstrip("|").rstrip()
            joiner = ", " if row.split("|")[2].strip() else " "
            cells[package] = row + joiner + ", ".join(f"`{m}`" for m in missing) + " |"
    table = [cells[p] for p in order]
    lines[rows[0]:table_end] = table
    return text[:head] + "\n".join(lines)


def fix_architecture_md() -> bool:
    path = Path("docs/ARCHITECTURE.md")
    text = path.read_text()
    shims = {_short(s) for s in SHIMS}
    root = sorted(p.stem for p in Path("kerascon").glob("*.py") if p.stem not in shims | {"__init__"})
    lines = _wrap(TIER_1[1].format(root=", ".join(root)).split(" "), 66)
    tier_1 = TIER_1[0] + ("\n" + TIER_1_INDENT).join(lines)
    new = re.sub(r"^tier 1 .*?(?=^```)", tier_1 + "\n", text, count=1, flags=re.M | re.S)
    if "never import the model" not in new:
        anchor = ("checks both on the source with the AST, and checks that no\n"
                  "module below tier 4 mentions a command-line flag or command.\n")
        if anchor not in new:
            sys.exit(f"{path}: cannot find where the finer tier-1 rules go")
        new = new.replace(anchor, anchor + "\n" + FINER_RULES + "\n")
    new = new.replace("`kerascon.zoo` and `kerascon.evaluation` load their names on first use",
                      "`kerascon.zoo`, `kerascon.evaluation`, `kerascon.losses`, `kerascon.layers` and\n"
                      "  `kerascon.model` load their names on first use")
    new = rebuild_table(new)
    if new != text:
        path.write_text(new)
    return new != text


# tests/test_architecture.py ------------------------------------------------------------------

LAYOUT_TESTS = '''

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
    assert not found, "\\n".join(found)


def test_the_finer_rules_see_a_chain():
    graph = {"kerascon.losses.kernel": {"kerascon.backend"}, "kerascon.backend": {"kerascon.model.stages"},
             "kerascon.model.stages": set()}
    assert _reaching(graph, LOSSES, MODEL) == ["kerascon.losses.kernel imports kerascon.model.stages"]


def _table(text: str) -> dict:
    """The "Where things are" table: package -> the modules its row names."""
    table = {}
    for line in text[text.index("## Where things are"):].splitlines():
        row = re.match(r"\\| `([\\w.]+)` \\|(.*)\\|\\s*$", line)
        if row:
            cell = row.group(2)
            while re.search(r"\\([^()]*\\)", cell):  # notes in parentheses name no module
                cell = re.sub(r"\\([^()]*\\)", "", cell)
            table[row.group(1)] = {m.rstrip("/") for m in re.findall(r"`([A-Za-z_]\\w*/?)`", cell)}
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
    assert not problems, "docs/ARCHITECTURE.md, Where things are:\\n" + "\\n".join(problems)


def test_the_table_check_sees_a_missing_module():
    text = "## Where things are\\n| `kerascon` | `errors` (and `notes`) |\\n"
    modules = {"kerascon": Path("kerascon/__init__.py"), "kerascon.errors": Path("kerascon/errors.py"),
               "kerascon.text": Path("kerascon/text.py"), "kerascon.data": Path("kerascon/data/__init__.py")}
    assert _unlisted(modules, _table(text)) == ["kerascon.data (no row)", "kerascon.text"]
    stale = "## Where things are\\n| `kerascon` | `errors`, `gone` |\\n"
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
        r"^from (kerascon[\\w.]*) import ([\\w, ]+)$", readme, re.M) for name in names.split(",")}
    paths |= set(re.findall(r"`(kerascon(?:\\.\\w+)+)[`(]", readme))
    assert {"view_layers.ViewAugmentation", "model.SupConModel"} <= {p.split(".", 1)[1] for p in paths}
    broken = []
    for path in sorted(paths):
        try:
            _named_object(path)
        except (ImportError, AttributeError) as error:
            broken.append(f"{path}: {error}")
    assert not broken, "\\n".join(broken)
'''


def add_layout_tests() -> bool:
    path = Path("tests/test_architecture.py")
    text = path.read_text()
    if "def test_architecture_md_names_every_module" in text:
        return False
    text = text.rstrip("\n") + "\n" + LAYOUT_TESTS
    text = text.replace("from package_layout import MODULES, tier", "from package_layout import MODULES, ROOT, tier")
    if "\nimport importlib\n" not in text:
        text = text.replace("\nimport ast\n", "\nimport ast\nimport importlib\n")
    path.write_text(text)
    return True


# ----------------------------------------------------------------------------- 5. ruff

def ruff(ruff_path: str) -> int:
    command = [ruff_path] if ruff_path else (
        [shutil.which("ruff")] if shutil.which("ruff") else [sys.executable, "-m", "ruff"])
    subprocess.run([*command, "check", "--fix", "--select", "I", "--quiet", "."], check=False)
    return subprocess.run([*command, "check", "."], check=False).returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ruff", default=None, help="the ruff executable (default: ruff on PATH)")
    args = parser.parse_args(argv)
    if not Path("kerascon/__init__.py").is_file() or not Path("docs/ARCHITECTURE.md").is_file():
        sys.exit("run this from the root of the kerascon repository")
    moved = move_modules()
    written = write_new_files()
    skip = {str(path_of(p, package=True)) for p in PACKAGE_DOCS} | {str(path_of(s)) for s in SHIMS}
    changed = rewrite_files(skip)
    special = [name for name, done in (
        ("registering modules", fix_registering_modules()),
        ("kerascon._SUBMODULES", fix_package_submodules()),
        ("pyproject.toml packages", fix_pyproject()),
        ("docs/ARCHITECTURE.md", fix_architecture_md()),
        ("tests/test_architecture.py layout tests", add_layout_tests()),
    ) if done]
    print(f"moved {len(moved)} modules:", *moved, sep="\n  ")
    print(f"wrote {len(written)} files:", *written, sep="\n  ")
    print(f"rewrote paths in {len(changed)} files")
    print("fixed:", ", ".join(special) or "nothing")
    status = ruff(args.ruff)
    if status:
        print("ruff found problems the script cannot fix (see above); fix them by hand")
    return status


if __name__ == "__main__":
    sys.exit(main())
