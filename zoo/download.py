"""Fetch pretrained weights into the local cache and verify their sha256.

The cache is ``$KERASCON_HOME/pretrained`` (``KERASCON_HOME`` defaults to
``~/.cache/kerascon``); an entry ``NAME`` is stored as
``NAME + suffix`` (see :attr:`PretrainedSpec.filename`). Files are written
under a temporary name and renamed only once their sha256 matches, so the
cache never holds a partial or unverified file. The hash is checked again on
every use of a cached file.

``keras-application`` entries live in Keras' own cache instead
(``$KERAS_HOME/models/<Keras' file name>``, default ``~/.keras/models``) and are
verified with Keras' own md5/sha256; a missing file is fetched with
``keras.utils.get_file`` after a short reachability check (:func:`download_keras_weights`).
``keras-hub-preset`` entries are preset folders in kagglehub's cache (or copied by hand to
``$KERASCON_HOME/hub/<preset>``), fetched by kagglehub (:func:`download_hub_preset`).

Example:
    >>> from kerascon.zoo import download
    >>> path = download("resnet50.supcon_cifar10_mine")   # PosixPath('~/.cache/...')
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kerascon._utils.atomic_files import atomic_path
from kerascon._utils.home import kerascon_home
from kerascon.errors import KerasconError
from kerascon.zoo.pretrained import KERAS_APPLICATION, KERAS_HUB_PRESET, PACKAGE_SOURCE, get_pretrained

__all__ = [
    "ChecksumError",
    "DownloadError",
    "cache_path",
    "download",
    "download_hub_preset",
    "download_keras_weights",
    "keras_cache_dir",
    "kerascon_home",
    "sha256_file",
    "shipped_file",
]

_CHUNK = 1 << 20


class DownloadError(KerasconError, OSError):
    """The file could not be fetched; the message says where to put it by hand."""


class ChecksumError(KerasconError, ValueError):
    """A file's sha256 differs from its registry entry; the file was deleted."""


def keras_cache_dir():
    """Keras' cache folder: ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when the
    home folder is not writable), as ``keras.utils.get_file`` resolves it.

    Example:
        >>> keras_cache_dir()
        PosixPath('/home/me/.keras')
    """
    if os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"]).expanduser()
    home = os.path.expanduser("~")
    return Path(home if os.access(home, os.W_OK) else "/tmp") / ".keras"


def cache_path(name):
    """Where the weights ``name`` (or a :class:`PretrainedSpec`) live in the cache.

    Example:
        >>> cache_path("resnet50.supcon_cifar10_mine").name
        'resnet50.supcon_cifar10_mine.pth'
        >>> str(cache_path("keras_resnet50.imagenet"))      # Keras' own cache
        '/home/me/.keras/models/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5'
    """
    spec = get_pretrained(name)
    if spec.shipped:
        return _package_file(spec)
    if spec.format == KERAS_APPLICATION:
        return keras_cache_dir() / "models" / spec.filename
    if spec.format == KERAS_HUB_PRESET:
        return _hub_preset_path(spec)
    return kerascon_home() / "pretrained" / spec.filename


def _hub_preset_path(spec):
    """A keras-hub preset's folder: the entry's local folder, the one copied by hand to
    ``$KERASCON_HOME/hub``, else kagglehub's cache folder for the handle."""
    from kerascon.backbone_tables.hub_presets import hub_preset_folder

    if not spec.source.startswith("kaggle://"):
        return Path(spec.source).expanduser()
    by_hand = hub_preset_folder(spec.filename)
    try:
        from kagglehub.cache import get_cached_path
        from kagglehub.handle import parse_model_handle
    except ImportError:  # no kerascon[hub]: only the folder copied by hand can serve
        return by_hand
    if by_hand.is_dir():
        return by_hand
    return Path(get_cached_path(parse_model_handle(spec.source.removeprefix("kaggle://"))))


def download_hub_preset(name, *, timeout=10.0):
    """Make sure the keras-hub preset of the ``keras-hub-preset`` entry ``name`` (config and
    weights) is on this machine; return its folder.

    A folder found locally (the entry's own, ``$KERASCON_HOME/hub/<preset>``, kagglehub's
    cache) is used without network; otherwise kagglehub downloads the preset into its cache.

    Raises:
        DownloadError: offline or the download failed; one line naming the preset and the
            folder to copy it to.

    Example:
        >>> download_hub_preset("hub_resnet_50_imagenet.imagenet")
        PosixPath('/home/me/.cache/kagglehub/models/keras/resnetv1/keras/resnet_50_imagenet/3')
    """
    import dataclasses

    from kerascon.encoders.keras_hub_backbones import (
        HubPresetUnavailableError,
        hub_backbone_spec,
        locate_hub_preset,
    )

    spec = get_pretrained(name)
    preset = dataclasses.replace(hub_backbone_spec(spec.arch), kaggle_handle=spec.source)
    try:
        location = locate_hub_preset(preset, need_weights=True, timeout=timeout)
    except HubPresetUnavailableError as err:
        raise DownloadError(f"{spec.name}: {err}") from err
    if Path(location).is_dir():
        return Path(location)
    import kagglehub

    try:
        return Path(kagglehub.model_download(location.removeprefix("kaggle://")))
    except Exception as err:  # noqa: BLE001 - kagglehub raises requests' and its own errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DownloadError(f"could not fetch {spec.name} from {spec.source} ({first}); copy the "
                            f"preset folder to {_hub_preset_path(spec)}") from err


