"""MNIST and Fashion-MNIST from their four idx files.

Files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each either gzipped
(``.gz``, as distributed) or uncompressed. Checksums are md5s of the *uncompressed*
bytes, so a copy that was decompressed or recompressed (Debian, PyPI wheels) is
accepted exactly when its content is the official one.

Damaged files are DataErrors that name the file and say what is wrong (a truncated or
non-gzip ``.gz``, a bad idx header, a size that does not match the header, image and label
counts that differ, a checksum mismatch) and what to do; the structure is checked before
the checksum so that the message says *what* is wrong. One idx file holds a whole split,
so ``skip_bad_files`` cannot leave a damaged one out (the message says so).

Resolutions: 28 is native; 32 pads 2 zero pixels on each side (lossless, the LeNet-5
convention and what DCGAN-style 32x32 networks expect); 64 is a bilinear
(``align_corners=False``) upsampling of the padded 32x32 version, rounded to uint8.
"""

from __future__ import annotations

import functools
import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from ganforge.data._badfiles import cannot_skip
from ganforge.data._image import resize_bilinear_uint8
from ganforge.data.base import TensorDataset
from ganforge.data.download import (
    LOCAL_COPY_HINT,
    RemoteFile,
    cache_dir,
    check_bytes,
    fetch,
    remote,
)
from ganforge.errors import DataError
from ganforge.registry import DATASETS

# idx type codes (third byte of the magic number) -> big-endian numpy dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_SPLIT_SIZES = {"train": 60_000, "test": 10_000}


@dataclass(frozen=True)
class _IdxDataset:
    name: str
    base_url: str
    homepage: str
    md5: dict[str, str]  # md5 of the uncompressed file, by file name (no .gz)
    gz_md5: dict[str, str]  # md5 of the .gz exactly as served at base_url
    classes: tuple[str, ...]
    folders: tuple[str, ...]  # sub-folders of root also searched (common layouts)

    def remote_files(self, split: str | None = None) -> list[RemoteFile]:
        names = _SPLIT_FILES[split] if split else tuple(self.md5)
        return [RemoteFile(f"{n}.gz", f"{self.base_url}{n}.gz", md5=self.gz_md5[n]) for n in names]


