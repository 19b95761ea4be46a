"""Translation sets from folders: your own paired / unpaired images, and the standard sets.

``paired-folder`` (pix2pix) reads pairs in one of two layouts (auto-detected):

- ``side-by-side``: each file is A | B concatenated horizontally (pix2pix's "aligned"
  format): A = columns [0, W // 2), B = columns [W // 2, 2 (W // 2)). Files in
  ``root/<split>/`` (``root`` itself when split is None).
- ``folders``: ``root/A/...`` and ``root/B/...`` (with a split: ``root/<split>A`` and
  ``root/<split>B``, or ``root/A/<split>`` and ``root/B/<split>``); a pair is two files
  with the same relative path up to the extension (``A/0001.png`` + ``B/0001.jpg``).
  Unmatched names are an error that lists them.

``direction="AtoB"`` makes A the ``source`` and B the target (``real``); ``"BtoA"``
swaps them. ``unpaired-folder`` (CycleGAN) reads ``root/A`` + ``root/B`` or
``root/<split>A`` + ``root/<split>B`` (CycleGAN's ``trainA``, ``testB``, ...). ``root``
may be a folder or a .zip of one (read without extracting). Images are decoded with the
helpers of ``image-folder`` (Pillow; a corrupt file is a DataError naming it, or with
``skip_bad_files=True`` left out with a warning: a pair whose either file is unreadable,
an unreadable image of a domain).

Standard sets, downloaded from their canonical address into ``cache_dir()/<name>`` (or
read from ``root``) and extracted safely (below): pix2pix ``facades``, ``maps``,
``edges2shoes``; CycleGAN ``horse2zebra``, ``apple2orange``, ``monet2photo``; ``div2k``
(DIV2K high-resolution photos, for super-resolution patches).

Checksum policy. An archive whose checksum is published by a source that pins that
exact address is verified against it (see :data:`ARCHIVES`: each value names its
source). When no published checksum exists (expected None), the first download is
accepted with a warning that prints its sha256, and that sha256 is recorded beside the
archive (``<archive>.sha256`` in the cache folder): every later download or
``ganforge data prepare`` of that archive must match it (trust on first use). Loads
after a complete extraction do not re-hash multi-GB archives; ``prepare`` does.

Extraction is safe and atomic: every member name is checked before anything is written
(no absolute paths, drive letters or ``..``; links, devices and fifos are refused), the
members are streamed into a temp folder beside the destination, and the folder is moved
into place with ``os.replace`` only when all of them are written, so an interrupted or
refused extraction leaves nothing that looks complete.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import stat
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from ganforge.data import image_folder as _imgf
from ganforge.data._badfiles import BadFiles
from ganforge.data.base import TensorDataset, spread
from ganforge.data.download import (
    LOCAL_COPY_HINT,
    cache_dir,
    download,
    file_digest,
    progress_bar,
    remote,
    verify_file,
)
from ganforge.data.translation import _sr, sample_patches
from ganforge.errors import ConfigError, DataError
from ganforge.io import TMP_PREFIX, atomic_write_text
from ganforge.registry import DATASETS

Limit = Annotated[int, Field(gt=0)] | None
Resolution = Annotated[int, Field(gt=0, le=4096)] | None
_PROGRESS_FROM = 2_000


# -- reading images -----------------------------------------------------------------------
def _domain_folders(split: str | None) -> list[tuple[str, str]]:
    """Candidate (prefix A, prefix B) pairs for ``split``, in order of preference."""
    if split is None:
        return [("A/", "B/")]
    s = split.strip("/")
    return [(f"{s}A/", f"{s}B/"), (f"A/{s}/", f"B/{s}/")]


def _images_under(names: list[str], prefix: str) -> list[str]:
    return [n for n in names if n.startswith(prefix) and _imgf._is_image_name(n)]


def _top_folders(names: list[str]) -> str:
    tops = sorted({n.split("/", 1)[0] + "/" for n in names if "/" in n})
    return ", ".join(tops[:20]) or "(none)"


def _check_size(
    first: dict[str, tuple[str, tuple[int, int]]],
    key: str,
    name: str,
    size: tuple[int, int],
    where: str,
) -> None:
    if key not in first:
        first[key] = (name, size)
    elif first[key][1] != size:
        (n0, (w0, h0)), (w, h) = first[key], size
        raise DataError(
            f"{where}: {key} images differ in size: {n0} is {w0}x{h0} but {name} is {w}x{h} "
            f"(width x height). Set a resolution (e.g. `--set data.resolution=256`) to resize "
            f"them all."
        )


def _to_array(im: Image.Image, channels: int) -> np.ndarray:
    return np.asarray(im).reshape(im.size[1], im.size[0], channels)


def _stack(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


# -- paired folders -----------------------------------------------------------------------
def _stem_key(name: str, prefix: str) -> str:
    rel = name[len(prefix) :]
    return rel.rsplit(".", 1)[0] if "." in rel.rsplit("/", 1)[-1] else rel


def _match(names: list[str], pa: str, pb: str, where: str) -> list[tuple[str, str]]:
    """Pairs (file in A, file in B) with the same relative path up to the extension."""
    sides = []
    for prefix in (pa, pb):
        keyed: dict[str, str] = {}
        for n in _images_under(names, prefix):
            key = _stem_key(n, prefix)
            if key in keyed:
                raise DataError(
                    f"{where}: {keyed[key]} and {n} have the same name up to the extension; "
                    f"a pair must be identified by its name. Rename or remove one of them."
                )
            keyed[key] = n
        sides.append(keyed)
    a, b = sides
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:

        def show(keys: list[str], prefix: str) -> str:
            more = f" and {len(keys) - 10} more" if len(keys) > 10 else ""
            return f"{len(keys)} only in {prefix}: {', '.join(keys[:10])}{more}" if keys else ""

        listed = "; ".join(s for s in (show(only_a, pa), show(only_b, pb)) if s)
        raise DataError(
            f"{where}: the folders {pa} and {pb} must hold files with the same names (up to "
            f"the extension), one pair per name; {listed}. Remove or rename the unmatched "
            f"files."
        )
    return [(a[k], b[k]) for k in sorted(a)]


@DATASETS.register("paired-folder", paper="Isola et al. 2017, pix2pix (your own image pairs)")
def paired_folder(
    root: str,
    split: str | None = None,
    layout: Literal["auto", "side-by-side", "folders"] = "auto",
    direction: Literal["AtoB", "BtoA"] = "AtoB",
    resolution: Resolution = None,
    source_channels: Literal[1, 3] = 3,
    target_channels: Literal[1, 3] = 3,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Your image pairs: source (N, C_s, H, W) -> real = target (N, C_t, H, W).

    Args:
        root: a folder, or a .zip of one (layouts in the module docstring).
        split: a sub-folder to read (``train``, ``val``, ``test``) or None for ``root``.
        layout: ``auto`` picks ``folders`` when the A and B folders exist, else
            ``side-by-side``.
        direction: ``AtoB``: source = A, target = B; ``BtoA``: the reverse.
        resolution: resize every image (each half for side-by-side) to R x R with
            Pillow's bicubic filter (antialiased when shrinking), whole image, no crop, so
            the pixels of a pair stay aligned. None keeps the native size; then all
            sources must share one size and all targets one size.
        source_channels, target_channels: 3 (RGB) or 1 (Pillow's "L" grey).
        limit: at most that many pairs, evenly spaced over the sorted names.
        skip_bad_files: leave out the pairs with an unreadable file, with a warning naming
            each file and a summary (``info["skipped"]``); default: a DataError naming it.
    """
    path = Path(root).expanduser()
    with _imgf._open_source(path) as (names, read, kind):
        return _load_paired(
            path,
            names,
            read,
            split,
            layout,
            direction,
            resolution,
            source_channels,
            target_channels,
            limit,
            "paired-folder",
            kind=kind,
            skip_bad_files=skip_bad_files,
        )


