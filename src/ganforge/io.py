"""Atomic file writes: temp file in the same folder, flush, fsync, ``os.replace``.

A reader (a resume after ``kill -9``, the lab refreshing a picture, a second process)
sees either the old file or the new one, never a half-written one: the temp file lives
in the destination folder so that ``os.replace`` is a rename on one file system, which
is atomic. Temp names start with ``.tmp-`` so that leftovers of an interrupted write
are recognisable, ignored by readers and removed by :func:`remove_stale_temps`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

TMP_PREFIX = ".tmp-"


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where that is not possible."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path: Path | str) -> Iterator[BinaryIO]:
    """Open a temp file next to ``path`` for binary writing; on a clean exit it is
    fsync'ed and moved onto ``path``; on an exception it is removed and ``path`` is
    left untouched (raise inside the block to abort, e.g. on a checksum mismatch)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes 0600 files; give results the permissions any file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path | str, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(f)`` on a temp file and move it onto ``path`` atomically."""
    with atomic_open(path) as f:
        write(f)
    return Path(path)


def atomic_write_bytes(path: Path | str, data: bytes | memoryview) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


LOCK_NAME = ".lock"


class RunLock:
    """An exclusive lock on a run dir, held by the one process that trains into it.

    ``flock`` on ``<run>/.lock`` (POSIX; ``msvcrt.locking`` on Windows): the operating
    system drops the lock when its holder dies, even by ``kill -9``, so a crashed run
    never leaves a stale lock behind, while a live one keeps a second trainer (a
    ``resume`` started twice, or while ``train`` still runs) from writing checkpoints
    over its own. The file holds the holder's pid, for the message.
    """

    def __init__(self, run_dir: Path | str) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        from ganforge.errors import RunLockedError

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock_fd(fd)
        except OSError:
            holder = ""
            with contextlib.suppress(OSError):
                os.lseek(fd, 0, os.SEEK_SET)
                holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise RunLockedError(
                f"{self.path.parent} is being trained by {who}: two trainers writing one "
                "run would overwrite each other's checkpoints. Wait for it to finish (or "
                "stop it), or train into another --out."
            ) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_fd(fd: int) -> None:
    """Take a non-blocking exclusive lock on ``fd``; OSError when someone holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete leftovers of interrupted atomic writes in ``folder``; return them."""
    stale = sorted(folder.glob(TMP_PREFIX + "*")) if folder.is_dir() else []
    for p in stale:
        with contextlib.suppress(OSError):
            p.unlink()
    return stale
