"""list_datasets() and prepare(): what is registered, offline or cached; prepare verifies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ganforge.data import list_datasets, prepare
from ganforge.errors import DataError, UnknownNameError
from ganforge.registry import DATASETS

EXPECTED = {
    "ring8",
    "grid25",
    "spiral",
    "line",
    "digits",
    "mnist",
    "fashion-mnist",
    "cifar10",
    "image-folder",
}


def test_registered_names_and_papers() -> None:
    assert set(DATASETS.names()) >= EXPECTED
    for name in EXPECTED:
        entry = DATASETS.entry(name)
        assert entry.summary, name
        # every default spec validates (image-folder needs its path)
        spec = {"name": name, "path": "x"} if name == "image-folder" else {"name": name}
        DATASETS.validate(spec, "data")


def test_list_datasets(real_data: Path, isolated_cache: Path) -> None:
    rows = {r.name: r for r in list_datasets()}
    assert set(rows) >= EXPECTED
    assert rows["ring8"].offline and rows["digits"].offline and rows["image-folder"].offline
    assert not rows["mnist"].offline and not rows["cifar10"].offline
    assert (
        rows["mnist"].cache_path == isolated_cache / "mnist" and rows["mnist"].cached_bytes is None
    )
    shutil.copytree(real_data / "mnist", isolated_cache / "mnist")
    size = sum(p.stat().st_size for p in (real_data / "mnist").glob("*.gz"))
    row = {r.name: r for r in list_datasets()}["mnist"]
    assert row.cached_bytes == size and row.get("cached") == "11.4 MB"
    assert rows["ring8"].cached == "-" and rows["cifar10"].get("cached") == "no"


def test_prepare(real_data: Path, isolated_cache: Path) -> None:
    assert prepare("ring8") is None  # nothing to download
    with pytest.raises(UnknownNameError, match="mnist"):
        prepare("mnsit")
    # a complete local copy is verified (all four files) without any download
    assert prepare("mnist", root=str(real_data / "mnist")) == real_data / "mnist"
    # an empty cache needs the network, which tests disable -> a teaching error
    with pytest.raises(DataError, match=r"fashion-mnist\.s3-website"):
        prepare("fashion-mnist")
