"""What datasets exist, which need a download, what is cached: for ``ganforge data``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ganforge.data.download import REMOTE, cache_dir
from ganforge.registry import DATASETS


@dataclass(frozen=True)
class DatasetInfo:
    """One row of ``ganforge data list``.

    Attributes:
        name: registry name.
        description: first line of the docstring.
        paper: where it comes from.
        offline: True when it needs no download (bundled, generated, or the user's files).
        cache_path: its cache folder (``cache_dir()/name``), None for offline datasets.
        cached_bytes: total size of the files in ``cache_path``, None when nothing is cached.
    """

    name: str
    description: str
    paper: str
    offline: bool
    cache_path: Path | None
    cached_bytes: int | None

    @property
    def cached(self) -> str:
        """Human-readable cache state: "12.3 MB", "no", or "-" (offline, nothing to cache)."""
        if self.offline:
            return "-"
        if self.cached_bytes is None:
            return "no"
        size = float(self.cached_bytes)
        for unit in ("B", "kB", "MB"):
            if size < 1000:
                return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
            size /= 1000
        return f"{size:.1f} GB"

    def get(self, key: str, default: object = None) -> object:
        """Mapping-style access (``row.get("cached")``) for table printers."""
        return getattr(self, key, default)


def _folder_size(path: Path) -> int | None:
    if not path.is_dir():
        return None
    files = [p for p in path.rglob("*") if p.is_file() and not p.name.endswith(".part")]
    return sum(p.stat().st_size for p in files) if files else None


def list_datasets() -> list[DatasetInfo]:
    """Every registered dataset, sorted by name, with its download/cache status."""
    rows = []
    for e in DATASETS.entries():
        offline = e.name not in REMOTE
        path = None if offline else cache_dir() / e.name
        rows.append(
            DatasetInfo(
                name=e.name,
                description=e.summary,
                paper=e.paper,
                offline=offline,
                cache_path=path,
                cached_bytes=None if path is None else _folder_size(path),
            )
        )
    return rows


def prepare(name: str, root: str | None = None) -> Path | None:
    """Download (if missing) and verify dataset ``name``; return its folder.

    ``root`` puts the files in that folder instead of ``cache_dir()/name`` (then use
    ``--set data.root=ROOT``). Returns None for datasets that need no download.

    Raises:
        UnknownNameError: ``name`` is not a registered dataset (with suggestions).
        DataError: the download or a checksum failed.
    """
    DATASETS.entry(name, "data prepare")  # did-you-mean for misspelt names
    fn = REMOTE.get(name)
    return None if fn is None else fn(root)
