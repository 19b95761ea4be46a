"""Fixtures for the data tests: an isolated cache, no network, the real datasets folder."""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

import ganforge.data.download as download_mod

# ../shared/datasets relative to the repository root; tests that need it skip without it.
REAL_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets").resolve()
REAL_URLOPEN = download_mod.urlopen


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point GANFORGE_DATA at an empty temp folder and make every network access fail."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANFORGE_DATA", str(cache))

    def no_network(url: str, *args: object, **kwargs: object) -> object:
        raise urllib.error.URLError(f"network disabled in tests (asked for {url})")

    monkeypatch.setattr(download_mod, "urlopen", no_network)
    yield cache


@pytest.fixture
def real_urlopen(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-enable the real urlopen (for file:// URLs only)."""
    monkeypatch.setattr(download_mod, "urlopen", REAL_URLOPEN)


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real datasets not found at {REAL_DATA}")
    return REAL_DATA
