"""What kerascon may delete or replace: its own runs and exports, nothing else.

A run directory carries a marker file, ``kerascon-run.json``, written when the run is
created and before anything else goes into it; an export carries ``kerascon-export.json``
(inside the SavedModel folder, or as an entry of the ``.keras`` zip archive). Replacing a
run (``overwrite=True``) removes only a directory that holds the marker, or a run written
before markers existed that holds nothing but kerascon's own files; an export replaces
only an earlier export (or goes into a new or empty folder). Neither ever touches the
current directory, a parent of it, the home directory, a filesystem root, or a folder
that holds the data being read. Each refusal is one line naming the folder and the fix.

This module imports neither Keras nor TensorFlow, so a front end can check a
destination before loading them.

Example:
    >>> require_removable_run("runs/digits", data_paths=["/data/digits"])
    >>> require_export_destination("serving/digits/1", kind="savedmodel")
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path
from typing import Iterable, Optional

from kerascon._utils.atomic_files import atomic_write_json
from kerascon.errors import ConfigError, Placeholder, RunError, Setting
from kerascon.model.stages import STAGE_NAMES

__all__ = [
    "EXPORT_MARKER",
    "MARKER_FORMAT",
    "REPORT_MARKER",
    "RUN_MARKER",
    "OwnershipError",
    "export_marker",
    "folder_contents",
    "is_export",
    "is_kerascon_entry",
    "is_legacy_run",
    "is_run",
    "mark_keras_export",
    "protected_reason",
    "require_export_destination",
    "require_removable_run",
    "require_report_destination",
    "run_marker",
    "write_export_marker",
    "write_report_marker",
    "write_run_marker",
]

RUN_MARKER = "kerascon-run.json"
EXPORT_MARKER = "kerascon-export.json"
REPORT_MARKER = "kerascon-report.json"
#: Version of the markers' content; readers accept any version.
MARKER_FORMAT = 1

#: What a run written before markers existed may hold (besides atomic writers' leftovers).
LEGACY_RUN_ENTRIES = frozenset({"model.keras", "metrics.json", "stages", "encoder", "export",
                                "export.keras", "evaluations", "zoo"})
#: The exports a run keeps inside itself, by kind: ``RUN/export`` (SavedModel),
#: ``RUN/export.keras`` and the frozen encoder ``RUN/encoder/encoder.keras``.
RUN_OWN_EXPORTS = {"savedmodel": (("export",),),
                   "keras": (("export.keras",), ("encoder", "encoder.keras"))}


class OwnershipError(RunError, ConfigError):
    """A destination is not kerascon's to delete or replace (one line, with the fix)."""


