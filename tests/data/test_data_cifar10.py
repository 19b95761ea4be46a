"""CIFAR-10 pickled batches: a synthetic archive of the same structure, and a safe unpickler."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.data import cifar10 as cifar_mod
from ganforge.data.cifar10 import RestrictedUnpickler, restricted_loads
from ganforge.errors import DataError
from ganforge.registry import DATASETS

PER_BATCH = 4
NAMES = [
    b"airplane",
    b"automobile",
    b"bird",
    b"cat",
    b"deer",
    b"dog",
    b"frog",
    b"horse",
    b"ship",
    b"truck",
]


def _batch(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    obj = {
        b"batch_label": b"synthetic batch",
        b"labels": [int(v) for v in rng.integers(0, 10, PER_BATCH)],
        b"data": rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
        b"filenames": [b"img.png"] * PER_BATCH,
    }
    return pickle.dumps(obj, protocol=4)


def _members(**override: bytes) -> dict[str, bytes]:
    members = {f"data_batch_{i}": _batch(i) for i in range(1, 6)}
    members["test_batch"] = _batch(99)
    members["batches.meta"] = pickle.dumps({b"label_names": NAMES, b"num_vis": 3072}, protocol=4)
    members.update(override)
    return members


def _write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def synthetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, bytes]]:
    """A cifar-10-python.tar.gz with tiny batches; the md5 table patched to match them."""
    members = _members()
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in members.items()}
    monkeypatch.setattr(cifar_mod, "BATCH_MD5", md5)
    tar = _write_tar(tmp_path / "cifar-10-python.tar.gz", members)
    return tar, members


def test_load_from_tarball(synthetic: tuple[Path, dict[str, bytes]]) -> None:
    tar, members = synthetic
    ds = DATASETS.build({"name": "cifar10", "root": str(tar)})
    assert len(ds) == 5 * PER_BATCH and ds.shape == (3, 32, 32) and ds.num_classes == 10
    assert ds.tensors["real"].dtype == torch.uint8 and ds.tensors["label"].dtype == torch.int64
    first = pickle.loads(members["data_batch_1"])
    # row layout: 1024 red values (row-major 32x32), then green, then blue
    assert torch.equal(
        ds.tensors["real"][0, 0], torch.from_numpy(first[b"data"][0, :1024].reshape(32, 32))
    )
    assert torch.equal(
        ds.tensors["real"][0, 2], torch.from_numpy(first[b"data"][0, 2048:].reshape(32, 32))
    )
    assert ds.tensors["label"][:PER_BATCH].tolist() == first[b"labels"]
    assert ds.info["classes"][0] == "airplane"
    test = DATASETS.build({"name": "cifar10", "split": "test", "root": str(tar.parent)})
    assert len(test) == PER_BATCH


def test_load_from_extracted_folder(
    synthetic: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    tar, _ = synthetic
    with tarfile.open(tar) as t:
        t.extractall(tmp_path / "x", filter="data")
    a = DATASETS.build({"name": "cifar10", "root": str(tmp_path / "x")})
    b = DATASETS.build({"name": "cifar10", "root": str(tmp_path / "x" / "cifar-10-batches-py")})
    c = DATASETS.build({"name": "cifar10", "root": str(tar)})
    assert torch.equal(a.tensors["real"], c.tensors["real"]) and torch.equal(
        b.tensors["label"], c.tensors["label"]
    )


def test_cache_layout(synthetic: tuple[Path, dict[str, bytes]], isolated_cache: Path) -> None:
    tar, _ = synthetic
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz"):  # network is off in tests
        DATASETS.build({"name": "cifar10"})
    (isolated_cache / "cifar10").mkdir(parents=True, exist_ok=True)
    (isolated_cache / "cifar10" / "cifar-10-python.tar.gz").write_bytes(tar.read_bytes())
    assert len(DATASETS.build({"name": "cifar10", "split": "test"})) == PER_BATCH


def test_checksum_mismatch(tmp_path: Path) -> None:
    # real md5 table, synthetic bytes -> refused before unpickling
    tar = _write_tar(tmp_path / "cifar-10-python.tar.gz", _members())
    with pytest.raises(DataError) as err:
        DATASETS.build({"name": "cifar10", "split": "test", "root": str(tar)})
    assert "test_batch" in str(err.value) and cifar_mod.BATCH_MD5["test_batch"] in str(err.value)


def test_missing_root_and_bad_tar(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        DATASETS.build({"name": "cifar10", "root": str(tmp_path / "nope")})
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00not really a tarball")
    with pytest.raises(DataError, match="not a readable tar"):
        DATASETS.build({"name": "cifar10", "root": str(bad)})


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _Evil(marker)}, protocol=2)
    with pytest.raises(DataError, match="refusing to unpickle"):
        restricted_loads(payload, "evil")
    assert not marker.exists()
    eval_payload = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(DataError, match=r"refusing to unpickle builtins\.eval"):
        restricted_loads(eval_payload, "evil")
    with pytest.raises(DataError, match="not a readable"):
        restricted_loads(b"\x80\x04garbage", "junk")


def test_malicious_batch_in_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    members = _members(test_batch=pickle.dumps(_Evil(marker), protocol=4))
    monkeypatch.setattr(
        cifar_mod, "BATCH_MD5", {k: hashlib.md5(v).hexdigest() for k, v in members.items()}
    )
    tar = _write_tar(tmp_path / "cifar-10-python.tar.gz", members)
    with pytest.raises(DataError, match="refusing to unpickle"):
        DATASETS.build({"name": "cifar10", "split": "test", "root": str(tar)})
    assert not marker.exists()


def test_numpy_pickles_of_all_protocols_and_numpy_versions() -> None:
    arr = np.arange(3072 * 2, dtype=np.uint8).reshape(2, 3072)
    for protocol in (4, 5):
        out = restricted_loads(pickle.dumps({b"data": arr, b"labels": [1, 2]}, protocol=protocol))
        assert np.array_equal(out[b"data"], arr)
    up = RestrictedUnpickler(io.BytesIO(b""), "x")
    # numpy 1 wrote "numpy.core.multiarray"; numpy 2 writes "numpy._core.multiarray"
    assert up.find_class("numpy.core.multiarray", "_reconstruct") is up.find_class(
        "numpy._core.multiarray", "_reconstruct"
    )
    with pytest.raises(DataError):
        up.find_class("numpy", "load")  # numpy, but not on the list


def test_parse_batch_rejects_wrong_content() -> None:
    with pytest.raises(DataError, match="uint8"):
        cifar_mod.parse_batch({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]})
    with pytest.raises(DataError, match="labels"):
        cifar_mod.parse_batch({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]})
    with pytest.raises(DataError, match="dict"):
        cifar_mod.parse_batch([1, 2])
