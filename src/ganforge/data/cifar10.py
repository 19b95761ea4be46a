"""CIFAR-10 from the official "python version" (pickled numpy batches).

Source: https://www.cs.toronto.edu/~kriz/cifar.html (Krizhevsky 2009). The archive
``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/{data_batch_1..5, test_batch,
batches.meta}``; each batch is a pickled dict with ``b"data"`` (10000, 3072) uint8
(row-major 32x32 planes R, G, B) and ``b"labels"`` (list of 10000 ints).

Pickles can run arbitrary code when loaded, so they are read with
:class:`RestrictedUnpickler`, which resolves only the few numpy names an array
needs and refuses everything else. Each batch is checked against the md5 of its
uncompressed bytes (the values torchvision also uses), so the tarball and an
extracted folder are verified the same way.

``root`` may also be the JPEG copy (a zip or folder of ``<split>/<class>/*.jpg``; lossy),
read with the ``image-folder`` helpers. A damaged batch is a DataError that names the file
and says that it cannot be skipped (one batch holds 10,000 images); a damaged JPEG of the
copy is a DataError naming it, or, with ``skip_bad_files=True``, left out with a warning.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field

from ganforge.data import image_folder
from ganforge.data._badfiles import cannot_skip
from ganforge.data.base import TensorDataset, spread
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

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
TARBALL = "cifar-10-python.tar.gz"
TARBALL_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"

#: md5 of each uncompressed member of the official archive.
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
SPLIT_BATCHES = {
    "train": ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"),
    "test": ("test_batch",),
}
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


# -- safe unpickling ----------------------------------------------------------------------
def _numpy_allowlist() -> dict[tuple[str, str], Any]:
    """The globals a pickled numpy array may name, mapped to the real objects.

    The module paths differ between numpy 1 (``numpy.core``) and 2 (``numpy._core``),
    and pickles written by either may be read by either, so both spellings map to the
    callables numpy itself uses for ``__reduce__`` (taken from a live array rather
    than importing ``numpy.core``, which numpy 2 deprecates).
    """
    reconstruct = np.empty(0).__reduce__()[0]  # multiarray._reconstruct
    frombuffer = np.empty(1).__reduce_ex__(5)[0]  # numeric._frombuffer (protocol 5)
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays, dicts, lists and strings, and nothing else.

    ``find_class`` is the only way a pickle can reach a Python callable (``os.system``,
    ``builtins.eval``, ...); here it answers from a fixed allow-list and raises
    :class:`DataError` ("refusing to unpickle ...") for any other name.
    """

    def __init__(self, file: io.BufferedIOBase | io.BytesIO, source: str = "pickle") -> None:
        # encoding="bytes": the official batches were written by Python 2; their str
        # keys come back as bytes (b"data") and numpy's buffers stay raw bytes.
        super().__init__(file, encoding="bytes")
        self.source = source
        self._allowed = _numpy_allowlist()

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed.get((module, name))
        if obj is None:
            raise DataError(
                f"{self.source}: refusing to unpickle {module}.{name}. A CIFAR-10 batch "
                f"only contains numpy arrays, lists and strings; this file asks to call "
                f"other code, so it is not the official data (possibly malicious). Delete "
                f"it and download the official archive from {URL}."
            )
        return obj