def _load_paired(
    path: Path,
    names: list[str],
    read: Callable[[str], bytes],
    split: str | None,
    layout: str,
    direction: str,
    resolution: int | None,
    source_channels: int,
    target_channels: int,
    limit: int | None,
    name: str,
    *,
    kind: str = "folder",
    skip_bad_files: bool = False,
) -> TensorDataset:
    where = f"{name} {path}" + (f" (split {split!r})" if split else "")
    folders = next(
        (
            (pa, pb)
            for pa, pb in _domain_folders(split)
            if _images_under(names, pa) and _images_under(names, pb)
        ),
        None,
    )
    sbs_prefix = "" if split is None else split.strip("/") + "/"
    if layout == "auto":
        layout = "folders" if folders is not None else "side-by-side"
    if layout == "folders":
        if folders is None:
            wanted = " or ".join(f"{pa} + {pb}" for pa, pb in _domain_folders(split))
            raise DataError(
                f"{where}: layout 'folders' needs images in {wanted}; found the top-level "
                f"folders {_top_folders(names)}. For A|B images side by side use layout "
                f"'side-by-side'."
            )
        pairs: list[tuple[str, str | None]] = list(_match(names, *folders, where))
    else:
        files = _images_under(names, sbs_prefix)
        if split is None:  # everything below root, except the A/B folders of the other layout
            files = [n for n in files if not n.startswith(("A/", "B/"))]
        if not files:
            raise DataError(
                f"{where}: found no images{f' under {sbs_prefix}' if sbs_prefix else ''}. "
                f"Expected A|B images side by side (pix2pix format) in "
                f"{sbs_prefix or 'the folder'}, or the folders A/ and B/ (layout 'folders'). "
                f"Top-level folders: {_top_folders(names)}."
            )
        pairs = [(n, None) for n in files]
    pairs = [pairs[i] for i in spread(len(pairs), limit).tolist()]

    channels = (
        {"A": source_channels, "B": target_channels}
        if direction == "AtoB"
        else {"A": target_channels, "B": source_channels}
    )
    modes = {side: "RGB" if c == 3 else "L" for side, c in channels.items()}
    out: dict[str, list[np.ndarray]] = {"A": [], "B": []}
    first: dict[str, tuple[str, tuple[int, int]]] = {}
    bad = BadFiles(name, str(path), skip_bad_files, unit="pair")
    kept: list[tuple[str, str | None]] = []

    def image(file: str, mode: str, other: str | None) -> Image.Image | None:
        also = f"; its pair {other} is left out too" if other else ""
        try:
            return _imgf._open_image(_imgf._read_member(read, file), mode)
        except _imgf._Unreadable as e:
            shown = _imgf.shown_name(path, file, kind)
            bad.bad(file, shown, e.verb, e.detail, _imgf.IMAGE_FIX, also)
            return None

    with progress_bar(
        f"reading {path.name}", len(pairs), enabled=len(pairs) >= _PROGRESS_FROM
    ) as advance:
        for k, (fa, fb) in enumerate(pairs):
            if k % 256 == 255:
                advance(256)
            if fb is None:  # side by side: decode once, cut in two halves
                im = image(fa, "RGB", None)
                if im is None:
                    continue
                w2, h = im.size[0] // 2, im.size[1]
                if w2 == 0:
                    shown = _imgf.shown_name(path, fa, kind)
                    detail = f"it is {im.size[0]} pixel wide, so it holds no A | B pair"
                    bad.bad(fa, shown, "cannot split", detail, "Remove it or fix it")
                    continue
                halves = {"A": im.crop((0, 0, w2, h)), "B": im.crop((w2, 0, 2 * w2, h))}
                halves = {
                    s: (v if modes[s] == "RGB" else v.convert("L")) for s, v in halves.items()
                }
                files = {"A": fa, "B": fa}
            else:
                im_a = image(fa, modes["A"], fb)
                im_b = None if im_a is None else image(fb, modes["B"], fa)
                if im_a is None or im_b is None:
                    continue
                halves = {"A": im_a, "B": im_b}
                files = {"A": fa, "B": fb}
            for side, im in halves.items():
                if resolution is None:
                    _check_size(first, side, files[side], im.size, where)
                else:
                    im = _imgf._resize(im, resolution, "none")
                out[side].append(_to_array(im, channels[side]))
            kept.append((fa, fb))
    bad.finish(len(pairs), len(kept))
    pairs = kept
    a, b = _stack(out["A"]), _stack(out["B"])
    source, target = (a, b) if direction == "AtoB" else (b, a)
    return TensorDataset(
        name=name,
        kind="images",
        tensors={"real": target, "source": source},
        info={
            "task": "paired",
            "condition": "source",
            "source_shape": tuple(source.shape[1:]),
            "source": str(path),
            "split": split,
            "layout": layout,
            "direction": direction,
            "files": [p[0] for p in pairs] if layout == "side-by-side" else None,
            "resize": "none" if resolution is None else f"PIL bicubic to {resolution}, no crop",
            "skipped": bad.skipped,
        },
        aliases={"target": "real"},
    )


