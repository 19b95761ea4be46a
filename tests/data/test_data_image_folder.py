"""image-folder: class sub-folders, flat folders, zips, sizes, crops, errors, the CIFAR JPEG zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import TensorDataset
from ganforge.errors import DataError
from ganforge.registry import DATASETS

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _png(path: Path, size: tuple[int, int] = (8, 8), color: tuple[int, int, int] = RED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def _load(**kw: object) -> TensorDataset:
    return DATASETS.build({"name": "image-folder", **kw})


def test_class_subfolders(tmp_path: Path) -> None:
    for i in range(3):
        _png(tmp_path / "dogs" / f"{i}.png", color=BLUE)
    for i in range(2):
        _png(tmp_path / "cats" / f"{i}.png", color=RED)
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    _png(tmp_path / ".hidden" / "x.png")  # hidden: skipped
    ds = _load(path=str(tmp_path))
    assert ds.tensors["real"].shape == (5, 3, 8, 8) and ds.tensors["real"].dtype == torch.uint8
    assert ds.num_classes == 2 and ds.info["classes"] == ["cats", "dogs"]
    assert ds.tensors["label"].tolist() == [0, 0, 1, 1, 1]
    assert ds.tensors["real"][0, :, 0, 0].tolist() == [255, 0, 0]  # cats are red
    assert ds.tensors["real"][4, :, 0, 0].tolist() == [0, 0, 255]


def test_flat_folder_is_unlabelled(tmp_path: Path) -> None:
    for i in range(3):
        _png(tmp_path / f"{i}.png", color=GREEN)
    Image.new("L", (8, 8), 128).save(tmp_path / "gray.jpg")  # converted to RGB
    Image.new("RGBA", (8, 8), (1, 2, 3, 0)).save(tmp_path / "alpha.png")
    ds = _load(path=str(tmp_path))
    assert len(ds) == 5 and "label" not in ds.tensors and ds.num_classes is None
    one = _load(path=str(tmp_path), channels=1)
    assert one.shape == (1, 8, 8)
    assert one.tensors["real"][:, 0, 0, 0].tolist() == [150, 150, 150, 2, 128]  # Pillow "L" luma


def test_mixed_sizes(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", (8, 8))
    _png(tmp_path / "b.png", (12, 8))
    with pytest.raises(DataError) as err:
        _load(path=str(tmp_path))
    msg = str(err.value)
    assert "a.png" in msg and "b.png" in msg and "12x8" in msg and "--set data.resolution=" in msg
    ds = _load(path=str(tmp_path), resolution=4)
    assert ds.shape == (3, 4, 4)


def test_center_crop_and_no_crop(tmp_path: Path) -> None:
    # 12x8: two red columns, eight green ones, two blue ones
    arr = np.zeros((8, 12, 3), np.uint8)
    arr[:, :2], arr[:, 2:10], arr[:, 10:] = RED, GREEN, BLUE
    Image.fromarray(arr).save(tmp_path / "wide.png")
    center = _load(path=str(tmp_path), resolution=8).tensors["real"][0]
    assert (center[1] == 255).all() and (center[0] == 0).all()  # only the green middle
    squashed = _load(path=str(tmp_path), resolution=8, crop="none").tensors["real"][0]
    assert (
        squashed[0, :, 0].min() > 200 and squashed[2, :, -1].min() > 200
    )  # red and blue edges kept


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        _load(path=str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        _load(path=str(tmp_path / "empty"))
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("x")
    with pytest.raises(DataError, match=r"no images.*a\.txt"):
        _load(path=str(tmp_path / "texts"))
    (tmp_path / "file.tar").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"neither a folder nor a \.zip"):
        _load(path=str(tmp_path / "file.tar"))
    _png(tmp_path / "corrupt" / "good.png")
    (tmp_path / "corrupt" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DataError, match=r"broken\.png"):
        _load(path=str(tmp_path / "corrupt"))


def test_zip_with_split_and_max_images(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for split in ("train", "test"):
        for c, color in (("a", RED), ("b", GREEN), ("c", BLUE)):
            for i in range(4):
                _png(src / split / c / f"{i}.png", color=color)
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(src.rglob("*.png")):
            zf.write(p, p.relative_to(src).as_posix())
        zf.writestr("__MACOSX/train/a/._0.png", b"resource fork")
    ds = _load(path=str(zpath), split="train")
    assert len(ds) == 12 and ds.num_classes == 3 and ds.info["classes"] == ["a", "b", "c"]
    sub = _load(path=str(zpath), split="train", max_images=3)
    assert sub.tensors["label"].tolist() == [0, 1, 2]  # spread over the classes
    whole = _load(path=str(zpath))
    assert whole.info["classes"] == ["test", "train"]
    with pytest.raises(DataError, match=r"'valid'.*test, train"):
        _load(path=str(zpath), split="valid")


def test_real_cifar10_jpeg_zip(real_data: Path) -> None:
    path = real_data / "cifar10-jpeg" / "cifar10-jpeg75.zip"
    ds = _load(path=str(path), split="train", max_images=500)
    real = ds.tensors["real"]
    assert real.shape == (500, 3, 32, 32) and real.dtype == torch.uint8
    assert ds.num_classes == 10 and ds.info["classes"][0] == "airplane"
    assert torch.bincount(ds.tensors["label"]).tolist() == [50] * 10
    assert 80 < real.float().mean().item() < 160  # natural images, not blank
