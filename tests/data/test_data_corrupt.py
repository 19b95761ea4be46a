"""Damaged dataset files (issue 9, reliability): a DataError that names the file, says
what is wrong and what to do; or, with ``skip_bad_files``, the file left out with a
warning. Every file here is built small in ``tmp_path``; nothing needs the real data."""

from __future__ import annotations

import gzip
import io
import pickle
import re
import tarfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import TensorDataset
from ganforge.data._badfiles import SkippedFileWarning
from ganforge.data.cifar10 import restricted_loads
from ganforge.data.mnist import read_idx
from ganforge.errors import ConfigError, DataError
from ganforge.registry import DATASETS

IMAGES, LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
NO_SKIP = "data.skip_bad_files cannot leave this file out"
SKIP_HINT = "data.skip_bad_files=true"


def _build(**spec: Any) -> TensorDataset:
    return DATASETS.build(spec, "data")


def _error(**spec: Any) -> str:
    """The message of the DataError that building ``spec`` raises (no other type)."""
    with pytest.raises(DataError) as err:
        _build(**spec)
    return str(err.value)


def _skipping(n_warnings: int, **spec: Any) -> tuple[TensorDataset, list[str]]:
    """Build ``spec`` with skip_bad_files=True; return it and its SkippedFileWarnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = _build(**spec, skip_bad_files=True)
    msgs = [str(w.message) for w in caught if issubclass(w.category, SkippedFileWarning)]
    assert len(msgs) == n_warnings, msgs
    return ds, msgs


# -- files --------------------------------------------------------------------------------
def _png_bytes(color: tuple[int, int, int] = (255, 0, 0), size: int = 8, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format=fmt)
    return buf.getvalue()


def _noise_png() -> bytes:
    buf = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _idx(shape: tuple[int, ...], code: int = 0x08, payload: bytes | None = None) -> bytes:
    header = bytes([0, 0, code, len(shape)]) + b"".join(s.to_bytes(4, "big") for s in shape)
    return header + (bytes(int(np.prod(shape))) if payload is None else payload)


def _mnist_root(root: Path, images: bytes, labels: bytes | None = None, gz: bool = True) -> Path:
    labels = _idx((2,)) if labels is None else labels
    for name, data in ((IMAGES, images), (LABELS, labels)):
        _write(root / (f"{name}.gz" if gz else name), gzip.compress(data) if gz else data)
    return root


def _assert_names_fix(msg: str, path: Path, *fix: str) -> None:
    assert str(path) in msg, msg
    for needle in fix:
        assert needle in msg, f"{needle!r} not in {msg!r}"


# -- MNIST idx files ----------------------------------------------------------------------
def test_truncated_gzip(tmp_path: Path) -> None:
    root = _mnist_root(tmp_path, _idx((2, 28, 28)))
    path = root / f"{IMAGES}.gz"
    path.write_bytes(path.read_bytes()[:-12])  # the stream ends early
    msg = _error(name="mnist", split="test", root=str(root))
    _assert_names_fix(msg, path, "truncated", "gzip", "Replace it", "data.root unset", NO_SKIP)


def test_damaged_gzip_and_not_gzip(tmp_path: Path) -> None:
    root = _mnist_root(tmp_path, _idx((2, 28, 28)))
    path = root / f"{IMAGES}.gz"
    path.write_bytes(b"\x1f\x8b" + b"\xff" * 40)  # gzip magic, then garbage
    msg = _error(name="mnist", split="test", root=str(root))
    _assert_names_fix(msg, path, "corrupt or truncated gzip", NO_SKIP)
    path.write_bytes(b"<html><body>404 Not Found</body></html>")  # a .gz that is not gzip
    msg = _error(name="mnist", split="test", root=str(root))
    _assert_names_fix(msg, path, "named .gz but not gzip-compressed", "bad magic", NO_SKIP)


@pytest.mark.parametrize(
    ("images", "needles"),
    [
        (b"\x08\x03" + _idx((2, 28, 28))[2:], ["bad magic number 0803"]),
        (b"", ["bad magic number (empty file)"]),
        (_idx((2, 28, 28), code=0x07), ["unknown type code 0x07"]),
        (_idx((2, 28, 28), code=0x0D, payload=bytes(2 * 28 * 28 * 4)), ["type code 0x0d"]),
        (_idx((2, 28, 28))[:-5], ["truncated", "needs 1584 bytes but the file has 1579"]),
        (_idx((2, 28, 28)) + b"\x00", ["trailing bytes"]),
        (_idx((2, 784)), ["expected 3 dimension(s)"]),
        (bytes([0, 0, 8, 3, 0, 0]), ["header is truncated"]),
        (_idx((2**31, 2**31, 2**31)), ["needs"]),  # sizes whose product overflows int64
    ],
)
def test_bad_idx_header_or_length(tmp_path: Path, images: bytes, needles: list[str]) -> None:
    root = _mnist_root(tmp_path, images, gz=False)
    msg = _error(name="mnist", split="test", root=str(root))
    _assert_names_fix(msg, root / IMAGES, "not a valid", *needles, "Replace it", NO_SKIP)


def test_image_and_label_counts_differ(tmp_path: Path) -> None:
    root = _mnist_root(tmp_path, _idx((3, 28, 28)), _idx((2,)))
    msg = _error(name="fashion-mnist", split="test", root=str(root))
    _assert_names_fix(msg, root / f"{IMAGES}.gz", "3 images", "2 labels", "Replace both")
    assert str(root / f"{LABELS}.gz") in msg
    # counts agree but the shapes are not the official ones
    root = _mnist_root(tmp_path / "small", _idx((2, 8, 8)), _idx((2,)))
    msg = _error(name="mnist", split="test", root=str(root))
    _assert_names_fix(msg, root / f"{IMAGES}.gz", "(2, 8, 8)", "(10000, 28, 28)", NO_SKIP)


def test_cached_file_says_delete_and_download(isolated_cache: Path) -> None:
    root = _mnist_root(isolated_cache / "mnist", _idx((2, 28, 28)))
    path = root / f"{IMAGES}.gz"
    path.write_bytes(path.read_bytes()[:-12])
    msg = _error(name="mnist", split="test")
    _assert_names_fix(msg, path, "truncated", "Delete it and run again to download", NO_SKIP)


def test_idx_cannot_be_skipped(tmp_path: Path) -> None:
    root = _mnist_root(tmp_path, _idx((2, 28, 28), code=0x07))
    with pytest.raises(DataError, match=NO_SKIP):
        _build(name="stacked-mnist", split="test", root=str(root), skip_bad_files=True)


def test_read_idx_never_raises_raw() -> None:
    rng = np.random.default_rng(0)
    for n in range(200):
        data = bytes([0, 0, 8, int(rng.integers(0, 5))]) + rng.bytes(int(rng.integers(0, 40)))
        try:
            read_idx(data, f"blob{n}")
        except DataError as e:
            assert f"blob{n}" in str(e)


# -- CIFAR-10 batches and JPEG copy -------------------------------------------------------
def test_cifar_batch_that_cannot_be_decoded(tmp_path: Path) -> None:
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]})
    path = _write(tmp_path / "cifar-10-batches-py" / "test_batch", good[: len(good) // 2])
    msg = _error(name="cifar10", split="test", root=str(tmp_path))
    _assert_names_fix(msg, path, "Checksum mismatch", "truncated", "Replace", NO_SKIP)
    # the unpickler itself turns a truncated pickle into a DataError that names it
    with pytest.raises(DataError, match=re.escape(f"{path} is not a readable CIFAR-10 batch")):
        restricted_loads(good[:-7], str(path))
    # skipping cannot help: one batch file holds 10,000 images
    with pytest.raises(DataError, match=NO_SKIP):
        _build(name="cifar10", split="test", root=str(tmp_path), skip_bad_files=True)


def test_cifar_truncated_tarball(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = np.random.default_rng(0).bytes(50_000)  # incompressible
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path = _write(tmp_path / "cifar-10-python.tar.gz", buf.getvalue()[:20_000])
    msg = _error(name="cifar10", split="test", root=str(path))
    _assert_names_fix(msg, path, "not a readable tar archive", "truncated", NO_SKIP)


def _cifar_jpegs(root: Path, bad: dict[str, bytes]) -> Path:
    for cls, color in (("cat", (200, 0, 0)), ("dog", (0, 0, 200))):
        for i in range(3):
            _write(root / "test" / cls / f"{i}.jpg", _png_bytes(color, 32, "JPEG"))
    for name, data in bad.items():
        _write(root / "test" / name, data)
    return root


def test_cifar_jpeg_copy(tmp_path: Path) -> None:
    jpeg = _png_bytes((0, 0, 200), 32, "JPEG")
    root = _cifar_jpegs(tmp_path / "copy", {"dog/1.jpg": jpeg[: len(jpeg) // 2]})
    msg = _error(name="cifar10", split="test", root=str(root))
    assert "cannot decode test/dog/1.jpg in " + str(root) in msg and SKIP_HINT in msg
    ds, msgs = _skipping(2, name="cifar10", split="test", root=str(root))
    assert len(ds) == 5 and ds.tensors["label"].tolist() == [3, 3, 3, 5, 5]
    assert "test/dog/1.jpg" in msgs[0] and "skipped 1 unreadable file(s)" in msgs[1]
    assert ds.info["skipped"] == ["test/dog/1.jpg"]
    # through the translation sets too (load_cifar): the labels stay aligned
    ds, _ = _skipping(2, name="cifar-cat2dog", split="test", root=str(root))
    assert len(ds) == 2  # cats (red) -> dogs (blue), the unreadable dog left out
    assert ds.tensors["a"][:, 0].float().mean() > 150 < ds.tensors["real"][:, 2].float().mean()
    # a truncated zip of the copy
    with zipfile.ZipFile(tmp_path / "copy.zip", "w") as zf:
        zf.writestr("test/cat/0.jpg", jpeg)
    path = tmp_path / "copy.zip"
    path.write_bytes(path.read_bytes()[:-30])
    msg = _error(name="cifar10", split="test", root=str(path))
    assert "truncated" in msg and str(path) in msg


# -- image folders ------------------------------------------------------------------------
BAD_FILES = {
    "broken.png": b"\x89PNG\r\n\x1a\n garbage",
    "empty.png": b"",
    "text.jpg": b"just some text, not an image",
    "cut.jpg": _png_bytes(fmt="JPEG")[:60],
    "cut.png": _noise_png()[:400],  # the image data ends early
}


@pytest.mark.parametrize(("name", "data"), sorted(BAD_FILES.items()))
def test_image_folder_names_the_bad_file(tmp_path: Path, name: str, data: bytes) -> None:
    _write(tmp_path / "cls" / "good.png", _png_bytes())
    _write(tmp_path / "cls" / name, data)
    msg = _error(name="image-folder", path=str(tmp_path))
    assert f"cls/{name} in {tmp_path}" in msg, msg
    assert "delete or replace it" in msg and SKIP_HINT in msg


def test_image_folder_skips_with_warnings(tmp_path: Path) -> None:
    for cls in ("a", "b"):
        _write(tmp_path / cls / "good.png", _png_bytes())
    for name, data in BAD_FILES.items():
        _write(tmp_path / "a" / name, data)
    ds, msgs = _skipping(len(BAD_FILES) + 1, name="image-folder", path=str(tmp_path))
    assert len(ds) == 2 and ds.tensors["label"].tolist() == [0, 1]
    assert sorted(ds.info["skipped"]) == sorted(f"a/{n}" for n in BAD_FILES)
    for name in BAD_FILES:
        assert any(f"a/{name} in {tmp_path}" in m for m in msgs), name
    assert f"skipped {len(BAD_FILES)} unreadable file(s)" in msgs[-1] and "2 of 7" in msgs[-1]


def test_image_folder_all_bad_and_empty(tmp_path: Path) -> None:
    for name, data in BAD_FILES.items():
        _write(tmp_path / "bad" / name, data)
    with pytest.raises(DataError, match="none of the 5 image"):
        _skipping(5, name="image-folder", path=str(tmp_path / "bad"))
    (tmp_path / "empty").mkdir()
    msg = _error(name="image-folder", path=str(tmp_path / "empty"), skip_bad_files=True)
    assert "found no images" in msg and str(tmp_path / "empty") in msg


def test_image_zip_damaged_member_and_truncated_zip(tmp_path: Path) -> None:
    path = tmp_path / "imgs.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.png", _png_bytes())
        zf.writestr("b.png", _png_bytes((0, 255, 0)))
    raw = bytearray(path.read_bytes())
    at = raw.index(_png_bytes((0, 255, 0))) + 40
    raw[at] ^= 0xFF  # b.png's bytes no longer match their CRC
    path.write_bytes(bytes(raw))
    msg = _error(name="image-folder", path=str(path))
    assert f"cannot read b.png in the zip {path}" in msg and "CRC" in msg and SKIP_HINT in msg
    ds, _ = _skipping(2, name="image-folder", path=str(path))
    assert len(ds) == 1
    path.write_bytes(bytes(raw[:-10]))
    msg = _error(name="image-folder", path=str(path))
    assert "not a readable zip file" in msg and "truncated" in msg and str(path) in msg


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about some of them
def test_garbage_after_an_image_magic_is_a_data_error(tmp_path: Path) -> None:
    # Pillow's plugins raise many types (struct.error, SyntaxError, ...) on damaged headers
    rng = np.random.default_rng(1)
    magics = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"P6\n"]
    exts = [".png", ".jpg", ".gif", ".bmp", ".tif", ".ppm"]
    for k, (magic, ext) in enumerate(zip(magics * 4, exts * 4)):
        folder = tmp_path / f"f{k}"
        _write(folder / f"x{ext}", magic + rng.bytes(int(rng.integers(0, 64))))
        with pytest.raises(DataError, match=f"x{re.escape(ext)} in"):
            _build(name="image-folder", path=str(folder))


# -- paired and unpaired folders ----------------------------------------------------------
def test_paired_folders_skip_the_pair(tmp_path: Path) -> None:
    for i in range(3):
        _write(tmp_path / "A" / f"{i}.png", _png_bytes())
        _write(tmp_path / "B" / f"{i}.png", _png_bytes((0, 255, 0)))
    _write(tmp_path / "A" / "1.png", b"not a png")
    msg = _error(name="paired-folder", root=str(tmp_path))
    assert f"cannot decode A/1.png in {tmp_path}" in msg and SKIP_HINT in msg
    ds, msgs = _skipping(2, name="paired-folder", root=str(tmp_path))
    assert len(ds) == 2 and ds.info["skipped"] == ["A/1.png"]
    assert "its pair B/1.png is left out too" in msgs[0] and "2 of 3 pair(s)" in msgs[1]
    for i in range(3):
        _write(tmp_path / "B" / f"{i}.png", b"")
    _write(tmp_path / "A" / "1.png", _png_bytes())
    with pytest.raises(DataError, match=r"none of the 3 pair\(s\)"):
        _skipping(3, name="paired-folder", root=str(tmp_path))


def test_paired_side_by_side(tmp_path: Path) -> None:
    _write(tmp_path / "train" / "0.png", _png_bytes(size=8))
    _write(tmp_path / "train" / "1.png", _png_bytes()[:30])
    buf = io.BytesIO()
    Image.new("RGB", (1, 8)).save(buf, format="PNG")
    _write(tmp_path / "train" / "2.png", buf.getvalue())  # one pixel wide: no A | B
    msg = _error(name="paired-folder", root=str(tmp_path), split="train")
    assert f"train/1.png in {tmp_path}" in msg
    ds, msgs = _skipping(3, name="paired-folder", root=str(tmp_path), split="train")
    assert len(ds) == 1 and "1 pixel wide" in msgs[1]
    (tmp_path / "empty").mkdir()
    assert "found no images" in _error(name="paired-folder", root=str(tmp_path / "empty"))


def test_unpaired_folders_cut_to_the_readable(tmp_path: Path) -> None:
    for i in range(3):
        _write(tmp_path / "trainA" / f"{i}.png", _png_bytes())
        _write(tmp_path / "trainB" / f"{i}.png", _png_bytes((0, 0, 255)))
    _write(tmp_path / "trainA" / "2.png", b"\xff\xd8\xff broken jpeg in a png name")
    msg = _error(name="unpaired-folder", root=str(tmp_path), split="train")
    assert f"cannot decode trainA/2.png in {tmp_path}" in msg and SKIP_HINT in msg
    ds, msgs = _skipping(2, name="unpaired-folder", root=str(tmp_path), split="train")
    assert len(ds) == 2 and ds.tensors["a"].shape[0] == 2
    assert "trainA/2.png" in msgs[0] and "loaded 2 of 3" in msgs[1]
    assert ds.info["skipped"] == ["trainA/2.png"] and "trainA/2.png" not in ds.info["files_a"]
    assert len(ds.info["files_b"]) == 2
    (tmp_path / "none").mkdir()
    msg = _error(name="unpaired-folder", root=str(tmp_path / "none"))
    assert "expected the two domains" in msg


# -- the option from the recipe to the loader ---------------------------------------------
def test_skip_bad_files_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    for i in range(4):
        _write(folder / f"{i}.png", _png_bytes((60 * i, 0, 0)))
    _write(folder / "bad.png", b"not a png")
    args = [
        "train",
        "--set", f"data={{name: image-folder, path: '{folder}', channels: 1}}",
        "--skip-bad-files",
        "--set", "train.steps=2",
        "--set", "train.batch_size=4",
        "--set", "train.tensorboard=false",
        "--set", "nets.g.hidden=[8]",
        "--set", "nets.d.hidden=[8]",
        "--no-progress",
        "--runs", str(tmp_path / "runs"),
    ]  # fmt: skip
    with pytest.warns(SkippedFileWarning) as caught:
        assert main(args) == 0
    assert [str(w.message).count("bad.png") for w in caught] == [1, 0]  # the file, the count
    (config,) = (tmp_path / "runs").glob("*/config.yaml")
    assert "skip_bad_files: true" in config.read_text()


def test_skip_bad_files_in_the_config() -> None:
    cfg = load_config("dcgan-mnist", ["data.skip_bad_files=true"])
    assert cfg.data["skip_bad_files"] is True
    assert "skip_bad_files" not in load_config("gan-digits", ["data.skip_bad_files=false"]).data
    with pytest.raises(ConfigError, match="'digits' is bundled or generated"):
        load_config("gan-digits", ["data.skip_bad_files=true"])
