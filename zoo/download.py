"""Fetch pretrained weights into the local cache and verify their sha256.

The cache is ``$KERASCON_HOME/pretrained`` (``KERASCON_HOME`` defaults to
``~/.cache/kerascon``); an entry ``NAME`` is stored as
``NAME + suffix`` (see :attr:`PretrainedSpec.filename`). Files are written
under a temporary name and renamed only once their sha256 matches, so the
cache never holds a partial or unverified file. The hash is checked again on
every use of a cached file.

Example:
    >>> from kerascon.zoo import download
    >>> path = download("resnet50.supcon_cifar10_mine")   # PosixPath('~/.cache/...')
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from kerascon.atomic_files import atomic_path
from kerascon.zoo.pretrained import get_pretrained

__all__ = [
    "ChecksumError",
    "DownloadError",
    "cache_path",
    "download",
    "kerascon_home",
    "sha256_file",
]

HOME_ENV = "KERASCON_HOME"
_CHUNK = 1 << 20


class DownloadError(OSError):
    """The file could not be fetched; the message says where to put it by hand."""


class ChecksumError(ValueError):
    """A file's sha256 differs from its registry entry; the file was deleted."""


def kerascon_home():
    """``$KERASCON_HOME``, or ``~/.cache/kerascon`` when it is unset.

    Example:
        >>> kerascon_home()
        PosixPath('/home/me/.cache/kerascon')
    """
    return Path(os.environ.get(HOME_ENV) or "~/.cache/kerascon").expanduser()


def cache_path(name):
    """Where the weights ``name`` (or a :class:`PretrainedSpec`) live in the cache.

    Example:
        >>> cache_path("resnet50.supcon_cifar10_mine").name
        'resnet50.supcon_cifar10_mine.pth'
    """
    return kerascon_home() / "pretrained" / get_pretrained(name).filename


def sha256_file(path):
    """Hex sha256 of the file at ``path``.

    Example:
        >>> sha256_file("last.pth")
        '3b0c...'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _source_url(source):
    if "://" in source:
        return source
    return Path(source).expanduser().resolve().as_uri()


def _progress(enabled):
    from rich.console import Console
    from rich.progress import (
        BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True, disable=not enabled,
    )


def _fetch(spec, url, tmp, progress, timeout):
    """Copy ``url`` into ``tmp``; return its sha256."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
        length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        total = int(length) if length and str(length).isdigit() else spec.size
        with _progress(progress) as bar:
            task = bar.add_task(spec.name, total=total)
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                bar.advance(task, len(chunk))
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def download(name, *, force=False, progress=None, timeout=60.0):
    """Make sure the weights ``name`` are in the cache, verified; return their path.

    A cached file is used when its sha256 matches (no network access). Otherwise
    the entry's ``source`` (URL, ``file://`` URL or local path) is copied to a
    temporary file beside the cache path, hashed, and renamed into place.

    Args:
        name: a registered pretrained name (or a :class:`PretrainedSpec`).
        force: fetch again even if a verified copy is cached.
        progress: show a rich progress bar on stderr (default: if stderr is a
            terminal).
        timeout: seconds to wait for the server.

    Raises:
        UnknownPretrainedError: unknown ``name`` (with close matches).
        ChecksumError: the file's sha256 is not the registered one; the file is
            deleted and the message names both hashes.
        DownloadError: the source could not be read (offline, 404, missing local
            file); the message gives the cache path to put the file at by hand.

    Example:
        >>> download("resnet50.supcon_cifar10_mine", progress=True)
        PosixPath('/home/me/.cache/kerascon/pretrained/resnet50.supcon_cifar10_mine.pth')
    """
    spec = get_pretrained(name)
    dest = cache_path(spec)
    if dest.exists() and not force:
        actual = sha256_file(dest)
        if actual == spec.sha256:
            return dest
        dest.unlink()
        raise ChecksumError(
            f"cached file {dest} for {spec.name} has sha256 {actual}, expected {spec.sha256}; "
            f"the file was deleted, run again to download it anew"
        )
    if progress is None:
        progress = sys.stderr.isatty()
    url = _source_url(spec.source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        try:
            actual = _fetch(spec, url, tmp, progress, timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            if isinstance(err, urllib.error.HTTPError):
                reason = f"HTTP {err.code} {err.reason}"
            raise DownloadError(
                f"could not fetch {spec.name} from {spec.source} ({reason}); offline, fetch "
                f"the file on another machine and save it as {dest} "
                f"(sha256 {spec.sha256}, {spec.size} bytes)"
            ) from err
        if actual != spec.sha256:
            raise ChecksumError(
                f"sha256 mismatch for {spec.name} from {spec.source}: expected {spec.sha256}, "
                f"got {actual}; the downloaded file was deleted"
            )
    return dest