# -- unpaired folders ---------------------------------------------------------------------
@DATASETS.register(
    "unpaired-folder", paper="Zhu et al. 2017, CycleGAN (your own two image domains)"
)
def unpaired_folder(
    root: str,
    split: str | None = None,
    resolution: Resolution = None,
    crop: Literal["center", "none"] = "center",
    channels: Literal[1, 3] = 3,
    seed: Annotated[int, Field(ge=0)] = 0,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Two image domains: a (N, C, H, W) = domain A, real = b (N, C, H, W) = domain B.

    Folders ``root/A`` and ``root/B`` (split None), or ``root/<split>A`` and
    ``root/<split>B`` (CycleGAN's ``trainA``/``trainB``/``testA``/``testB``), or
    ``root/A/<split>`` and ``root/B/<split>``; ``root`` may be a .zip of such a folder.
    Both domains are truncated to n = min(|A|, |B|, limit): A evenly spaced over its
    sorted files, B permuted with ``torch.Generator().manual_seed(seed)``. a_i and b_i
    are unrelated images; the CycleGAN losses never couple them (each domain is sampled
    on its own), so the fixed pairing in one tensor is harmless. Class sub-folders
    inside a domain folder become ``label_a`` / ``label`` (int64). ``resolution`` and
    ``crop`` as for ``image-folder``. ``skip_bad_files``: leave unreadable images out
    with a warning naming each (``info["skipped"]``); both domains are then cut to the
    smaller number of readable images. Default: a DataError naming the first.
    """
    path = Path(root).expanduser()
    with _imgf._open_source(path) as (names, read, kind):
        return _load_unpaired(
            path,
            names,
            read,
            kind,
            split,
            resolution,
            crop,
            channels,
            seed,
            limit,
            None,
            skip_bad_files=skip_bad_files,
        )


def _load_unpaired(
    path: Path,
    names: list[str],
    read: Callable[[str], bytes],
    kind: str,
    split: str | None,
    resolution: int | None,
    crop: str,
    channels: int,
    seed: int,
    limit: int | None,
    name: str | None,
    *,
    skip_bad_files: bool = False,
) -> TensorDataset:
    name = name or "unpaired-folder"
    where = f"{name} {path}" + (f" (split {split!r})" if split else "")
    folders = next(
        (
            (pa, pb)
            for pa, pb in _domain_folders(split)
            if _images_under(names, pa) and _images_under(names, pb)
        ),
        None,
    )
    if folders is None:
        wanted = " or ".join(f"{pa} + {pb}" for pa, pb in _domain_folders(split))
        tops = sorted({n.split("/", 1)[0] for n in names if "/" in n})
        splits = sorted({t[:-1] for t in tops if t.endswith("A") and t[:-1] + "B" in tops})
        hint = f" Set data.split to one of {', '.join(repr(s) for s in splits)}." if splits else ""
        raise DataError(
            f"{where}: expected the two domains as folders with images: {wanted}; found the "
            f"top-level folders {', '.join(t + '/' for t in tops) or '(none)'}.{hint}"
        )
    pa, pb = folders
    files_a, files_b = _images_under(names, pa), _images_under(names, pb)
    n = min(len(files_a), len(files_b), limit or len(files_a))
    files_a = [files_a[i] for i in spread(len(files_a), n).tolist()]
    perm = torch.randperm(len(files_b), generator=torch.Generator().manual_seed(seed))[:n]
    files_b = [files_b[i] for i in perm.tolist()]
    dom = {}
    for prefix, files in ((pa, files_a), (pb, files_b)):
        # image-folder's loader, restricted to these files (it keeps their order)
        dom[prefix] = _imgf._load(
            path,
            files,
            read,
            kind,
            prefix.rstrip("/"),
            resolution,
            crop,
            channels,
            None,
            skip_bad_files=skip_bad_files,
            dataset=name,
        )
    a, b = dom[pa], dom[pb]
    skipped = a.info["skipped"] + b.info["skipped"]
    if skipped:  # the files read, both domains cut to the smaller count
        n = min(len(a), len(b))
        skip_a, skip_b = set(a.info["skipped"]), set(b.info["skipped"])
        files_a = [f for f in files_a if f not in skip_a][:n]
        files_b = [f for f in files_b if f not in skip_b][:n]
    ta = {k: v[:n] for k, v in a.tensors.items()}
    tb = {k: v[:n] for k, v in b.tensors.items()}
    extra = {}
    if "label" in ta and "label" in tb:
        extra = {"label_a": ta["label"], "label": tb["label"]}
    return TensorDataset(
        name=name,
        kind="images",
        tensors={"real": tb["real"], "a": ta["real"], **extra},
        num_classes=b.num_classes if extra else None,
        info={
            "task": "unpaired",
            "condition": "a",
            "source_shape": tuple(a.tensors["real"].shape[1:]),
            "domains": [pa.rstrip("/"), pb.rstrip("/")],
            "source": str(path),
            "split": split,
            "seed": seed,
            "files_a": files_a,
            "files_b": files_b,
            "classes_a": a.info["classes"],
            "classes": b.info["classes"],
            "resize": a.info["resize"],
            "skipped": skipped,
        },
        aliases={"b": "real"},
    )


# -- safe, atomic extraction --------------------------------------------------------------
def _member_parts(name: str, archive: Path) -> list[str]:
    """The path components of an archive member, refusing anything that could escape."""
    n = name.replace("\\", "/")
    if n.startswith("/") or re.match(r"^[A-Za-z]:", n):
        raise DataError(
            f"{archive}: refusing to extract {name!r}: an absolute path. The archive is not "
            f"the official one (or is malicious); delete it and download it again."
        )
    parts = [p for p in n.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DataError(
            f"{archive}: refusing to extract {name!r}: '..' would write outside the target "
            f"folder. The archive is not the official one (or is malicious); delete it and "
            f"download it again."
        )
    return parts


def _refuse(archive: Path, name: str, what: str) -> DataError:
    return DataError(
        f"{archive}: refusing to extract {name!r}: it is a {what}, and only regular files "
        f"and folders are extracted (a link could point outside the target folder). Delete "
        f"the archive and download the official one."
    )


def _write_member(tmp: Path, parts: list[str], src: object) -> None:
    target = tmp.joinpath(*parts)
    if not target.resolve().is_relative_to(tmp.resolve()):  # defence in depth
        raise DataError(f"refusing to write {target}: outside {tmp}.")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as f:
        shutil.copyfileobj(src, f, 1 << 20)  # type: ignore[arg-type]


def _extract_members(archive: Path, tmp: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:  # check every name before writing anything
                _member_parts(info.filename, archive)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise _refuse(archive, info.filename, "symbolic link")
            for info in infos:
                parts = _member_parts(info.filename, archive)
                if not parts:
                    continue
                if info.is_dir():
                    tmp.joinpath(*parts).mkdir(parents=True, exist_ok=True)
                    continue
                with zf.open(info) as src:
                    _write_member(tmp, parts, src)
        return
    if not tarfile.is_tarfile(archive):
        raise DataError(
            f"{archive} is neither a zip nor a tar archive (it is probably truncated or an "
            f"HTML error page). Delete it and download it again."
        )
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()  # reads the whole index: a truncated archive fails here
        for m in members:
            _member_parts(m.name, archive)
            if m.issym() or m.islnk():
                raise _refuse(archive, m.name, "link")
            if not (m.isfile() or m.isdir()):
                raise _refuse(archive, m.name, "device, fifo or other special file")
        for m in members:
            parts = _member_parts(m.name, archive)
            if not parts:
                continue
            if m.isdir():
                tmp.joinpath(*parts).mkdir(parents=True, exist_ok=True)
                continue
            src = tar.extractfile(m)
            if src is None:  # pragma: no cover - regular files always have data
                raise DataError(f"{archive}: cannot read member {m.name!r}.")
            with src:
                _write_member(tmp, parts, src)


def extract_archive(archive: str | Path, dest: str | Path) -> Path:
    """Extract a .zip / .tar(.gz, .bz2, .xz) ``archive`` to the folder ``dest``, safely.

    Nothing is written before every member name has been checked; members are streamed
    into a temp folder in ``dest``'s parent, which is moved onto ``dest`` with
    ``os.replace`` at the end (when the archive holds a single top-level folder, that
    folder becomes ``dest``). If ``dest`` exists it is returned untouched.

    Raises:
        DataError: a refused member (absolute path, ``..``, link, special file) or a
            corrupt archive; ``dest`` is then not created and the temp folder is removed.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{dest.name}.", dir=dest.parent))
    try:
        try:
            _extract_members(archive, tmp)
        except (
            tarfile.TarError,
            zipfile.BadZipFile,
            EOFError,
            zlib.error,
            OSError,
            RuntimeError,  # zipfile: encrypted member
            NotImplementedError,  # zipfile: unsupported compression
        ) as e:
            raise DataError(
                f"Could not extract {archive} ({type(e).__name__}: {e}): the archive is damaged "
                f"(or {dest.parent} is full or not writable). Delete the archive and run again "
                f"to download a fresh copy. {LOCAL_COPY_HINT}"
            ) from None
        entries = [p for p in tmp.iterdir() if p.name != "__MACOSX"]
        src = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        os.replace(src, dest)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
    return dest


# -- remote archives ----------------------------------------------------------------------
@dataclass(frozen=True)
class RemoteArchive:
    """One archive of a standard set at its canonical address.

    ``md5`` / ``sha256``: published checksums of the archive as served at ``url`` (None:
    none found; trust on first use, see the module docstring). ``checksum_source`` says
    where they come from. ``folder``: the name of the extracted folder in the cache.
    """

    name: str
    filename: str
    url: str
    folder: str
    md5: str | None = None
    sha256: str | None = None
    checksum_source: str = ""
    note: str = ""


_PIX2PIX = "https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/"
_CYCLEGAN = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/"
_DIV2K = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
# md5s of the pix2pix tarballs: from a public GitHub Python module (a "Pix2PixDataset"
# wrapper that downloads exactly these https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/
# addresses and checks these md5s); a single source, not confirmed by a second one.
_PIX2PIX_SOURCE = "md5 pinned for this exact URL by a public GitHub Pix2PixDataset loader"
# The CycleGAN zips: TensorFlow Datasets (tensorflow_datasets/url_checksums/cycle_gan.txt)
# pins sha256s for the same file names at the FORMER address
# https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/<name>.zip, not at this
# one, so they are not used as expected values; a download whose sha256 equals them is
# reported as such (see RemoteArchive.note).
_TFDS_CYCLEGAN = {
    "horse2zebra": "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1",
    "apple2orange": "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8",
    "monet2photo": "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04",
}
_DIV2K_SOURCE = (
    "sha256 pinned for this exact URL by TensorFlow Datasets "
    "(tensorflow_datasets/datasets/div2k/checksums.tsv)"
)

#: name -> archive. Checksums only where a source pins that exact address (see above).
ARCHIVES: dict[str, RemoteArchive] = {
    "facades": RemoteArchive(
        "facades",
        "facades.tar.gz",
        f"{_PIX2PIX}facades.tar.gz",
        "facades",
        md5="e2e25dd517e9d15828416ab329da2854",
        checksum_source=_PIX2PIX_SOURCE,
    ),
    "maps": RemoteArchive(
        "maps",
        "maps.tar.gz",
        f"{_PIX2PIX}maps.tar.gz",
        "maps",
        md5="e5f65d26eb288457f5ac056deb94d154",
        checksum_source=_PIX2PIX_SOURCE,
    ),
    "edges2shoes": RemoteArchive(
        "edges2shoes",
        "edges2shoes.tar.gz",
        f"{_PIX2PIX}edges2shoes.tar.gz",
        "edges2shoes",
        md5="71da478b54fedde126e234a2a050bc15",
        checksum_source=_PIX2PIX_SOURCE,
    ),
    **{
        name: RemoteArchive(
            name,
            f"{name}.zip",
            f"{_CYCLEGAN}{name}.zip",
            name,
            checksum_source="none published for this address",
            note=_TFDS_CYCLEGAN[name],
        )
        for name in ("horse2zebra", "apple2orange", "monet2photo")
    },
    "div2k-train": RemoteArchive(
        "div2k",
        "DIV2K_train_HR.zip",
        f"{_DIV2K}DIV2K_train_HR.zip",
        "DIV2K_train_HR",
        sha256="9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
        checksum_source=_DIV2K_SOURCE,
    ),
    "div2k-valid": RemoteArchive(
        "div2k",
        "DIV2K_valid_HR.zip",
        f"{_DIV2K}DIV2K_valid_HR.zip",
        "DIV2K_valid_HR",
        sha256="20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
        checksum_source=_DIV2K_SOURCE,
    ),
}


def verify_archive(spec: RemoteArchive, path: Path) -> None:
    """Check ``path`` against the published checksum, or trust it on first use.

    Without a published checksum: if ``<path>.sha256`` exists (recorded at the first
    download) the file must match it; else its sha256 is recorded there and a warning
    prints it and says that nothing published vouches for it.
    """
    hint = f"Delete {path} and run again to download a fresh copy of {spec.url}."
    if spec.md5 or spec.sha256:
        verify_file(path, md5=spec.md5, sha256=spec.sha256, hint=hint)
        return
    actual = file_digest(path)
    record = path.with_name(path.name + ".sha256")
    if record.is_file():
        expected = record.read_text("utf-8").split()[0].lower() if record.stat().st_size else ""
        if actual != expected:
            raise DataError(
                f"Checksum mismatch for {path}: its sha256 is {actual}, but {expected} was "
                f"recorded in {record} when it was first downloaded (no published checksum "
                f"exists for {spec.url}). The file is corrupt or the server now serves other "
                f"data. {hint} If the new data is intended, delete {record} too."
            )
        return
    former = ""
    if spec.note and actual == spec.note:
        former = (
            " It equals the sha256 TensorFlow Datasets lists for the same file at its former "
            "address (people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/)."
        )
    warnings.warn(
        f"{spec.name}: no published checksum exists for {spec.url}; accepted {path} with "
        f"sha256 {actual} and recorded it in {record}, which later downloads must match.{former}",
        UserWarning,
        stacklevel=3,
    )
    atomic_write_text(record, f"{actual}  {path.name}\n")


def ensure_extracted(spec: RemoteArchive, directory: Path) -> Path:
    """``directory/<spec.folder>``, downloading, verifying and extracting what is missing."""
    dest = directory / spec.folder
    if dest.is_dir():
        return dest
    archive = directory / spec.filename
    if archive.is_file() or not (spec.md5 or spec.sha256):
        if not archive.is_file():
            download(spec.url, archive)
        verify_archive(spec, archive)  # a published checksum, or trust on first use
    else:
        download(spec.url, archive, md5=spec.md5, sha256=spec.sha256)  # checked on the fly
    return extract_archive(archive, dest)


def _content_root(folder: Path, ready: Callable[[Path], bool]) -> Path:
    """Descend through folders that hold nothing but one sub-folder (``facades/facades``)."""
    while not ready(folder):
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir():
            folder = entries[0]
        else:
            break
    return folder


def locate(spec: RemoteArchive, root: str | None, looks_ready: Callable[[Path], bool]) -> Path:
    """The folder of a standard set: from ``root`` (extracted folder, a folder with the
    archive, or the archive) or the cache, downloading and extracting when needed."""
    if root is None:
        return _content_root(ensure_extracted(spec, cache_dir() / spec.name), looks_ready)
    p = Path(root).expanduser()
    if p.is_file():
        verify_archive(spec, p)
        return _content_root(extract_archive(p, p.parent / spec.folder), looks_ready)
    if p.is_dir():
        if looks_ready(p):
            return p
        if (p / spec.folder).is_dir():
            return _content_root(p / spec.folder, looks_ready)
        if (p / spec.filename).is_file():
            return _content_root(ensure_extracted(spec, p), looks_ready)
    raise DataError(
        f"{spec.name}: data.root={root!r} is {'not a folder' if not p.exists() else 'neither'} "
        f"the extracted {spec.folder}/ folder, a folder holding it or {spec.filename}, nor "
        f"the archive itself. Download {spec.url} and point data.root at it, or leave root "
        f"unset to download into {cache_dir() / spec.name}. {LOCAL_COPY_HINT}"
    )


def _prepare(names: tuple[str, ...], root: str | None = None) -> Path:
    """Download, verify (always, also an existing archive) and extract ``names``' archives."""
    spec0 = ARCHIVES[names[0]]
    directory = Path(root).expanduser() if root else cache_dir() / spec0.name
    for key in names:
        spec = ARCHIVES[key]
        archive = directory / spec.filename
        if archive.is_file():
            verify_archive(spec, archive)
            extract_archive(archive, directory / spec.folder)  # a no-op when extracted
        else:
            ensure_extracted(spec, directory)
    return directory


# -- the standard sets --------------------------------------------------------------------
def _pix2pix(
    key: str,
    split: str,
    root: str | None,
    resolution: int | None,
    direction: str,
    limit: int | None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    spec = ARCHIVES[key]
    folder = locate(spec, root, lambda p: (p / "train").is_dir() or (p / "val").is_dir())
    split_dir = split
    if not (folder / split).is_dir() and split == "test" and (folder / "val").is_dir():
        split_dir = "val"  # maps and edges2shoes have no test folder: their val is the test set
    if not (folder / split_dir).is_dir():
        have = sorted(p.name for p in folder.iterdir() if p.is_dir())
        raise DataError(f"{key}: {folder} has no {split}/ folder; it has {', '.join(have)}.")
    with _imgf._open_source(folder) as (names, read, kind):
        ds = _load_paired(
            folder,
            names,
            read,
            split_dir,
            "side-by-side",
            direction,
            resolution,
            3,
            3,
            limit,
            key,
            kind=kind,
            skip_bad_files=skip_bad_files,
        )
    ds.info.update(url=spec.url, split=split, split_folder=split_dir)
    return ds


@DATASETS.register(
    "facades", paper="Tyleček & Šára 2013, CMP Facade Database; as prepared for pix2pix (2017)"
)
def facades(
    split: Literal["train", "val", "test"] = "train",
    root: str | None = None,
    resolution: Resolution = 256,
    direction: Literal["AtoB", "BtoA"] = "BtoA",
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """pix2pix facades: labels -> photo (BtoA), source/real (N, 3, 256, 256); 400/100/106.

    Each file is photo | label map (A | B); ``direction="BtoA"`` (the pix2pix recipe)
    translates label maps into photos. Downloads facades.tar.gz (29 MB) from
    https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/ when ``root`` is None.
    """
    return _pix2pix("facades", split, root, resolution, direction, limit, skip_bad_files)


@DATASETS.register("maps", paper="Isola et al. 2017, pix2pix (Google Maps aerial <-> map)")
def maps(
    split: Literal["train", "val", "test"] = "train",
    root: str | None = None,
    resolution: Resolution = 256,
    direction: Literal["AtoB", "BtoA"] = "AtoB",
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """pix2pix maps: aerial photo -> map (AtoB), (N, 3, 256, 256); 1,096 train / 1,098 val.

    The native halves are 600x600, resized to ``resolution``. ``split="test"`` reads
    ``val`` (the set has no test folder). Downloads maps.tar.gz (239 MB).
    """
    return _pix2pix("maps", split, root, resolution, direction, limit, skip_bad_files)


@DATASETS.register("edges2shoes", paper="Isola et al. 2017, pix2pix; shoes of Yu & Grauman 2014")
def edges2shoes(
    split: Literal["train", "val", "test"] = "train",
    root: str | None = None,
    resolution: Resolution = 64,
    direction: Literal["AtoB", "BtoA"] = "AtoB",
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """pix2pix edges2shoes: edges -> shoe photo (AtoB); 49,825 train / 200 val pairs.

    Default resolution 64 (1.2 GB of uint8 in memory for the train split; the native
    256 would need 19.6 GB: use ``limit`` for that). ``split="test"`` reads ``val``.
    Downloads edges2shoes.tar.gz (2.0 GB).
    """
    return _pix2pix("edges2shoes", split, root, resolution, direction, limit, skip_bad_files)


def _cyclegan(
    key: str,
    split: str,
    root: str | None,
    resolution: int | None,
    seed: int,
    limit: int | None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    spec = ARCHIVES[key]
    folder = locate(spec, root, lambda p: (p / "trainA").is_dir() or (p / "testA").is_dir())
    with _imgf._open_source(folder) as (names, read, kind):
        ds = _load_unpaired(
            folder,
            names,
            read,
            kind,
            split,
            resolution,
            "center",
            3,
            seed,
            limit,
            key,
            skip_bad_files=skip_bad_files,
        )
    ds.info.update(url=spec.url)
    return ds


def _register_cyclegan(key: str, what: str, sizes: str) -> None:
    def build(
        split: Literal["train", "test"] = "train",
        root: str | None = None,
        resolution: Resolution = 256,
        seed: Annotated[int, Field(ge=0)] = 0,
        limit: Limit = None,
        skip_bad_files: bool = False,
    ) -> TensorDataset:
        return _cyclegan(key, split, root, resolution, seed, limit, skip_bad_files)

    build.__name__ = build.__qualname__ = key
    build.__doc__ = (
        f"CycleGAN {key}: {what}, a (N, 3, 256, 256) -> real = b (N, 3, 256, 256).\n\n"
        f"Folders trainA / trainB / testA / testB ({sizes}), read as ``unpaired-folder`` "
        f"(n = min(|A|, |B|), B shuffled by ``seed``). Downloads {ARCHIVES[key].url} when "
        f"``root`` is None; no checksum is published for that address (see the module "
        f"docstring: trust on first use)."
    )
    DATASETS.register(key, paper="Zhu et al. 2017, CycleGAN (unpaired image-to-image translation)")(
        build
    )


_register_cyclegan(
    "horse2zebra", "horses (A) <-> zebras (B), ImageNet photos", "1,067/1,334/120/140"
)
_register_cyclegan(
    "apple2orange", "apples (A) <-> oranges (B), ImageNet photos", "995/1,019/266/248"
)
_register_cyclegan("monet2photo", "Monet paintings (A) <-> photos (B)", "1,072/6,287/121/751")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and _imgf._is_image_name(p.name))


@DATASETS.register(
    "div2k",
    paper="Agustsson & Timofte 2017, NTIRE 2017 challenge on single image super-resolution (DIV2K)",
)
def div2k(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    patch: Annotated[int, Field(gt=0, le=1024)] = 96,
    patches_per_image: Annotated[int, Field(gt=0, le=10_000)] = 16,
    scale: Literal[2, 4, 8] = 4,
    seed: Annotated[int, Field(ge=0)] = 0,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """DIV2K patches, low (N, 3, p/s, p/s) -> real = high (N, 3, p, p).

    ``split="train"``: the 800 DIV2K_train_HR photos; ``"test"``: the 100 DIV2K_valid_HR
    photos (the official test HR images are not public). ``patches_per_image`` seeded
    random patches of side ``patch`` per photo (:func:`sample_patches`; only the patches
    are kept in memory, never a 2K photo), low = bicubic x``scale`` (antialiased), as for
    ``sr-cifar10``. ``root``: the extracted DIV2K_train_HR / DIV2K_valid_HR folder, a
    folder holding it or its zip, or the zip; None downloads from
    https://data.vision.ee.ethz.ch/cvl/DIV2K/ (3.5 GB / 0.45 GB, sha256-verified).
    ``skip_bad_files``: leave out photos whose header cannot be read, with a warning (a
    photo that fails later, while its patches are cut, is a DataError naming it).
    """
    if patch % scale:
        raise ConfigError(f"div2k: patch={patch} is not divisible by scale={scale}.")
    spec = ARCHIVES["div2k-train" if split == "train" else "div2k-valid"]
    folder = locate(spec, root, lambda p: any(p.glob("*.png")))
    files = _image_files(folder)
    if not files:
        raise DataError(f"div2k: no images in {folder}.")
    sizes, readable = [], []
    bad = BadFiles("div2k", str(folder), skip_bad_files)
    fix = f"Delete {folder} and run again to extract it anew, or replace the file"
    for f in files:
        try:
            with Image.open(f) as im:
                sizes.append((im.size[1], im.size[0]))
            readable.append(f)
        except MemoryError:
            raise
        except Exception as e:  # Pillow raises many types on damaged headers
            bad.bad(str(f), str(f), "cannot read", f"{type(e).__name__}: {e}", fix)
    bad.finish(len(files), len(readable))
    files = readable

    def load(j: int) -> np.ndarray:
        try:
            data = files[j].read_bytes()
        except OSError as e:
            raise DataError(f"div2k: cannot read {files[j]} ({e}). {fix}.") from None
        rel = files[j].relative_to(folder).as_posix()
        return np.asarray(_imgf._decode(data, rel, folder, "RGB"))

    high, which = sample_patches(sizes, load, patch, patches_per_image, seed, limit)
    return _sr(
        "div2k",
        high,
        scale,
        {
            "split": split,
            "source": str(folder),
            "url": spec.url,
            "image_index": which,
            "patch": patch,
            "patches_per_image": patches_per_image,
            "seed": seed,
        },
    )


for _name, _keys in {
    "facades": ("facades",),
    "maps": ("maps",),
    "edges2shoes": ("edges2shoes",),
    "horse2zebra": ("horse2zebra",),
    "apple2orange": ("apple2orange",),
    "monet2photo": ("monet2photo",),
    "div2k": ("div2k-train", "div2k-valid"),
}.items():
    remote(_name)(functools.partial(_prepare, _keys))
