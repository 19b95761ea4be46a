"""A user's own images, from a folder or a .zip, held in memory as uint8 NCHW.

Layout (folder or zip, same rules):

- ``root/<class>/**/<image>``: labelled; classes are the sorted names of the
  sub-folders of ``root`` and ``label`` is the index into ``info["classes"]``.
- ``root/<image>`` (some or all images directly in ``root``): unlabelled; all images
  below ``root`` are used and there is no ``label`` tensor.
- ``split="train"`` first descends into the top-level folder ``train`` (e.g. the
  CIFAR-10 JPEG zip's ``train/<class>/NNNN.jpg``), then applies the rules above.

Zip entries are read directly (no extraction) and decoded with Pillow in one loop;
50,000 32x32 JPEGs take about 5 s. Hidden files, ``__MACOSX/`` and non-image files
are skipped.

A file that cannot be read or decoded is a :class:`DataError` naming it; with
``skip_bad_files=True`` it is left out with a warning instead (see
:mod:`ganforge.data._badfiles`).
"""

from __future__ import annotations

import contextlib
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from ganforge.data._badfiles import BadFiles
from ganforge.data.base import TensorDataset
from ganforge.data.download import progress_bar
from ganforge.errors import DataError
from ganforge.registry import DATASETS

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
_PROGRESS_FROM = 2_000  # draw a progress bar for sets at least this large

# PIL's bicubic filter is antialiased when downscaling (its support widens with the
# scale factor), unlike F.interpolate's default, so large photos shrink without aliasing.
RESAMPLE = Image.Resampling.BICUBIC


def _is_image_name(name: str) -> bool:
    parts = name.split("/")
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return Path(parts[-1]).suffix.lower() in IMAGE_EXTENSIONS


@contextlib.contextmanager
def _open_source(path: Path) -> Iterator[tuple[list[str], Callable[[str], bytes], str]]:
    """Yield all file names below ``path`` (posix, relative), a reader, and the kind."""
    if not path.exists():
        raise DataError(
            f"image-folder: {path} does not exist. Set data.path to a folder of images "
            f"(optionally one sub-folder per class) or to a .zip of one, e.g. "
            f"`--set data.path=/data/faces`."
        )
    if path.is_dir():
        names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        yield names, lambda n: (path / n).read_bytes(), "folder"
        return
    if zipfile.is_zipfile(path):
        try:
            zf = zipfile.ZipFile(path)
            names = sorted(i.filename for i in zf.infolist() if not i.is_dir())
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(
                f"image-folder: {path} is a damaged zip file ({e}). Re-create or re-download "
                f"it, or extract it and point data.path at the folder."
            ) from None
        with zf:
            yield names, zf.read, "zip"
        return
    if path.suffix.lower() == ".zip":
        raise DataError(
            f"image-folder: {path} is not a readable zip file: its central directory (at the "
            f"end of the file) is missing, so it is truncated or damaged. Re-create or "
            f"re-download it, or extract what you can and point data.path at the folder."
        )
    raise DataError(
        f"image-folder: {path} is neither a folder nor a .zip file. Point data.path at a "
        f"folder of images (one sub-folder per class for labels) or a zip of such a folder; "
        f"to use a tar archive, extract it first."
    )


class _Unreadable(Exception):
    """A file that cannot be read or decoded: ``verb`` ("cannot read") and ``detail``."""

    def __init__(self, verb: str, detail: str) -> None:
        super().__init__(f"{verb} ({detail})")
        self.verb, self.detail = verb, detail


#: What to do about an unreadable image (continued by SKIP_HINT where skipping exists).
IMAGE_FIX = "The file is corrupt or not really an image: delete or replace it and run again"


def shown_name(root: Path, member: str, source_kind: str) -> str:
    """How a file is named in messages: "sub/x.png in ROOT" or "... in the zip ROOT"."""
    if not member:
        return str(root)
    return f"{member} in {'the zip ' if source_kind == 'zip' else ''}{root}"


