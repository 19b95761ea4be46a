"""Downloads with checksums, and the data cache.

Named datasets download from their canonical address into :func:`cache_dir`
(``$GANFORGE_DATA``, default ``~/.cache/ganforge``), one sub-folder per dataset
(``<cache>/mnist``, ``<cache>/cifar10``). A download is atomic: bytes go to a temp file
in the destination folder, are fsync'ed and checksummed, and only then moved into
place with ``os.replace`` — an interrupted or corrupt download never leaves a file
that looks complete.

Every loader also accepts ``root=DIR`` (``--set data.root=DIR``) for a local copy, so
nothing here is ever needed offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen  # module attribute, so tests can monkeypatch it

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ganforge.errors import DataError
from ganforge.io import atomic_open

_CHUNK = 1 << 20  # 1 MiB: large enough for speed, small enough for a smooth bar

LOCAL_COPY_HINT = (
    "Without network access, fetch the file(s) on another machine, put them in a folder "
    "and point ganforge at it with `--set data.root=DIR` (Python: root=DIR); local "
    "copies are checked against the same checksums."
)


def cache_dir() -> Path:
    """The data cache: ``$GANFORGE_DATA`` if set, else ``~/.cache/ganforge``.

    The folder is not created here; :func:`download` creates what it writes into.
    """
    env = os.environ.get("GANFORGE_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganforge"


# -- progress bars ------------------------------------------------------------------------
@contextlib.contextmanager
def progress_bar(
    description: str, total: int | None, *, bytes_: bool = False, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(k)``.

    The bar is transient and only drawn on a terminal, so logs and tests stay clean.
    """
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda k: None
        return
    if bytes_:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
    else:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda k: bar.advance(task, k)


# -- checksums ----------------------------------------------------------------------------
def _expected(md5: str | None, sha256: str | None) -> dict[str, str]:
    out = {}
    if md5:
        out["md5"] = md5.lower()
    if sha256:
        out["sha256"] = sha256.lower()
    return out


def _mismatch_message(what: str, algo: str, expected: str, actual: str, hint: str) -> str:
    return (
        f"Checksum mismatch for {what}: expected {algo} {expected}, got {actual}. The file "
        f"is corrupt, truncated or a different version of the data. {hint}".rstrip()
    )


def check_bytes(
    data: bytes,
    what: str,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    hint: str = "",
) -> None:
    """Raise :class:`DataError` when ``data`` does not have the given digest(s).

    Args:
        data: the bytes to check (e.g. the *uncompressed* content of an idx file).
        what: how to name the bytes in the message (file path).
        hint: what the user should do, appended to the message.
    """
    for algo, exp in _expected(md5, sha256).items():
        got = hashlib.new(algo, data).hexdigest()
        if got != exp:
            raise DataError(_mismatch_message(what, algo, exp, got, hint))


def file_digest(path: str | Path, algo: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(
    path: str | Path, *, md5: str | None = None, sha256: str | None = None, hint: str = ""
) -> None:
    """Raise :class:`DataError` unless ``path`` exists and has the given digest(s)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Expected the file {path}, but it does not exist. {hint}".rstrip())
    for algo, exp in _expected(md5, sha256).items():
        got = file_digest(path, algo)
        if got != exp:
            raise DataError(_mismatch_message(str(path), algo, exp, got, hint))


# -- download -----------------------------------------------------------------------------
def download(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    *,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying the checksum(s) if given.

    The bytes are streamed to a temp file in ``dest``'s folder (same filesystem, so
    the final ``os.replace`` is atomic), hashed on the way, fsync'ed, checked, and
    only then renamed to ``dest``. On any failure the temp file is removed and
    ``dest`` is left untouched.

    Returns:
        ``dest`` as a Path.

    Raises:
        DataError: the download failed or the checksum did not match; the message
            names the URL and how to use a local copy instead.
    """
    dest = Path(dest)
    expected = _expected(md5, sha256)
    hint = f"Source: {url}. {LOCAL_COPY_HINT}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(
            f"Cannot write into {dest.parent} to download {url}: {e}. Set GANFORGE_DATA to a "
            f"writable folder. {LOCAL_COPY_HINT}"
        ) from None
    hashers = {algo: hashlib.new(algo) for algo in expected}
    # atomic_open removes the temp file if anything below raises: dest is never half-written
    with atomic_open(dest) as f:
        try:
            response = urlopen(url, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
            raise DataError(f"Could not download {url} to {dest}: {e}. {LOCAL_COPY_HINT}") from None
        with response:
            length = response.headers.get("Content-Length") if response.headers else None
            total = int(length) if length and length.isdigit() else None
            received = 0
            with progress_bar(f"{dest.name}", total, bytes_=True, enabled=progress) as adv:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, ValueError, http.client.HTTPException) as e:
                        raise DataError(
                            f"The download of {url} broke off after {received} bytes: "
                            f"{e}. Run again to retry. {LOCAL_COPY_HINT}"
                        ) from None
                    if not chunk:
                        break
                    f.write(chunk)
                    for h in hashers.values():
                        h.update(chunk)
                    received += len(chunk)
                    adv(len(chunk))
        if total is not None and received != total:
            raise DataError(
                f"The download of {url} is truncated: got {received} of {total} bytes. "
                f"Run again to retry. {LOCAL_COPY_HINT}"
            )
        for algo, h in hashers.items():
            got = h.hexdigest()
            if got != expected[algo]:
                raise DataError(
                    _mismatch_message(f"the download of {url}", algo, expected[algo], got, hint)
                )
    return dest


# -- remote datasets ----------------------------------------------------------------------
@dataclass(frozen=True)
class RemoteFile:
    """One file of a named dataset at its canonical address.

    ``md5`` / ``sha256`` are of the file exactly as served (e.g. the ``.gz``).
    """

    filename: str
    url: str
    md5: str | None = None
    sha256: str | None = None


def fetch(files: tuple[RemoteFile, ...] | list[RemoteFile], directory: Path) -> list[Path]:
    """Download the files missing from ``directory``; return all their paths."""
    paths = []
    for rf in files:
        path = directory / rf.filename
        if not path.is_file():
            download(rf.url, path, sha256=rf.sha256, md5=rf.md5)
        paths.append(path)
    return paths


#: name -> ``prepare(root)`` for datasets that download; filled by their modules.
#: ``prepare`` downloads what is missing into ``root`` (default: ``cache_dir()/name``),
#: verifies everything, and returns the folder.
REMOTE: dict[str, Callable[[str | None], Path]] = {}


def remote(name: str) -> Callable[[Callable[[str | None], Path]], Callable[[str | None], Path]]:
    """Decorator: register the ``prepare(root)`` function of a downloadable dataset."""

    def deco(fn: Callable[[str | None], Path]) -> Callable[[str | None], Path]:
        REMOTE[name] = fn
        return fn

    return deco