def _marker(kind: str) -> dict:
    from kerascon import __version__

    return {"format": MARKER_FORMAT, "kind": kind, "kerascon_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def run_marker() -> dict:
    """The content of a new run's marker: format, kerascon version, creation time (UTC)."""
    return _marker("run")


def export_marker() -> dict:
    """The content of a new export's marker."""
    return _marker("export")


def write_run_marker(path) -> Path:
    """Create the run directory ``path`` (if needed) and write its marker, atomically."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return atomic_write_json(path / RUN_MARKER, run_marker())


def write_export_marker(folder) -> Path:
    """Mark ``folder`` (a SavedModel being written) as an export written by kerascon."""
    return atomic_write_json(Path(folder) / EXPORT_MARKER, export_marker())


def write_report_marker(folder) -> Path:
    """Mark ``folder`` as a report written by kerascon (its files may be rewritten)."""
    return atomic_write_json(Path(folder) / REPORT_MARKER, _marker("report"))


def mark_keras_export(path) -> Path:
    """Add the export marker to the ``.keras`` zip archive ``path`` (Keras ignores it)."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(EXPORT_MARKER, json.dumps(export_marker(), indent=2) + "\n")
    return Path(path)


def _is_leftover(name: str) -> bool:
    """A temporary file or folder an atomic writer left behind (``.NAME.*.tmp*``, ``.NAME.old``)."""
    return name.startswith(".") and (".tmp" in name or name.endswith(".old"))


def is_kerascon_entry(name: str) -> bool:
    """Whether a run's entry ``name`` is one kerascon writes (its marker, files, leftovers)."""
    return name == RUN_MARKER or name in LEGACY_RUN_ENTRIES or _is_leftover(name)


def is_legacy_run(path) -> bool:
    """Whether ``path`` is a run written before markers existed (recognised conservatively).

    It must hold ``stages/`` with nothing but stage folders in it, and nothing else but
    kerascon's own entries (``model.keras``, ``metrics.json``, ``encoder/``, ``export/``,
    ``export.keras``, ``evaluations/``, ``zoo/``) and atomic writers' leftovers.
    """
    path = Path(path)
    if path.is_symlink() or not (path / "stages").is_dir() or (path / "stages").is_symlink():
        return False
    names = [entry.name for entry in path.iterdir()]
    if any(name not in LEGACY_RUN_ENTRIES and not _is_leftover(name) for name in names):
        return False
    stages = list((path / "stages").iterdir())
    return bool(stages) and all(stage.name in STAGE_NAMES and stage.is_dir() for stage in stages)


def is_run(path) -> bool:
    """Whether ``path`` is a kerascon run directory (its marker, or a legacy run)."""
    path = Path(path)
    return path.is_dir() and ((path / RUN_MARKER).is_file() or is_legacy_run(path))


def is_export(path) -> bool:
    """Whether ``path`` is an export kerascon wrote earlier (a marked folder or ``.keras`` file)."""
    path = Path(path)
    if path.is_dir():
        return (path / EXPORT_MARKER).is_file()
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return EXPORT_MARKER in archive.namelist()
        except (OSError, zipfile.BadZipFile):
            return False
    return False


def _resolved(path) -> Path:
    return Path(os.path.realpath(os.path.abspath(os.path.expanduser(str(path)))))


def folder_contents(path, limit: int = 3) -> str:
    """``thesis.txt, notes/ and 2 more``: a few of a folder's entries, for a message."""
    path = Path(path)
    try:
        entries = sorted(path.iterdir(), key=lambda entry: entry.name)
    except OSError:
        return "other files"
    names = [entry.name + ("/" if entry.is_dir() else "") for entry in entries
             if entry.name != RUN_MARKER]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def protected_reason(path, data_paths: Iterable = ()) -> Optional[str]:
    """Why ``path`` must never be deleted or replaced, or None.

    The current directory, a parent of it, the home directory, a filesystem root, and
    any folder that holds (or is) one of ``data_paths`` (paths that do not exist, such as
    dataset names, are ignored).
    """
    target = _resolved(path)
    cwd = _resolved(os.getcwd())
    if target.parent == target:
        return "a filesystem root"
    if target == _resolved(Path.home()):
        return "the home directory"
    if target == cwd:
        return "the current directory"
    if target in cwd.parents:
        return "a parent of the current directory"
    for data in data_paths:
        if not data or not os.path.exists(os.path.expanduser(str(data))):
            continue
        data_path = _resolved(data)
        if data_path == target or target in data_path.parents:
            return f"the data being read ({data})" if data_path == target else \
                f"a folder that holds the data being read ({data})"
    return None


def require_removable_run(path, *, data_paths: Iterable = ()) -> None:
    """Raise a one-line :class:`OwnershipError` unless ``path`` may be replaced by a new run.

    A path that does not exist or an empty folder needs no deletion and passes. Otherwise
    the folder must be a kerascon run (:func:`is_run`) and none of the protected places
    (:func:`protected_reason`).

    Example:
        >>> require_removable_run("runs/digits")     # a run: it may be replaced
        >>> require_removable_run("docs")            # thesis.txt inside: OwnershipError
    """
    path = Path(path)
    another = Setting("output_dir", Placeholder("DIR"))
    if not path.exists() and not path.is_symlink():
        return
    reason = protected_reason(path, data_paths)
    if reason is not None:
        raise OwnershipError(f"{path} is {reason}, which kerascon never deletes to make room "
                             "for a run; choose another {0}", another)
    if path.is_symlink():
        raise OwnershipError(f"{path} is a symbolic link, which kerascon does not delete to make "
                             "room for a run; choose another {0}, or remove the link yourself",
                             another)
    if not path.is_dir():
        raise OwnershipError(f"{path} is a file, not a run directory; choose another {{0}}",
                             another)
    if not any(path.iterdir()):
        return
    if not is_run(path):
        raise OwnershipError(f"{path} is not a kerascon run (it holds {folder_contents(path)}, and no "
                             f"{RUN_MARKER}), so {{0}} does not delete it: choose another {{1}}, "
                             "or delete that folder yourself", Setting("overwrite", True), another)


def _run_holding(target: Path) -> Optional[Path]:
    """The run directory that ``target`` lies inside (or is), if any."""
    for folder in (target, *target.parents):
        if is_run(folder):
            return folder
    return None


def _is_own_export(target: Path, kind: str) -> bool:
    """Whether ``target`` is one of a run's own export paths of that kind (``RUN/export``...)."""
    for parts in RUN_OWN_EXPORTS[kind]:
        if target.parts[-len(parts):] == parts:
            run = target
            for _ in parts:
                run = run.parent
            if is_run(run):
                return True
    return False


def require_export_destination(path, *, kind: str = "savedmodel") -> None:
    """Raise a one-line :class:`OwnershipError` unless an export may be written to ``path``.

    A SavedModel (``kind="savedmodel"``) goes into a new or empty folder, or replaces an
    export kerascon wrote earlier; a ``.keras`` file (``kind="keras"``) goes to a new path or
    replaces an earlier ``.keras`` export. A run's own exports (``RUN/export``,
    ``RUN/export.keras``, ``RUN/encoder/encoder.keras``) may always be rewritten. Never:
    a run itself or another place inside a run, a regular file replaced by a folder (or
    a folder by a file), the current directory, its parents, the home directory or a
    filesystem root.

    Example:
        >>> require_export_destination("runs/digits/export")    # the run's own export
        >>> require_export_destination("runs/digits")           # the run itself: OwnershipError
    """
    if kind not in ("savedmodel", "keras"):
        raise ConfigError(f"kind must be 'savedmodel' or 'keras', got {kind!r}")
    path = Path(path)
    target = _resolved(path)
    fix = "write the export to a new or empty folder" if kind == "savedmodel" else \
        "write the export to a new .keras path"
    reason = protected_reason(path)
    if reason is not None:
        raise OwnershipError(f"{path} is {reason}, which an export never replaces; {fix}")
    if _is_own_export(target, kind):
        if kind == "savedmodel" and target.is_file():
            raise OwnershipError(f"{path} is a file, and a SavedModel (a folder) never replaces "
                                 f"a file; delete it yourself, or {fix}")
        if kind == "keras" and target.is_dir():
            raise OwnershipError(f"{path} is a folder, and a .keras export (a file) never "
                                 f"replaces a folder; delete it yourself, or {fix}")
        return
    run = _run_holding(target)
    if run is not None:
        where = "is a kerascon run" if run == target else f"is inside the kerascon run {run}"
        raise OwnershipError(f"{path} {where}, and an export never replaces a run or writes "
                             f"into one (other than its own export): {fix}")
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink():
        raise OwnershipError(f"{path} is a symbolic link, which an export does not replace; "
                             f"{fix}, or remove the link yourself")
    if kind == "savedmodel":
        if not path.is_dir():
            raise OwnershipError(f"{path} is a file, and a SavedModel (a folder) never replaces "
                                 f"a file; {fix}")
        if any(path.iterdir()) and not is_export(path):
            raise OwnershipError(f"{path} is not empty and is not an export kerascon wrote (it "
                                 f"holds {folder_contents(path)}, and no {EXPORT_MARKER}); {fix}, or "
                                 "delete that folder yourself")
        return
    if path.is_dir():
        raise OwnershipError(f"{path} is a folder, and a .keras export (a file) never replaces a "
                             f"folder; {fix}")
    if not is_export(path):
        raise OwnershipError(f"{path} exists and is not a .keras export kerascon wrote; {fix}, "
                             "or delete that file yourself")


def require_report_destination(path) -> None:
    """Raise a one-line :class:`OwnershipError` unless a report may be written into ``path``.

    A report (``index.html`` and PNG figures) goes into a new or empty folder, or a folder
    that holds an earlier report (its marker, or nothing but an ``index.html`` and PNG
    files), whose files it replaces; never into the current directory, its parents, the
    home directory or a filesystem root.

    Example:
        >>> require_report_destination("report/")    # new, or an earlier report: it passes
    """
    path = Path(path)
    fix = "write the report to a new or empty folder"
    reason = protected_reason(path)
    if reason is not None:
        raise OwnershipError(f"{path} is {reason}, which a report never writes into; {fix}")
    if not path.is_dir() or not any(path.iterdir()) or (path / REPORT_MARKER).is_file():
        return  # new, empty, a file (refused by the report itself) or an earlier report
    names = [entry.name for entry in path.iterdir()]
    if "index.html" in names and all(name == "index.html" or name.endswith(".png")
                                     or _is_leftover(name) for name in names):
        return  # a report written before markers existed
    raise OwnershipError(f"{path} is not empty and is not a report kerascon wrote (it holds "
                         f"{folder_contents(path)}, and no {REPORT_MARKER}); {fix}, or delete "
                         "that folder yourself")