def _read_member(read: Callable[[str], bytes], name: str) -> bytes:
    try:
        return read(name)
    except (
        OSError,  # permissions, I/O errors, a file removed while reading
        zipfile.BadZipFile,  # bad CRC, damaged local header
        zlib.error,
        EOFError,
        RuntimeError,  # zipfile: an encrypted member
        NotImplementedError,  # zipfile: an unsupported compression method
        KeyError,
    ) as e:
        raise _Unreadable("cannot read", f"{type(e).__name__}: {e}") from None


def _open_image(data: bytes, mode: str) -> Image.Image:
    """Decode ``data`` completely and convert it to ``mode``; failures -> _Unreadable."""
    if not data:
        raise _Unreadable("cannot decode", "the file is empty: 0 bytes")
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
        # Convert before any resize: palette ("P") images would otherwise be resized with
        # nearest-neighbour only, and alpha is dropped (not composited) by RGBA -> RGB.
        return im if im.mode == mode else im.convert(mode)
    except MemoryError:
        raise
    except Exception as e:
        # Pillow's plugins raise many types on damaged data: UnidentifiedImageError,
        # OSError ("image file is truncated"), SyntaxError, struct.error, ValueError,
        # IndexError, EOFError, DecompressionBombError, ...
        raise _Unreadable("cannot decode", f"{type(e).__name__}: {e}") from None


def load_image(
    read: Callable[[str], bytes], member: str, shown: str, mode: str, bad: BadFiles
) -> Image.Image | None:
    """Read and decode one file; None when it is unreadable and ``bad`` skips it."""
    try:
        return _open_image(_read_member(read, member), mode)
    except _Unreadable as e:
        bad.bad(member, shown, e.verb, e.detail, IMAGE_FIX)
        return None


def _decode(data: bytes, name: str, where: Path, mode: str) -> Image.Image:
    """Decode image ``name`` of ``where``; a DataError naming it if that fails."""
    try:
        return _open_image(data, mode)
    except _Unreadable as e:
        raise DataError(f"{e.verb} {name} in {where} ({e.detail}). {IMAGE_FIX}.") from None


