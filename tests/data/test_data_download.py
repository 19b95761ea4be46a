"""download(): file:// URLs, checksums, atomicity, teaching errors; verify_file; cache_dir."""

from __future__ import annotations

import hashlib
import io
import urllib.error
from pathlib import Path

import pytest

import ganforge.data.download as download_mod
from ganforge.data import cache_dir, verify_file
from ganforge.data.download import download
from ganforge.errors import DataError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: more than one read chunk


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "file.bin"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


def _leftovers(folder: Path) -> list[Path]:
    return list(folder.glob(".*.part"))


def test_download_file_url_with_checksums(source: Path, tmp_path: Path, real_urlopen: None) -> None:
    dest = tmp_path / "out" / "sub" / "file.bin"
    out = download(
        source.as_uri(),
        dest,
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        md5=hashlib.md5(PAYLOAD).hexdigest().upper(),  # case does not matter
    )
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert not _leftovers(dest.parent)


def test_download_bad_checksum_leaves_nothing(
    source: Path, tmp_path: Path, real_urlopen: None
) -> None:
    dest = tmp_path / "out" / "file.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old content")  # a failed download must not clobber it
    with pytest.raises(DataError) as err:
        download(source.as_uri(), dest, md5="0" * 32)
    msg = str(err.value)
    assert "Checksum mismatch" in msg and source.as_uri() in msg and "0" * 32 in msg
    assert hashlib.md5(PAYLOAD).hexdigest() in msg and "--set data.root=DIR" in msg
    assert dest.read_bytes() == b"old content"
    assert not _leftovers(dest.parent)


def test_download_network_error_teaches(tmp_path: Path) -> None:
    # the autouse fixture makes urlopen raise URLError
    with pytest.raises(DataError) as err:
        download("https://example.org/data.gz", tmp_path / "data.gz")
    msg = str(err.value)
    assert "https://example.org/data.gz" in msg and "--set data.root=DIR" in msg
    assert not (tmp_path / "data.gz").exists() and not _leftovers(tmp_path)


class _FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, length: int) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(length)}


def test_download_truncated_and_broken_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download_mod, "urlopen", lambda url, timeout: _FakeResponse(b"abc", 10))
    with pytest.raises(DataError, match="truncated: got 3 of 10 bytes"):
        download("https://example.org/x", tmp_path / "x")

    class Broken(_FakeResponse):
        def read(self, n: int = -1) -> bytes:
            raise urllib.error.URLError("connection reset")

    monkeypatch.setattr(download_mod, "urlopen", lambda url, timeout: Broken(b"", 10))
    with pytest.raises(DataError, match="broke off"):
        download("https://example.org/x", tmp_path / "x")
    assert not (tmp_path / "x").exists() and not _leftovers(tmp_path)


def test_download_with_fake_urlopen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def fake(url: str, timeout: float) -> _FakeResponse:
        seen.append(url)
        return _FakeResponse(PAYLOAD, len(PAYLOAD))

    monkeypatch.setattr(download_mod, "urlopen", fake)
    dest = download(
        "https://example.org/y", tmp_path / "y", sha256=hashlib.sha256(PAYLOAD).hexdigest()
    )
    assert dest.read_bytes() == PAYLOAD and seen == ["https://example.org/y"]


def test_verify_file(source: Path) -> None:
    verify_file(
        source, md5=hashlib.md5(PAYLOAD).hexdigest(), sha256=hashlib.sha256(PAYLOAD).hexdigest()
    )
    with pytest.raises(DataError, match="expected sha256 " + "1" * 64):
        verify_file(source, sha256="1" * 64)
    with pytest.raises(DataError, match="does not exist"):
        verify_file(source.parent / "missing.bin", md5="0" * 32)


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "d"))
    assert cache_dir() == tmp_path / "d"
    monkeypatch.delenv("GANFORGE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "ganforge"
