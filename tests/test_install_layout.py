"""The repository installs as one package, and its source tree imports the same way.

`cli/` and `zoo/` sit at the top of the repository but install as `kerascon.cli` and
`kerascon.zoo`; with a regular (not editable) install, Python run from the repository root
imports the source tree's `kerascon/`, which must then find them too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_ALL = ("import kerascon.zoo, kerascon.cli.main, kerascon.runs.config; "
              "print(kerascon.zoo.__file__); print(kerascon.cli.main.__file__)")


def _run(args, cwd, pythonpath=None):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_source_tree_imports_cli_and_zoo_from_the_repository_root():
    result = _run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    zoo_file, cli_file = result.stdout.split()
    assert Path(zoo_file).resolve() == (ROOT / "zoo" / "__init__.py").resolve()
    assert Path(cli_file).resolve() == (ROOT / "cli" / "main.py").resolve()


def test_regular_install_has_one_kerascon_package(tmp_path):
    wheels = tmp_path / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(wheels), str(ROOT)], cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = wheels.glob("kerascon-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(
        (".dist-info", ".data"))}
    assert top_level == {"kerascon"}, top_level
    for required in ("kerascon/zoo/__init__.py", "kerascon/cli/main.py",
                     "kerascon/runs/training.py", "kerascon/data/digits.npz"):
        assert required in names, required
    target = tmp_path / "site"
    installed = _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                      str(target), str(wheel)], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    # Run from elsewhere: the installed copy must be the one imported.
    result = _run([sys.executable, "-c", IMPORT_ALL], cwd=tmp_path, pythonpath=target)
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(Path(p).resolve().is_relative_to(target.resolve()) for p in result.stdout.split())