def _package_file(spec):
    return Path(__file__).resolve().parent / spec.source[len(PACKAGE_SOURCE):]


def shipped_file(name):
    """The verified path of the weights ``name`` shipped inside the package (no network).

    The sha256 is computed on every call (a shipped file is a few MB: milliseconds), so a
    file changed after installation is never loaded. A shipped file that does not match is
    left in place, unlike a cached download: it belongs to the installed package, and
    reinstalling kerascon restores it.

    Raises:
        DownloadError: the file is missing from the installation.
        ChecksumError: the file's sha256 or size is not the registered one.

    Example:
        >>> shipped_file("resnet18.supcon_digits").name
        'encoder.npz'
    """
    spec = get_pretrained(name)
    path = _package_file(spec)
    if not path.is_file():
        raise DownloadError(f"{spec.name} is shipped with kerascon but {path} is missing (an "
                            "incomplete installation); reinstall kerascon")
    actual = sha256_file(path)
    if actual != spec.sha256 or path.stat().st_size != spec.size:
        raise ChecksumError(
            f"the shipped weights {path} of {spec.name} have sha256 {actual} "
            f"({path.stat().st_size} bytes), expected {spec.sha256} ({spec.size} bytes), so "
            "they were not loaded; the file was changed after installation: reinstall kerascon")
    return path


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


def _keras_hash(path, expected):
    """Hash of ``path`` with the algorithm Keras picks for ``expected`` (64 hex: sha256, else md5)."""
    digest = hashlib.sha256() if len(expected) == 64 else hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _reachable(url, timeout):
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds.

    Runs in a daemon thread so that a hanging name lookup cannot block the caller.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return True  # file:// and local paths need no network
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result = []

    def probe():
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)


def download_keras_weights(name, *, force=False, timeout=10.0):
    """Make sure Keras' weights file for the ``keras-application`` entry ``name`` is in
    Keras' cache, verified with Keras' hash; return its path.

    A cached file whose hash matches is used without network access. Otherwise the
    file is fetched with ``keras.utils.get_file`` (Keras' download, cache and hash
    check), after checking within ``timeout`` seconds that the server is reachable.

    Raises:
        DownloadError: offline, or the download failed; one line naming Keras' file
            and the cache path to put it at by hand.
        ChecksumError: offline with a cached file whose hash is not Keras' (it is kept;
            Keras itself would download it again).

    Example:
        >>> download_keras_weights("keras_resnet50.imagenet")
        PosixPath('/home/me/.keras/models/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5')
    """
    spec = get_pretrained(name)
    dest = cache_path(spec)
    expected = spec.keras_file_hash
    algorithm = "sha256" if len(expected) == 64 else "md5"
    mismatch = None
    if dest.exists() and not force:
        actual = _keras_hash(dest, expected)
        if actual == expected:
            return dest
        mismatch = actual
    where = (f"download {spec.source} on a machine with network and save it as {dest} "
             f"({algorithm} {expected})")
    if not _reachable(spec.source, timeout):
        if mismatch is not None:
            raise ChecksumError(
                f"{spec.name}: the cached file {dest} has {algorithm} {mismatch}, not Keras' "
                f"{expected} (partial download or another file), and the network is "
                f"unreachable; {where}")
        host = urllib.parse.urlsplit(spec.source).hostname
        raise DownloadError(f"{spec.name} needs Keras' weights file {spec.keras_file}, which "
                            f"is not in Keras' cache, and {host} is unreachable (offline?); "
                            f"{where}")
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        path = keras.utils.get_file(spec.keras_file, spec.source, cache_subdir="models",
                                    file_hash=expected, cache_dir=str(keras_cache_dir()),
                                    force_download=force)
    except Exception as err:  # noqa: BLE001 - Keras raises a bare Exception on URL errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DownloadError(f"could not fetch {spec.name} ({first}); {where}") from err
    finally:
        socket.setdefaulttimeout(previous)
    return Path(path)


def _source_url(source):
    if "://" in source:
        return source
    return Path(source).expanduser().resolve().as_uri()


def _progress(enabled):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
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

    ``keras-application`` entries go to Keras' cache (:func:`download_keras_weights`),
    ``keras-hub-preset`` entries to kagglehub's (:func:`download_hub_preset`; ``force`` is
    not used: kagglehub keeps the folder);
    entries shipped in the package are only verified (:func:`shipped_file`).

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
    if spec.shipped:
        return shipped_file(spec)
    if spec.format == KERAS_APPLICATION:
        return download_keras_weights(spec, force=force, timeout=min(timeout, 10.0))
    if spec.format == KERAS_HUB_PRESET:
        return download_hub_preset(spec, timeout=min(timeout, 10.0))
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
