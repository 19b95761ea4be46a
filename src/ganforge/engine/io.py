"""Atomic file writes: temp file in the same folder, flush, fsync, ``os.replace``.

A reader (or a resume after ``kill -9``) sees either the old file or the new one,
never a half-written one. The temp name starts with ``.tmp-`` so that leftovers of an
interrupted write are recognisable and ignored.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TMP_PREFIX = ".tmp-"


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable (POSIX); not possible on every OS/filesystem.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path | str, data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete leftovers of interrupted atomic writes in ``folder``; return them."""
    stale = sorted(folder.glob(TMP_PREFIX + "*")) if folder.is_dir() else []
    for p in stale:
        with contextlib.suppress(OSError):
            p.unlink()
    return stale