def restricted_loads(data: bytes, source: str = "pickle") -> Any:
    """``pickle.loads`` through :class:`RestrictedUnpickler`; malformed data -> DataError."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source).load()
    except DataError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, ValueError, TypeError, ...
        raise DataError(
            f"{source} is not a readable CIFAR-10 batch ({type(e).__name__}: {e}). Replace "
            f"it with a fresh copy of {URL}."
        ) from None


# -- locating and reading -----------------------------------------------------------------
class _Members:
    """Read batch files by name from an extracted folder or from the tarball."""

    def __init__(self, folder: Path | None = None, tarball: Path | None = None) -> None:
        self.folder, self.tarball = folder, tarball
        self._tar_members: dict[str, bytes] | None = None

    def describe(self) -> str:
        return str(self.folder or self.tarball)

    def shown(self, name: str) -> str:
        """The exact file, for messages: ``folder/name`` or ``tarball (member ...)``."""
        if self.folder is not None:
            return str(self.folder / name)
        return f"{self.tarball} (member {FOLDER}/{name})"

    def fix(self, name: str) -> str:
        """What to do about the damaged file ``name``: where a good copy comes from."""
        cache = cache_dir() / "cifar10"
        for path in (self.folder, self.tarball):
            if path is not None and path.is_relative_to(cache):
                return f"Delete {path} and run again to download a fresh copy of {URL}."
        return (
            f"Replace {self.shown(name)} with a good copy (from {URL}), or leave data.root "
            f"unset to download CIFAR-10 into {cache}."
        )

    def has(self, name: str) -> bool:
        if self.folder is not None:
            return (self.folder / name).is_file()
        try:
            self._from_tar(name)
        except DataError:
            return False
        return True

    def read(self, name: str) -> bytes:
        if self.folder is not None:
            path = self.folder / name
            if not path.is_file():
                raise DataError(
                    f"{self.folder} has no {name}. An extracted CIFAR-10 folder must hold "
                    f"{', '.join(BATCH_MD5)}; extract {TARBALL} again or point data.root at "
                    f"the tarball itself."
                )
            try:
                return path.read_bytes()
            except OSError as e:
                raise DataError(
                    f"Cannot read {path} ({type(e).__name__}: {e}). Check its permissions, "
                    f"or replace it with a good copy of {URL}."
                ) from None
        return self._from_tar(name)

    def _from_tar(self, name: str) -> bytes:
        assert self.tarball is not None
        if self._tar_members is None:
            # Read the members straight from the archive: nothing is extracted to disk,
            # so member paths (../../etc) can never write anywhere.
            members: dict[str, bytes] = {}
            try:
                with tarfile.open(self.tarball, "r:*") as tar:
                    for m in tar:
                        base = m.name.rsplit("/", 1)[-1]
                        if m.isfile() and base in BATCH_MD5:
                            f = tar.extractfile(m)
                            if f is not None:
                                members[base] = f.read()
            except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
                raise DataError(
                    f"{self.tarball} is not a readable tar archive ({type(e).__name__}: {e}). "
                    f"It is probably truncated: delete it and run again to download a fresh "
                    f"copy from {URL}, or point data.root at a good copy. "
                    f"{cannot_skip('the whole dataset')}"
                ) from None
            self._tar_members = members
        if name not in self._tar_members:
            raise DataError(
                f"{self.tarball} has no member {FOLDER}/{name}; it is not the official "
                f"CIFAR-10 python archive. Download {URL}."
            )
        return self._tar_members[name]


def _locate(root: str | None) -> _Members:
    if root is None:
        directory = cache_dir() / "cifar10"
        if (directory / FOLDER / "data_batch_1").is_file():
            return _Members(folder=directory / FOLDER)
        fetch([RemoteFile(TARBALL, URL, md5=TARBALL_MD5)], directory)
        return _Members(tarball=directory / TARBALL)
    path = Path(root).expanduser()
    if path.is_file():
        return _Members(tarball=path)
    if (path / "data_batch_1").is_file() or (path / "test_batch").is_file():
        return _Members(folder=path)
    if (path / FOLDER).is_dir():
        return _Members(folder=path / FOLDER)
    if (path / TARBALL).is_file():
        return _Members(tarball=path / TARBALL)
    what = "does not exist" if not path.exists() else "holds neither"
    raise DataError(
        f"cifar10: data.root={root!r} {what} {TARBALL} nor an extracted {FOLDER}/ folder. "
        f"Point data.root at the tarball, at the folder holding it, or at the extracted "
        f"folder; or leave root unset to download {URL} into {cache_dir() / 'cifar10'}. "
        f"{LOCAL_COPY_HINT}"
    )


def _load_batch(members: _Members, name: str) -> tuple[np.ndarray, np.ndarray]:
    data = members.read(name)
    where = members.shown(name)
    # The checksum comes first: a damaged or foreign pickle never reaches the unpickler.
    check_bytes(
        data,
        where,
        md5=BATCH_MD5[name],
        hint=f"{members.fix(name)} {cannot_skip('10,000 images')} {LOCAL_COPY_HINT}",
    )
    return parse_batch(restricted_loads(data, where), where)


def parse_batch(obj: Any, where: str = "batch") -> tuple[np.ndarray, np.ndarray]:
    """Validate an unpickled batch dict -> (images (N, 3, 32, 32) uint8, labels (N,) int64)."""
    if not isinstance(obj, dict):
        raise DataError(
            f"{where}: expected a dict, got {type(obj).__name__}; not a CIFAR-10 batch."
        )
    data = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{where}: 'data' must be a uint8 (N, 3072) array, got {desc}.")
    lab = np.asarray(labels, dtype=np.int64) if labels is not None else None
    if lab is None or lab.shape != (len(data),) or (len(lab) and (lab.min() < 0 or lab.max() > 9)):
        raise DataError(f"{where}: 'labels' must be {len(data)} integers in 0..9.")
    return data.reshape(-1, 3, 32, 32), lab


def _class_names(members: _Members) -> list[str]:
    """Class names from ``batches.meta`` (verified like the batches); the defaults if absent."""
    if not members.has("batches.meta"):
        return list(CLASSES)
    data = members.read("batches.meta")
    where = members.shown("batches.meta")
    check_bytes(data, where, md5=BATCH_MD5["batches.meta"], hint=members.fix("batches.meta"))
    meta = restricted_loads(data, where)
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not (isinstance(names, list) and len(names) == 10):
        raise DataError(f"{where}: expected 10 'label_names', got {names!r}.")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


# -- the JPEG copy (zip or folder of <split>/<class>/*.jpg) ----------------------------------
def _cifar_image_source(root: str | None) -> Path | None:
    """The JPEG copy (zip or folder) that ``root`` names, or None for the official batches."""
    if root is None:
        return None
    p = Path(root).expanduser()
    if p.is_file():
        if p.suffix.lower() == ".zip" and not zipfile.is_zipfile(p):
            raise DataError(
                f"cifar10: data.root={root!r} is not a readable zip file: its central directory "
                f"(at the end of the file) is missing, so it is truncated or damaged. Copy or "
                f"download it again, or point data.root at the official {TARBALL}."
            )
        return p if zipfile.is_zipfile(p) else None
    if not p.is_dir():
        raise DataError(
            f"cifar10: data.root={root!r} does not exist. Point it at the official "
            f"cifar-10-python.tar.gz (or its extracted folder), or at a JPEG copy (a zip or "
            f"folder of <split>/<class>/*.jpg); or leave root unset to download CIFAR-10."
        )
    official = ("data_batch_1", "test_batch", "cifar-10-batches-py", "cifar-10-python.tar.gz")
    if any((p / name).exists() for name in official):
        return None
    if (p / "train").is_dir() or (p / "test").is_dir():
        return p
    zips = sorted(z for z in p.glob("*.zip") if zipfile.is_zipfile(z))
    return zips[0] if len(zips) == 1 else None  # None: the cifar10 loader explains


def _pick(
    labels: torch.Tensor, classes: Sequence[int], limit: int | None, per_class: bool
) -> torch.Tensor:
    """Positions of the ``classes`` in ``labels``, ``limit`` evenly spaced (per class or not)."""
    if not per_class:
        idx = torch.isin(labels, torch.tensor(list(classes))).nonzero().flatten()
        return idx[spread(len(idx), limit)]
    parts = [(labels == c).nonzero().flatten() for c in classes]
    return torch.cat([p[spread(len(p), limit)] for p in parts])


def load_cifar(
    split: str,
    root: str | None,
    classes: Sequence[int] | None = None,
    limit: int | None = None,
    per_class: bool = False,
    skip_bad_files: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """CIFAR-10 images (N, 3, 32, 32) uint8 and labels (N,) int64 of ``classes`` (default all).

    ``root``: anything the ``cifar10`` loader takes, or the JPEG copy (zip or folder with
    ``<split>/<class>/*.jpg``). ``limit``: at most that many (of each class when
    ``per_class``), evenly spaced over the split's order (class-sorted for the JPEG copy),
    so that every class is represented. ``info["cifar_index"]`` holds the positions picked
    in the split of ``info["cifar_n"]`` images. ``skip_bad_files``: leave undecodable JPEGs
    of the copy out with a warning (``info["skipped"]`` lists them); the official batches
    cannot be skipped.
    """
    wanted = list(range(10)) if classes is None else list(classes)
    jpeg = _cifar_image_source(root)
    if jpeg is None:
        ds = cifar10(split, root)  # type: ignore[arg-type]  (official batches: no limit)
        pick = _pick(ds.tensors["label"], wanted, limit, per_class)
        info = {
            "cifar_source": ds.info["source"],
            "classes": ds.info["classes"],
            "cifar_n": len(ds),
            "cifar_index": pick,
            "skipped": [],
        }
        return ds.tensors["real"][pick], ds.tensors["label"][pick], info
    with image_folder._open_source(jpeg) as (names, read, kind):
        prefix = f"{split}/"
        names = [
            n
            for n in names
            if n.startswith(prefix)
            and n.count("/") == 2
            and n.split("/")[1] in CLASSES
            and image_folder._is_image_name(n)
        ]
        folder_labels = torch.tensor([CLASSES.index(n.split("/")[1]) for n in names])
        pick = _pick(folder_labels, wanted, limit, per_class)
        if len(pick) == 0:
            raise DataError(
                f"cifar10: the JPEG copy {jpeg} has no images under {prefix}<class>/ for the "
                f"classes {[CLASSES[c] for c in wanted]}. Expected <split>/<class>/NNNN.jpg "
                f"entries (class folders named {', '.join(CLASSES)})."
            )
        ds = image_folder._load(
            jpeg,
            [names[i] for i in pick.tolist()],
            read,
            kind,
            split,
            None,
            "center",
            3,
            None,
            skip_bad_files=skip_bad_files,
            dataset="cifar10",
        )
    if ds.shape != (3, 32, 32):
        raise DataError(
            f"cifar10: the JPEG copy {jpeg} has {ds.shape} images, not 3x32x32. Point "
            f"data.root at the CIFAR-10 JPEG copy (32x32 images in <split>/<class>/)."
        )
    skipped = set(ds.info["skipped"])
    if skipped:  # the positions of the images that were read
        pick = pick[torch.tensor([names[i] not in skipped for i in pick.tolist()])]
    info = {
        "cifar_source": f"{jpeg} (JPEG copy: lossy)",
        "classes": list(CLASSES),
        "cifar_n": len(names),
        "cifar_index": pick,
        "skipped": sorted(skipped),
    }
    return ds.tensors["real"], folder_labels[pick], info


@DATASETS.register(
    "cifar10", paper="Krizhevsky 2009, Learning multiple layers of features from tiny images"
)
def cifar10(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    limit: Annotated[int, Field(gt=0)] | None = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """CIFAR-10: real (N, 3, 32, 32) uint8, label (N,) 0..9.

    N = 50,000 (train) or 10,000 (test). ``root``: the official tarball, a folder holding
    it, or an extracted ``cifar-10-batches-py`` folder; or a JPEG copy (a zip or folder of
    ``<split>/<class>/*.jpg``, lossy: the card's ``source`` says so); when None, the cache
    folder, downloading https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (163 MB,
    md5 c58f30108f718f92721af3b95e74349a) if missing. ``limit``: at most that many
    images, evenly spaced over the split (every class represented). ``skip_bad_files``:
    leave undecodable JPEGs of the JPEG copy out with a warning (``info["skipped"]``); a
    damaged official batch cannot be skipped (its error says so).
    """
    if limit is not None or _cifar_image_source(root) is not None:
        real, labels, info = load_cifar(split, root, limit=limit, skip_bad_files=skip_bad_files)
        return TensorDataset(
            name="cifar10",
            kind="images",
            tensors={"real": real, "label": labels},
            num_classes=10,
            info={
                "classes": info["classes"],
                "split": split,
                "source": info["cifar_source"],
                "skipped": info["skipped"],
            },
        )
    members = _locate(root)
    parts = [_load_batch(members, b) for b in SPLIT_BATCHES[split]]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    classes = _class_names(members)
    return TensorDataset(
        name="cifar10",
        kind="images",
        tensors={"real": torch.from_numpy(images), "label": torch.from_numpy(labels)},
        num_classes=10,
        info={"classes": classes, "split": split, "source": members.describe()},
    )


@remote("cifar10")
def prepare(root: str | None = None) -> Path:
    """Download the official archive into ``root`` (default: the cache) and verify it."""
    directory = Path(root).expanduser() if root else cache_dir() / "cifar10"
    if not (directory / FOLDER / "data_batch_1").is_file():
        fetch([RemoteFile(TARBALL, URL, md5=TARBALL_MD5)], directory)
    for split in SPLIT_BATCHES:
        cifar10(split, str(directory))
    return directory