@DATASETS.register("image-folder", paper="(your own images)")
def image_folder(
    path: str,
    split: str | None = None,
    resolution: Annotated[int, Field(gt=0, le=4096)] | None = None,
    crop: Literal["center", "none"] = "center",
    channels: Literal[1, 3] = 3,
    max_images: Annotated[int, Field(gt=0)] | None = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Your own images from a folder or .zip: real (N, C, R, R) uint8, label (N,) if classes.

    Args:
        path: a folder or a .zip file (see the module docstring for the layout).
        split: a top-level sub-folder to read (``"train"``), whose sub-folders are then
            the classes; None reads all of ``path``.
        resolution: output side R. None keeps the native size, and every image must
            then have the same size (else a DataError names two that differ).
        crop: with a resolution, ``"center"`` takes the largest centred square and
            resizes it (aspect ratio kept, borders lost); ``"none"`` resizes the whole
            image to R x R (aspect ratio distorted). Resizing uses Pillow's bicubic
            filter, which is antialiased when shrinking. Ignored when resolution is None.
        channels: 3 (RGB) or 1 (grayscale, Pillow's "L" conversion); alpha is dropped.
        max_images: use at most this many, spread evenly over the sorted file list (so
            every class is represented), for quick runs.
        skip_bad_files: leave out files that cannot be read or decoded, with a warning
            naming each and a summary (default: the first one is a DataError naming it).
            The load still fails when no image is readable.

    Returns:
        A TensorDataset with ``info`` keys ``classes`` (or None), ``source``, ``split``,
        ``skipped`` (the files left out, relative to ``path``).
    """
    root = Path(path).expanduser()
    with _open_source(root) as (names, read, source_kind):
        return _load(
            root,
            names,
            read,
            source_kind,
            split,
            resolution,
            crop,
            channels,
            max_images,
            skip_bad_files=skip_bad_files,
        )


def _load(
    root: Path,
    names: list[str],
    read: Callable[[str], bytes],
    source_kind: str,
    split: str | None,
    resolution: int | None,
    crop: str,
    channels: int,
    max_images: int | None,
    *,
    skip_bad_files: bool = False,
    dataset: str = "image-folder",
) -> TensorDataset:
    prefix = ""
    if split is not None:
        prefix = split.strip("/") + "/"
        tops = sorted({n.split("/", 1)[0] for n in names if "/" in n and _is_image_name(n)})
        names = [n[len(prefix) :] for n in names if n.startswith(prefix)]
        read = _prefixed(read, prefix)
        if not any(_is_image_name(n) for n in names):
            raise DataError(
                f"image-folder: {root} has no images under the top-level folder {split!r}. "
                f"Top-level folders with images: {', '.join(tops) or '(none)'}; set "
                f"data.split to one of them, or to null to read everything."
            )
    others = [n for n in names if not _is_image_name(n)]
    names = [n for n in names if _is_image_name(n)]
    if not names:
        seen = f" It holds {len(others)} other file(s), e.g. {others[0]}." if others else ""
        raise DataError(
            f"image-folder: found no images in {root}{f' (split {split!r})' if split else ''}."
            f"{seen} Supported extensions: {', '.join(sorted(IMAGE_EXTENSIONS))}. Point "
            f"data.path at a folder (or .zip) that contains images."
        )
    if max_images is not None and max_images < len(names):
        # Evenly spaced over the sorted list: deterministic and covers every class,
        # where "the first max_images" would take only the first class.
        names = [names[i * len(names) // max_images] for i in range(max_images)]

    labelled = all("/" in n for n in names)
    classes = sorted({n.split("/", 1)[0] for n in names}) if labelled else None
    class_index = {c: i for i, c in enumerate(classes or [])}

    mode = "RGB" if channels == 3 else "L"
    where = root if split is None else root / split
    bad = BadFiles(dataset, shown_name(root, prefix, source_kind), skip_bad_files)
    kept: list[str] = []
    out: np.ndarray | None = None
    first: tuple[str, tuple[int, int]] | None = None
    with progress_bar(
        f"reading {root.name}", len(names), enabled=len(names) >= _PROGRESS_FROM
    ) as advance:
        for k, name in enumerate(names):
            if k % 256 == 255:
                advance(256)
            im = load_image(read, name, shown_name(root, prefix + name, source_kind), mode, bad)
            if im is None:
                continue
            if resolution is None:
                if first is None:
                    first = (name, im.size)
                elif im.size != first[1]:
                    raise DataError(
                        f"{dataset}: images in {where} differ in size: {first[0]} is "
                        f"{first[1][0]}x{first[1][1]} but {name} is {im.size[0]}x{im.size[1]} "
                        f"(width x height). Choose an output size, e.g. "
                        f"`--set data.resolution=64`, to center-crop and resize them all."
                    )
            else:
                im = _resize(im, resolution, crop)
            if out is None:
                w, h = im.size
                out = np.empty((len(names), h, w, channels), dtype=np.uint8)
            out[len(kept)] = np.asarray(im).reshape(out.shape[1:])
            kept.append(name)
    bad.finish(len(names), len(kept))
    assert out is not None
    tensors = {"real": torch.from_numpy(out[: len(kept)]).permute(0, 3, 1, 2).contiguous()}
    if classes is not None:
        tensors["label"] = torch.tensor(
            [class_index[n.split("/", 1)[0]] for n in kept], dtype=torch.int64
        )
    return TensorDataset(
        name="image-folder",
        kind="images",
        tensors=tensors,
        num_classes=len(classes) if classes is not None else None,
        info={
            "classes": classes,
            "source": str(root),
            "source_kind": source_kind,
            "split": split,
            "resize": "none" if resolution is None else f"{crop} crop, PIL bicubic to {resolution}",
            "skipped": [prefix + n for n in bad.skipped],
        },
    )


def _prefixed(read: Callable[[str], bytes], prefix: str) -> Callable[[str], bytes]:
    return lambda n: read(prefix + n)


def _resize(im: Image.Image, size: int, crop: str) -> Image.Image:
    w, h = im.size
    if crop == "center" and w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        box: tuple[int, int, int, int] | None = (left, top, left + s, top + s)
    else:
        box = None
    if (w, h) == (size, size):
        return im
    # resize(box=...) crops and resizes in one pass (no intermediate image)
    return im.resize((size, size), RESAMPLE, box=box)
