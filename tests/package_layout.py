"""The package's modules and their tiers (docs/ARCHITECTURE.md), read from the source tree."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where each installed package's files live in the repository.
PACKAGE_DIRS = {"kerascon": ROOT / "kerascon", "kerascon.cli": ROOT / "cli",
                "kerascon.zoo": ROOT / "zoo"}
# Tier of a module: the longest matching prefix wins; everything else in kerascon is tier 1.
TIERS = {"kerascon": 1, "kerascon.zoo": 2, "kerascon.runs": 3, "kerascon.reporting": 3,
         "kerascon.cli": 4}


def _modules() -> dict:
    modules = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder)
            if package == "kerascon" and relative.parts[0] in ("cli", "zoo"):
                continue  # links to the top-level cli/ and zoo/, listed under their own names
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def tier(module: str) -> int:
    prefixes = [p for p in TIERS if module == p or module.startswith(p + ".")]
    return TIERS[max(prefixes, key=len)]
