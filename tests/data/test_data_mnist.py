"""MNIST / Fashion-MNIST from the real idx files; checksums, idx parsing, errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from ganforge.data import TensorDataset
from ganforge.data.mnist import FASHION_MNIST, MNIST, read_idx
from ganforge.errors import DataError
from ganforge.registry import DATASETS

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(scope="module")
def mnist_train(real_data: Path) -> TensorDataset:
    return DATASETS.build({"name": "mnist", "root": str(real_data / "mnist")})


def test_mnist_train(mnist_train: TensorDataset) -> None:
    ds = mnist_train
    assert len(ds) == 60_000 and ds.num_classes == 10
    assert ds.shape == (1, 32, 32) and ds.tensors["real"].dtype == torch.uint8
    assert ds.tensors["label"][:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first labels
    assert ds.tensors["label"].dtype == torch.int64
    assert torch.bincount(ds.tensors["label"]).tolist()[1] == 6742  # "1" is the most frequent
    # white digit on black; the 2-pixel padding is exactly zero
    real = ds.tensors["real"]
    assert real.max().item() == 255
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert real[:, 0][:, border].max().item() == 0


def test_mnist_test_resolutions(real_data: Path) -> None:
    root = str(real_data)  # the parent folder works too: root/mnist is searched
    d28 = DATASETS.build({"name": "mnist", "split": "test", "root": root, "resolution": 28})
    d32 = DATASETS.build({"name": "mnist", "split": "test", "root": root, "resolution": 32})
    d64 = DATASETS.build({"name": "mnist", "split": "test", "root": root, "resolution": 64})
    assert len(d28) == 10_000 and d28.shape == (1, 28, 28)
    assert torch.equal(d32.tensors["real"][:, :, 2:30, 2:30], d28.tensors["real"])  # lossless
    assert d64.shape == (1, 64, 64) and d64.tensors["real"].dtype == torch.uint8
    # bilinear x2 keeps the mean brightness closely
    m32 = d32.tensors["real"].float().mean().item()
    assert d64.tensors["real"].float().mean().item() == pytest.approx(m32, rel=0.01)
    assert torch.equal(d28.tensors["label"], d64.tensors["label"])


def test_fashion_mnist(real_data: Path) -> None:
    root = str(real_data / "fashion-mnist")
    test = DATASETS.build({"name": "fashion-mnist", "split": "test", "root": root})
    assert len(test) == 10_000 and test.shape == (1, 32, 32)
    assert torch.bincount(test.tensors["label"]).tolist() == [1000] * 10  # balanced classes
    assert test.info["classes"][9] == "Ankle boot"
    train = DATASETS.build({"name": "fashion-mnist", "root": root, "resolution": 28})
    assert len(train) == 60_000 and train.shape == (1, 28, 28)
    assert torch.bincount(train.tensors["label"]).tolist() == [6000] * 10


def _decompressed_test_split(real_data: Path, dst: Path, sub: str = "mnist") -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        (dst / name).write_bytes(gzip.decompress((real_data / sub / f"{name}.gz").read_bytes()))
    return dst


def test_uncompressed_and_recompressed_copies_are_accepted(real_data: Path, tmp_path: Path) -> None:
    plain = _decompressed_test_split(real_data, tmp_path / "plain")
    a = DATASETS.build({"name": "mnist", "split": "test", "root": str(plain)})
    recompressed = tmp_path / "recompressed"
    recompressed.mkdir()
    for name in TEST_FILES:  # different gzip bytes, same content: accepted
        data = (plain / name).read_bytes()
        (recompressed / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
    b = DATASETS.build({"name": "mnist", "split": "test", "root": str(recompressed)})
    assert torch.equal(a.tensors["real"], b.tensors["real"])


def test_wrong_checksum(real_data: Path, tmp_path: Path) -> None:
    root = _decompressed_test_split(real_data, tmp_path / "bad")
    path = root / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[100] = (data[100] + 1) % 10  # still a valid idx file, wrong content
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as err:
        DATASETS.build({"name": "mnist", "split": "test", "root": str(root)})
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte" in msg and MNIST.md5["t10k-labels-idx1-ubyte"] in msg
    assert "got" in msg and "fresh copy" in msg


def test_fashion_labels_are_not_mnist_labels(real_data: Path, tmp_path: Path) -> None:
    # Fashion-MNIST files in an MNIST root are caught by the checksum
    shutil.copytree(real_data / "fashion-mnist", tmp_path / "fm")
    with pytest.raises(DataError, match="Checksum mismatch"):
        DATASETS.build({"name": "mnist", "split": "test", "root": str(tmp_path / "fm")})
    assert FASHION_MNIST.md5 != MNIST.md5


def test_missing_dir_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a folder"):
        DATASETS.build({"name": "mnist", "root": str(tmp_path / "nope")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as err:
        DATASETS.build({"name": "mnist", "split": "test", "root": str(tmp_path / "empty")})
    assert "t10k-images-idx3-ubyte" in str(err.value) and "t10k-labels-idx1-ubyte" in str(err.value)


def test_corrupt_gzip(real_data: Path, tmp_path: Path) -> None:
    for name in TEST_FILES:
        raw = (real_data / "mnist" / f"{name}.gz").read_bytes()
        (tmp_path / f"{name}.gz").write_bytes(raw[: len(raw) // 2])  # truncated
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        DATASETS.build({"name": "mnist", "split": "test", "root": str(tmp_path)})


def test_cache_is_used_and_missing_cache_downloads(real_data: Path, isolated_cache: Path) -> None:
    # an empty cache asks the network, which the tests disable -> a teaching error
    with pytest.raises(DataError) as err:
        DATASETS.build({"name": "mnist", "split": "test"})
    msg = str(err.value)
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz" in msg
    assert "--set data.root=DIR" in msg
    assert not list((isolated_cache / "mnist").glob("*.part"))
    # files already in the cache are used without any download
    shutil.copytree(real_data / "mnist", isolated_cache / "mnist", dirs_exist_ok=True)
    ds = DATASETS.build({"name": "mnist", "split": "test"})
    assert len(ds) == 10_000


def test_read_idx_is_strict() -> None:
    good = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([1, 2, 3])
    assert read_idx(good).tolist() == [1, 2, 3]
    two_d = bytes([0, 0, 8, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(6)
    assert read_idx(two_d).shape == (2, 3)
    shorts = bytes([0, 0, 0x0B, 1]) + (2).to_bytes(4, "big") + (258).to_bytes(2, "big") * 2
    assert read_idx(shorts).tolist() == [258, 258]
    with pytest.raises(DataError, match="magic"):
        read_idx(b"\x1f\x8b\x08\x00" + good[4:], "x")
    with pytest.raises(DataError, match="type code"):
        read_idx(bytes([0, 0, 7, 1]) + good[4:])
    with pytest.raises(DataError, match="truncated"):
        read_idx(good[:-1])
    with pytest.raises(DataError, match="trailing"):
        read_idx(good + b"\x00")
    with pytest.raises(DataError, match="dimension"):
        read_idx(good, ndim=3)
    with pytest.raises(DataError, match="header"):
        read_idx(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DataError, match="magic"):
        read_idx(b"")
