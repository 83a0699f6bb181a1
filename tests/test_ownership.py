"""What kerascon may delete or replace (kerascon.ownership), on real folders and files.

No training here: the rules alone, on folders laid out as a user's (documents, data) and
as kerascon's (a marked run, a run written before markers, an export).
"""

import json
import subprocess
import sys
import zipfile

import pytest

from kerascon.cli.hints import render_error
from kerascon.ownership import (
    EXPORT_MARKER,
    RUN_MARKER,
    OwnershipError,
    is_export,
    is_legacy_run,
    is_run,
    mark_keras_export,
    protected_reason,
    require_export_destination,
    require_removable_run,
    write_export_marker,
    write_run_marker,
)


def tree(root):
    """Every file under ``root`` with its content: what must stay intact."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A working folder with documents, data, a marked run and a run written before markers."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("thesis\n")
    (tmp_path / "notes.md").write_text("notes\n")
    (tmp_path / "data" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "cat" / "0.png").write_bytes(b"png")
    write_run_marker(tmp_path / "runs" / "marked")
    (tmp_path / "runs" / "marked" / "model.keras").write_bytes(b"zip")
    legacy = tmp_path / "runs" / "legacy"
    (legacy / "stages" / "contrastive").mkdir(parents=True)
    (legacy / "stages" / "contrastive" / "config.yaml").write_text("stage: contrastive\n")
    (legacy / "model.keras").write_bytes(b"zip")
    (legacy / "metrics.json").write_text("{}")
    (legacy / ".model.keras.abc.tmp.keras").write_bytes(b"left by a killed writer")
    (tmp_path / "empty").mkdir()
    return tmp_path


def refusal(function, *args, **kwargs) -> str:
    with pytest.raises(OwnershipError) as caught:
        function(*args, **kwargs)
    line = render_error(caught.value)
    assert "\n" not in line
    return line


def test_a_run_is_recognised_by_its_marker_or_conservatively_without_one(place):
    marker = json.loads((place / "runs" / "marked" / RUN_MARKER).read_text())
    assert marker["format"] == 1 and marker["kind"] == "run"
    assert marker["kerascon_version"] and marker["created"].endswith("Z")
    assert is_run(place / "runs" / "marked") and not is_legacy_run(place / "runs" / "marked")
    assert is_run(place / "runs" / "legacy") and is_legacy_run(place / "runs" / "legacy")
    for folder in ("docs", "data", "empty", ".", "runs", "missing"):
        assert not is_run(place / folder), folder
    # One file of the user's among a run's files: no longer recognisable as kerascon's own.
    (place / "runs" / "legacy" / "thesis.txt").write_text("mine\n")
    assert not is_run(place / "runs" / "legacy")
    # A folder named like a run's parts, but with a class folder in stages/: not a run.
    odd = place / "odd"
    (odd / "stages" / "cats").mkdir(parents=True)
    assert not is_run(odd)


def test_overwrite_removes_only_runs(place):
    before = tree(place)
    assert refusal(require_removable_run, "docs") == (
        "docs is not a kerascon run (it holds thesis.txt, and no kerascon-run.json), so "
        "--overwrite does not delete it: choose another --output DIR, or delete that folder "
        "yourself")
    assert refusal(require_removable_run, ".") == (
        ". is the current directory, which kerascon never deletes to make room for a run; "
        "choose another --output DIR")
    assert "is a parent of the current directory" in refusal(require_removable_run, "..")
    assert "is a filesystem root" in refusal(require_removable_run, "/")
    assert "is a file, not a run directory" in refusal(require_removable_run, "notes.md")
    # The data being read, or a folder holding it, even when it looks like a run.
    (place / "runs" / "marked" / "images").mkdir()
    line = refusal(require_removable_run, "runs/marked", data_paths=["runs/marked/images"])
    assert "runs/marked is a folder that holds the data being read (runs/marked/images)" in line
    assert "the data being read (data)" in refusal(require_removable_run, "data",
                                                    data_paths=["data", "embedded:digits"])
    assert tree(place) == before
    for allowed in ("runs/marked", "runs/legacy", "empty", "missing"):
        require_removable_run(allowed, data_paths=["data", "embedded:digits"])


def test_the_home_directory_is_never_removed(place, monkeypatch):
    home = place / "runs" / "marked"  # even a run, when it is the home directory
    monkeypatch.setenv("HOME", str(home))
    assert protected_reason(home) == "the home directory"
    assert "is the home directory" in refusal(require_removable_run, home)


def test_export_destinations(place):
    before = tree(place)
    fix = "write the export to a new or empty folder"
    assert refusal(require_export_destination, "docs") == (
        "docs is not empty and is not an export kerascon wrote (it holds thesis.txt, and no "
        f"kerascon-export.json); {fix}, or delete that folder yourself")
    assert refusal(require_export_destination, "notes.md") == (
        f"notes.md is a file, and a SavedModel (a folder) never replaces a file; {fix}")
    assert refusal(require_export_destination, "runs/marked") == (
        "runs/marked is a kerascon run, and an export never replaces a run or writes into one "
        f"(other than its own export): {fix}")
    assert f"is inside the kerascon run {place / 'runs' / 'legacy'}" in refusal(
        require_export_destination, "runs/legacy/stages")
    assert refusal(require_export_destination, "..") == (
        f".. is a parent of the current directory, which an export never replaces; {fix}")
    assert "is the current directory" in refusal(require_export_destination, ".")
    assert "is a folder, and a .keras export (a file) never replaces a folder" in refusal(
        require_export_destination, "docs", kind="keras")
    assert refusal(require_export_destination, "notes.md", kind="keras") == (
        "notes.md exists and is not a .keras export kerascon wrote; write the export to a new "
        ".keras path, or delete that file yourself")
    assert tree(place) == before
    # Allowed: new paths, empty folders, a run's own exports, earlier exports.
    for path in ("serving/1", "empty", "runs/marked/export", "runs/legacy/export"):
        require_export_destination(path)
    for path in ("model.keras", "runs/legacy/export.keras", "runs/marked/encoder/encoder.keras"):
        require_export_destination(path, kind="keras")
    (place / "serving").mkdir()
    (place / "serving" / "saved_model.pb").write_bytes(b"pb")
    assert "is not an export kerascon wrote" in refusal(require_export_destination, "serving")
    write_export_marker(place / "serving")
    assert is_export(place / "serving")
    require_export_destination("serving")


def test_a_keras_export_carries_its_marker_inside_the_archive(place):
    path = place / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    assert not is_export(path)
    assert "is not a .keras export kerascon wrote" in refusal(
        require_export_destination, path, kind="keras")
    mark_keras_export(path)
    assert is_export(path) and EXPORT_MARKER in zipfile.ZipFile(path).namelist()
    require_export_destination(path, kind="keras")


def test_the_rules_load_neither_keras_nor_tensorflow():
    code = ("import sys, kerascon.ownership; "
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"