MNIST = _IdxDataset(
    name="mnist",
    # The mirror torchvision uses; yann.lecun.com often refuses automated downloads.
    base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
    homepage="http://yann.lecun.com/exdb/mnist/",
    md5={
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    gz_md5={
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    classes=tuple(str(i) for i in range(10)),
    folders=("mnist", "MNIST/raw", "raw"),
)

FASHION_MNIST = _IdxDataset(
    name="fashion-mnist",
    base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    md5={
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    gz_md5={
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    folders=("fashion-mnist", "FashionMNIST/raw", "raw"),
)


# -- idx format ---------------------------------------------------------------------------
def read_idx(
    data: bytes, what: str = "idx data", *, ndim: int | None = None, fix: str = ""
) -> np.ndarray:
    """Parse the idx format (LeCun's MNIST container) strictly.

    Layout: 2 zero bytes, a type code (0x08 = uint8, ...), the number of dimensions
    ``d``, then ``d`` big-endian uint32 sizes, then the values in C order. The data
    must be exactly as long as the header says: a truncated file or trailing bytes
    are errors, not silently ignored.

    Returns:
        a read-only numpy array of the declared shape (native byte order).

    Raises:
        DataError: naming ``what`` and the problem, ending with ``fix`` (what to do;
            default: replace it with a fresh copy).
    """

    def bad(problem: str) -> DataError:
        return DataError(
            f"{what} is not a valid idx file: {problem}. It is corrupt or not an MNIST-style "
            f"file. {fix or 'Replace it with a fresh copy.'}"
        )

    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        shown = data[:4].hex() or "(empty file)"
        raise bad(f"bad magic number {shown} (an idx file starts with 0000 and two codes)")
    code, d = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise bad(f"unknown type code 0x{code:02x} (known: 08 09 0b 0c 0d 0e)")
    if ndim is not None and d != ndim:
        raise bad(f"expected {ndim} dimension(s), the header says {d}")
    header = 4 + 4 * d
    if len(data) < header:
        raise bad("the header is truncated")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=d, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected:
        raise bad(
            f"shape {shape} needs {expected} bytes but the file has {len(data)} "
            f"({'truncated' if len(data) < expected else 'trailing bytes'})"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def _decompress(raw: bytes, path: Path, fix: str) -> bytes:
    # Detect gzip by its magic bytes, not by the file name: some mirrors serve
    # uncompressed files under .gz names and vice versa (read_idx then checks the bytes).
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        problem = "the gzip stream ends early: the file is truncated"
    except (OSError, zlib.error) as e:
        problem = f"the data is damaged ({type(e).__name__}: {e})"
    raise DataError(f"{path} is a corrupt or truncated gzip file: {problem}. {fix}") from None


def _fix(spec: _IdxDataset, name: str, root: str | None, *, both: bool = False) -> str:
    """What to do about a damaged file (or pair) of ``spec``; says it cannot be skipped."""
    url = f"{spec.base_url}{name}.gz"
    it, copy = ("both files", "fresh copies") if both else ("it", "a fresh copy")
    if root is None:
        what = f"Delete {it} and run again to download {copy} (from {spec.base_url})"
    else:
        what = (
            f"Replace {it} with {copy} (from {url if not both else spec.base_url}), or leave "
            f"data.root unset to download {spec.name} into {cache_dir() / spec.name}"
        )
    return f"{what}. {cannot_skip('every image or label of the split')}"


# -- loading ------------------------------------------------------------------------------
def _search_dirs(spec: _IdxDataset, root: Path) -> list[Path]:
    return [root, *(root / sub for sub in spec.folders)]


def _find(spec: _IdxDataset, root: Path, name: str) -> Path | None:
    for d in _search_dirs(spec, root):
        for candidate in (d / name, d / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _locate(spec: _IdxDataset, split: str, root: str | None) -> list[Path]:
    """Paths of the split's (images, labels) files, downloading into the cache if needed."""
    names = _SPLIT_FILES[split]
    if root is None:
        directory = cache_dir() / spec.name
        found = [_find(spec, directory, n) for n in names]
        if any(p is None for p in found):
            missing = [rf for rf, p in zip(spec.remote_files(split), found) if p is None]
            fetch(missing, directory)
            found = [_find(spec, directory, n) for n in names]
        return [p for p in found if p is not None]
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(
            f"{spec.name}: data.root={root!r} is not a folder. Point it at the folder that "
            f"holds {', '.join(names)} (each may be .gz), or leave root unset to download "
            f"{spec.name} from {spec.base_url} into {cache_dir() / spec.name}."
        )
    found = [_find(spec, base, n) for n in names]
    missing = [n for n, p in zip(names, found) if p is None]
    if missing:
        looked = ", ".join(str(d) for d in _search_dirs(spec, base))
        raise DataError(
            f"{spec.name} ({split} split): missing {', '.join(missing)} (or the same name "
            f"with .gz) in data.root={root!r} (looked in {looked}). Expected the files "
            f"{', '.join(names)}; download them from {spec.base_url} (or "
            f"{spec.homepage}), or leave root unset to download into the cache."
        )
    return [p for p in found if p is not None]


def _read(
    spec: _IdxDataset, path: Path, name: str, ndim: int, root: str | None
) -> tuple[np.ndarray, bytes]:
    """Read, decompress and parse one idx file of unsigned bytes -> (array, file content).

    Damage is a DataError naming ``path``, what is wrong and what to do.
    """
    fix = _fix(spec, name, root)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(
            f"Cannot read {path} ({type(e).__name__}: {e}). Check its permissions. {fix}"
        ) from None
    data = _decompress(raw, path, fix)
    what = str(path)
    if path.suffix == ".gz" and data is raw:
        what += " (named .gz but not gzip-compressed, so read as an uncompressed file)"
    array = read_idx(data, what, ndim=ndim, fix=fix)
    if array.dtype != np.uint8:
        raise DataError(
            f"{what} is not a valid {spec.name} file: its idx type code 0x{data[2]:02x} "
            f"declares {array.dtype} values, but {spec.name} stores unsigned bytes (code 0x08). "
            f"{fix}"
        )
    return array, data


def load_idx_dataset(
    spec: _IdxDataset, split: str, root: str | None, resolution: int
) -> TensorDataset:
    """Load one split of an MNIST-style dataset; see :func:`mnist`.

    Checks, in order, each naming the file: readable, gzip intact (when gzipped), idx
    header and length, unsigned bytes, as many images as labels, the official shapes, the
    md5 of the uncompressed content.
    """
    img_path, lbl_path = _locate(spec, split, root)
    img_name, lbl_name = _SPLIT_FILES[split]
    images, img_data = _read(spec, img_path, img_name, 3, root)
    labels, lbl_data = _read(spec, lbl_path, lbl_name, 1, root)
    if len(images) != len(labels):
        raise DataError(
            f"{spec.name} {split}: {img_path} holds {len(images)} images but {lbl_path} holds "
            f"{len(labels)} labels; the two files must belong together (one is damaged or "
            f"from another copy). {_fix(spec, img_name, root, both=True)}"
        )
    n = _SPLIT_SIZES[split]
    if images.shape != (n, 28, 28):
        raise DataError(
            f"{spec.name} {split}: {img_path} holds images of shape {images.shape}; the "
            f"official file holds ({n}, 28, 28). {_fix(spec, img_name, root, both=True)}"
        )
    hint = (
        "Delete it and run again to download a fresh copy from {url}, or replace it with a "
        f"good copy. {cannot_skip('every image or label of the split')} {LOCAL_COPY_HINT}"
    )
    for path, name, data in ((img_path, img_name, img_data), (lbl_path, lbl_name, lbl_data)):
        check_bytes(
            data,
            f"{path} (md5 of the uncompressed content)",
            md5=spec.md5[name],
            hint=hint.format(url=f"{spec.base_url}{name}.gz"),
        )
    del img_data, lbl_data
    if labels.max() >= len(spec.classes):
        # Unreachable with matching checksums; guards against a wrong checksum table.
        raise DataError(
            f"{spec.name} {split}: labels in {lbl_path} exceed 0..{len(spec.classes) - 1}."
        )
    real = torch.from_numpy(images.copy()).unsqueeze(1)  # (N, 1, 28, 28) uint8
    if resolution >= 32:
        real = F.pad(real, (2, 2, 2, 2))  # zero = background: lossless 28 -> 32
    if resolution == 64:
        real = resize_bilinear_uint8(real, 64)
    return TensorDataset(
        name=spec.name,
        kind="images",
        tensors={"real": real, "label": torch.from_numpy(labels.astype(np.int64))},
        num_classes=len(spec.classes),
        info={
            "classes": list(spec.classes),
            "split": split,
            "files": [str(img_path), str(lbl_path)],
            "md5_uncompressed": {img_name: spec.md5[img_name], lbl_name: spec.md5[lbl_name]},
            "resize": {28: "none", 32: "zero-pad 2 px", 64: "zero-pad 2 px, bilinear x2"}[
                resolution
            ],
        },
    )


@DATASETS.register(
    "mnist", paper="LeCun et al. 1998, Gradient-based learning applied to document recognition"
)
def mnist(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    resolution: Literal[28, 32, 64] = 32,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """MNIST handwritten digits: real (N, 1, R, R) uint8 white-on-black, label (N,) 0..9.

    N = 60,000 (train) or 10,000 (test). ``root``: a folder with the four idx files
    (gz or not; also searched: ``root/mnist``, ``root/MNIST/raw``); when None, the
    cache folder, downloading from https://ossci-datasets.s3.amazonaws.com/mnist/ if
    missing. R = 28 native, 32 zero-padded (default), 64 padded then bilinear x2.
    ``skip_bad_files`` is accepted for a uniform ``--skip-bad-files`` but cannot apply: one
    idx file holds the whole split, so a damaged one is a DataError that names it.
    """
    return load_idx_dataset(MNIST, split, root, resolution)


@DATASETS.register(
    "fashion-mnist", paper="Xiao, Rasul & Vollgraf 2017, Fashion-MNIST (arXiv:1708.07747)"
)
def fashion_mnist(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    resolution: Literal[28, 32, 64] = 32,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Fashion-MNIST clothing images: real (N, 1, R, R) uint8, label (N,) 0..9.

    Drop-in replacement for MNIST (Zalando Research, MIT licence), same file names,
    sizes, resolutions (and ``skip_bad_files``) as :func:`mnist`; ``info["classes"]`` names the 10 classes.
    Downloads from http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ when
    ``root`` is None and the cache lacks the files.
    """
    return load_idx_dataset(FASHION_MNIST, split, root, resolution)


def prepare_idx_dataset(spec: _IdxDataset, root: str | None = None) -> Path:
    """Download the missing files of ``spec`` into ``root`` (default: the cache) and verify all."""
    directory = Path(root).expanduser() if root else cache_dir() / spec.name
    missing = [
        rf
        for rf, name in zip(spec.remote_files(), spec.md5)
        if _find(spec, directory, name) is None
    ]
    fetch(missing, directory)
    for split in _SPLIT_FILES:  # checks checksums and idx structure of all four files
        load_idx_dataset(spec, split, str(directory), 28)
    return directory


remote("mnist")(functools.partial(prepare_idx_dataset, MNIST))
remote("fashion-mnist")(functools.partial(prepare_idx_dataset, FASHION_MNIST))


@DATASETS.register(
    "stacked-mnist",
    paper="Metz et al. 2017, Unrolled GANs (Stacked MNIST, 1000 modes); Lin et al. 2018, PacGAN",
)
def stacked_mnist(
    n: Annotated[int, Field(gt=0, le=1_000_000)] = 128_000,
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    resolution: Literal[28, 32, 64] = 32,
    seed: Annotated[int, Field(ge=0)] = 0,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Stacked MNIST: three random MNIST digits as the R, G, B channels; 1000 modes.

    real (N, 3, R, R) uint8; label (N,) = 100 * d_R + 10 * d_G + d_B in 0..999 (the
    mode). The digits are drawn independently and uniformly from ``split`` with a
    generator seeded by ``seed``, so the dataset is reproducible. N = 128,000 as in the
    PacGAN experiments (Lin et al. 2018, section 5.2); mode coverage is scored on
    26,000 samples by the ``stacked-mnist`` metric. ``skip_bad_files``: as for
    :func:`mnist` (cannot apply to idx files).
    """
    base = load_idx_dataset(MNIST, split, root, resolution)
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(base), (n, 3), generator=g)
    digits = base.tensors["label"][pick]  # (N, 3)
    real = base.tensors["real"][pick.flatten(), 0].view(n, 3, resolution, resolution)
    return TensorDataset(
        name="stacked-mnist",
        kind="images",
        tensors={"real": real, "label": digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]},
        num_classes=1000,
        info=dict(base.info, stacked={"n": n, "seed": seed}),
    )
