"""Atomic file and directory writes: a reader never sees a half-written result.

Everything kerascon writes into a run (configs, metrics, checkpoints, exports) goes
through here: data is written next to its destination under a temporary name, flushed,
then renamed over the destination in one step.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from kerascon.errors import KerasconError

__all__ = ["DiskFullError", "atomic_write_text", "atomic_write_json", "atomic_path",
           "atomic_directory", "is_disk_full"]

# ENOSPC: the file system is full; EFBIG: the file exceeds the size limit (RLIMIT_FSIZE or
# the file system's); EDQUOT: the user's quota is spent.
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
# The same conditions as TensorFlow and h5py report them (their own exception types).
_DISK_FULL_TEXTS = ("no space left on device", "file too large", "disk quota exceeded")


class DiskFullError(KerasconError, OSError):
    """A write failed because the disk (or a size limit or quota) is full.

    Raised by the atomic writers below, after the temporary file is removed, so the
    destination still holds its previous content.

    Example:
        >>> str(DiskFullError("no space left on device while writing x.json; free space"))
        'no space left on device while writing x.json; free space'
    """


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or an exception it was raised from) says the disk is full.

    Example:
        >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
        True
    """
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFullError):
            return True
        if isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS:
            return True
        if any(text in str(error).lower() for text in _DISK_FULL_TEXTS):
            return True
        error = error.__cause__ or error.__context__
    return False


def _disk_full(path: Path, error: BaseException) -> DiskFullError:
    if isinstance(error, DiskFullError):
        return error
    code = error.errno if isinstance(error, OSError) and error.errno else errno.ENOSPC
    reason = os.strerror(code)
    full = DiskFullError(f"{reason[:1].lower()}{reason[1:]} while writing {path} (nothing was "
                         "written, its previous content is intact); free space on that file "
                         "system and write it again")
    full.errno = code  # the operating system's code (ENOSPC, EFBIG, EDQUOT)
    return full


@contextlib.contextmanager
def _disk_full_as_one_line(path: Path):
    """Re-raise a disk-full error of the block as a one-line DiskFullError naming ``path``."""
    try:
        yield
    except Exception as error:
        if is_disk_full(error):
            raise _disk_full(path, error) from error
        raise


@contextlib.contextmanager
def atomic_path(path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> with atomic_path("model.keras", suffix=".keras") as tmp:
        ...     model.save(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # writers such as model.save expect to create the file themselves
    tmp = Path(tmp)
    try:
        with _disk_full_as_one_line(path):
            yield tmp
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp) if tmp.is_dir() and not tmp.is_symlink() else tmp.unlink()


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (fsynced before the rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)


def atomic_write_json(path, data) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def atomic_directory(path) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``path`` as a whole.

    An existing ``path`` is moved aside first and deleted only after the new directory
    is in place, so an interruption leaves either the old or the new directory.

    Example:
        >>> import tensorflow as tf
        >>> module = tf.Module()
        >>> module.scale = tf.Variable(2.0)
        >>> with atomic_directory("runs/a/export") as tmp:
        ...     tf.saved_model.save(module, str(tmp))
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        with _disk_full_as_one_line(path):
            yield tmp
            old = None
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                if old.exists():
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
                os.replace(path, old)
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
