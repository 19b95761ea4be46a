"""Image-to-image translation sets built from real images: paired, unpaired, SR, multi-domain.

Every set is a :class:`TensorDataset` of uint8 NCHW images (float in [-1, 1] per batch).
``real`` is ALWAYS the images the generator must produce (the target domain, and the
reference set of FID and every other metric); the condition sits beside it under its key
of DESIGN.md, and ``aliases`` give the target its DESIGN.md name as well:

=============  ======================================  ===============  ==================
task           tensors                                 aliases          ``info["task"]``
=============  ======================================  ===============  ==================
paired         ``real`` (target), ``source``           target -> real   ``"paired"``
unpaired       ``real`` (domain B), ``a`` (domain A)   b -> real        ``"unpaired"``
SR             ``real`` (high-res), ``low``            high -> real     ``"sr"``
multi-domain   ``real``, ``label`` (domain index)      (none)           ``"multidomain"``
=============  ======================================  ===============  ==================

``info["condition"]`` names the condition tensor (``"source"``, ``"a"``, ``"low"`` or
``"label"``) and ``info["source_shape"]`` its per-sample shape, so an algorithm can size
its generator's input without knowing the dataset.

Registered here (all offline when ``root`` points at a local copy; MNIST, Fashion-MNIST and
CIFAR-10 come from their own loaders, so the same checksums apply):

- ``edges2fashion``, ``edges2cifar``: edges (Sobel or Canny, 1 channel) -> image.
- ``gray2color``: CIFAR-10 luma (ITU-R BT.601) -> colour.
- ``inpaint``: image with a grey hole (centre square or seeded boxes) -> complete image.
- ``mnist-seg``: MNIST digit -> its binary mask (SegAN-style segmentation).
- ``sr-cifar10``, ``sr-photos``: bicubic (antialiased) x``scale`` downsampling -> high-res.
- ``mnist2color``, ``cifar-cat2dog``: unpaired domains for CycleGAN-style training.
- ``mnist-domains``: one MNIST digit set rendered in D visual domains (StarGAN).

CIFAR-10 ``root`` may also be the JPEG copy (a zip, or a folder, of ``<split>/<class>/*.jpg``,
as ``../shared/datasets/cifar10-jpeg``); that copy is lossy (quality 75), which
``info["cifar_source"]`` records, so do not compare its scores with published ones.

``skip_bad_files`` (every set read from files): leave undecodable JPEGs of that copy out
with a warning. The idx files and the official CIFAR-10 batches each hold a whole split
and cannot be skipped; a damaged one is a DataError that names it and says so.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from ganforge.data._image import round_to_uint8_
from ganforge.data.base import TensorDataset, float_to_uint8, spread, uint8_to_float
from ganforge.data.cifar10 import load_cifar
from ganforge.data.mnist import FASHION_MNIST, MNIST, load_idx_dataset
from ganforge.errors import ConfigError, DataError
from ganforge.registry import DATASETS

Limit = Annotated[int, Field(gt=0)] | None
MnistResolution = Literal[28, 32, 64]
_CHUNK = 8192  # images per vectorised step: bounds the float copies to a few hundred MB


# -- small helpers ------------------------------------------------------------------------
def to_rgb(gray: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) -> (N, 3, H, W) by replicating the channel (a real copy, not a view)."""
    return gray.expand(-1, 3, -1, -1).contiguous()


def luma(images: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma of uint8 RGB (N, 3, H, W) -> uint8 (N, 1, H, W).

    Y = 0.299 R + 0.587 G + 0.114 B, rounded half up, computed exactly in integers:
    ``(299 R + 587 G + 114 B + 500) // 1000``. One-channel input is returned as is.
    """
    if images.shape[1] == 1:
        return images
    x = images.to(torch.int32)
    y = (299 * x[:, 0] + 587 * x[:, 1] + 114 * x[:, 2] + 500) // 1000
    return y.unsqueeze(1).to(torch.uint8)


_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
SOBEL_STEP = 4.0  # |G| of a full 0 -> 1 step edge: 1 + 2 + 1


def sobel_edges(images: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """Sobel edge strength of uint8 images -> uint8 (N, 1, H, W), white edges on black.

    On x = luma / 255 in [0, 1] (replicate padding, so the border makes no edges):
    G = sqrt(Gx^2 + Gy^2) with the 3x3 Sobel kernels [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    and its transpose; e = min(G / 4, 1), the strength relative to a full black-to-white
    step; e < ``threshold`` is set to 0 (texture noise); out = round(255 e). A vertical
    0 -> 1 step thus gives 255 on the two pixel columns beside it and 0 elsewhere.
    """
    gray = luma(images)
    k = torch.stack([_SOBEL_X, _SOBEL_X.t()]).unsqueeze(1)  # (2, 1, 3, 3)
    out = torch.empty_like(gray)
    for i in range(0, len(gray), _CHUNK):
        x = gray[i : i + _CHUNK].float().div_(255.0)
        g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k)
        e = g.pow_(2).sum(1, keepdim=True).sqrt_().div_(SOBEL_STEP).clamp_(max=1.0)
        e[e < threshold] = 0.0
        out[i : i + _CHUNK] = round_to_uint8_(e.mul_(255.0))
    return out


def canny_edges(images: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Canny edges (scikit-image's ``feature.canny``) of uint8 images -> uint8 {0, 255}.

    Applied to luma / 255 with Gaussian ``sigma`` and scikit-image's default hysteresis
    thresholds (10% and 20% of the maximal gradient); one image at a time (about 0.3 ms
    for 32x32, 15 s for 60,000 images).
    """
    try:
        from skimage.feature import canny
    except ImportError:  # pragma: no cover - scikit-image is a dependency
        raise DataError(
            "edges='canny' needs scikit-image: `pip install scikit-image`, or use edges='sobel'."
        ) from None
    gray = luma(images)[:, 0].numpy()
    out = np.zeros(gray.shape, dtype=np.uint8)
    for i, im in enumerate(gray):
        out[i][canny(im.astype(np.float64) / 255.0, sigma=sigma)] = 255
    return torch.from_numpy(out).unsqueeze(1)


def bicubic_downsample(images: torch.Tensor, scale: int) -> torch.Tensor:
    """The SR degradation: uint8 (N, C, H, W) -> uint8 (N, C, H / scale, W / scale).

    ``F.interpolate(mode="bicubic", antialias=True, align_corners=False)`` on the images
    as float in [-1, 1] (the antialiased kernel widens with the factor, as MATLAB's
    ``imresize`` and PIL do), quantised with :func:`float_to_uint8` (half up, clamped:
    bicubic overshoots at edges).
    """
    n, _, h, w = images.shape
    if h % scale or w % scale:
        raise ConfigError(f"image size {h}x{w} is not divisible by scale={scale}.")
    out = torch.empty((n, images.shape[1], h // scale, w // scale), dtype=torch.uint8)
    for i in range(0, n, _CHUNK):
        x = uint8_to_float(images[i : i + _CHUNK])
        y = F.interpolate(
            x, size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False
        )
        out[i : i + _CHUNK] = float_to_uint8(y)
    return out


# -- base images --------------------------------------------------------------------------
def _idx_set(name: str, split: str, root: str | None, resolution: int) -> TensorDataset:
    return load_idx_dataset(MNIST if name == "mnist" else FASHION_MNIST, split, root, resolution)


def _check_limit_nonempty(n: int, what: str) -> None:
    if n == 0:
        raise DataError(f"{what}: no images left to build the dataset from.")


# -- paired: edges, grayscale, inpainting, segmentation ------------------------------------
def _edges(images: torch.Tensor, edges: str, threshold: float, sigma: float) -> torch.Tensor:
    return sobel_edges(images, threshold) if edges == "sobel" else canny_edges(images, sigma)


def _edge_info(edges: str, threshold: float, sigma: float) -> str:
    if edges == "sobel":
        return f"sobel: min(|G| / 4, 1) on luma / 255, zero below {threshold}, x255"
    return f"canny: skimage.feature.canny(luma / 255, sigma={sigma}), {{0, 255}}"


def _paired(
    name: str,
    real: torch.Tensor,
    source: torch.Tensor,
    extra: dict[str, torch.Tensor],
    num_classes: int | None,
    info: dict[str, Any],
) -> TensorDataset:
    return TensorDataset(
        name=name,
        kind="images",
        tensors={"real": real, "source": source, **extra},
        num_classes=num_classes,
        info={
            "task": "paired",
            "condition": "source",
            "source_shape": tuple(source.shape[1:]),
            **info,
        },
        aliases={"target": "real"},
    )


@DATASETS.register(
    "edges2fashion",
    paper="Isola et al. 2017, pix2pix (edges -> photo), on Fashion-MNIST (Xiao et al. 2017)",
)
def edges2fashion(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    resolution: MnistResolution = 32,
    edges: Literal["sobel", "canny"] = "sobel",
    threshold: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1,
    sigma: Annotated[float, Field(gt=0.0)] = 1.0,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Fashion-MNIST edges -> garment: source (N, 1, R, R) edges, real (N, 1, R, R), label.

    The edges are computed from the target at the output resolution R (28, 32 = zero-
    padded as the ``fashion-mnist`` loader does, 64), white on black: ``sobel``
    (see :func:`sobel_edges`, ``threshold``) or ``canny`` (see :func:`canny_edges`,
    ``sigma``). ``label``: the garment class 0..9. ``root``: the Fashion-MNIST idx files.
    """
    base = _idx_set("fashion-mnist", split, root, resolution)
    idx = spread(len(base), limit)
    real = base.tensors["real"][idx]
    return _paired(
        "edges2fashion",
        real,
        _edges(real, edges, threshold, sigma),
        {"label": base.tensors["label"][idx]},
        10,
        {**base.info, "edges": _edge_info(edges, threshold, sigma)},
    )


@DATASETS.register(
    "edges2cifar",
    paper="Isola et al. 2017, pix2pix (edges -> photo), on CIFAR-10 (Krizhevsky 2009)",
)
def edges2cifar(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    edges: Literal["sobel", "canny"] = "sobel",
    threshold: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1,
    sigma: Annotated[float, Field(gt=0.0)] = 1.0,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """CIFAR-10 edges -> colour image: source (N, 1, 32, 32), real (N, 3, 32, 32), label.

    Edges of the BT.601 luma, as in ``edges2fashion``. ``root``: the official CIFAR-10
    archive / folder, or the JPEG copy (lossy; see the module docstring).
    """
    real, labels, info = load_cifar(split, root, limit=limit, skip_bad_files=skip_bad_files)
    return _paired(
        "edges2cifar",
        real,
        _edges(real, edges, threshold, sigma),
        {"label": labels},
        10,
        {**info, "split": split, "edges": _edge_info(edges, threshold, sigma)},
    )


@DATASETS.register(
    "gray2color", paper="Zhang, Isola & Efros 2016, Colorful image colorization; pix2pix (2017)"
)
def gray2color(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """CIFAR-10 grayscale -> colour: source (N, 1, 32, 32) luma, real (N, 3, 32, 32), label.

    source = ITU-R BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B, rounded half up (exact
    integer arithmetic, :func:`luma`).
    """
    real, labels, info = load_cifar(split, root, limit=limit, skip_bad_files=skip_bad_files)
    return _paired(
        "gray2color",
        real,
        luma(real),
        {"label": labels},
        10,
        {**info, "split": split, "gray": "ITU-R BT.601 luma, rounded half up"},
    )


def box_masks(
    n: int,
    size: tuple[int, int],
    mode: str,
    mask_size: int,
    boxes: int,
    seed: int,
    index: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hole masks, bool (len(index), H, W), True inside the hole.

    ``center``: one ``mask_size`` square, centred (top-left at ((H - s) // 2, (W - s) // 2)).
    ``random``: per image ``boxes`` rectangles, height and width each uniform in
    [ceil(s / 2), s], position uniform with the box inside the image; all parameters are
    drawn for the ``n`` images of the whole split from ``torch.Generator().manual_seed(seed)``
    and then picked at ``index``, so an image keeps its mask whatever ``limit`` selects.
    """
    h, w = size
    index = torch.arange(n) if index is None else index
    m = len(index)
    if mode == "center":
        mask = torch.zeros((m, h, w), dtype=torch.bool)
        t, left = (h - mask_size) // 2, (w - mask_size) // 2
        mask[:, t : t + mask_size, left : left + mask_size] = True
        return mask
    g = torch.Generator().manual_seed(seed)
    lo = (mask_size + 1) // 2
    params = []
    for _ in range(boxes):
        bh = torch.randint(lo, mask_size + 1, (n,), generator=g)
        bw = torch.randint(lo, mask_size + 1, (n,), generator=g)
        top = (torch.rand(n, generator=g, dtype=torch.float64) * (h - bh + 1)).long()
        left = (torch.rand(n, generator=g, dtype=torch.float64) * (w - bw + 1)).long()
        params.append((bh[index], bw[index], top[index], left[index]))
    rows_ar, cols_ar = torch.arange(h), torch.arange(w)
    mask = torch.zeros((m, h, w), dtype=torch.bool)
    for bh, bw, top, left in params:
        rows = (rows_ar >= top[:, None]) & (rows_ar < (top + bh)[:, None])  # (m, H)
        cols = (cols_ar >= left[:, None]) & (cols_ar < (left + bw)[:, None])  # (m, W)
        mask |= rows[:, :, None] & cols[:, None, :]
    return mask


@DATASETS.register(
    "inpaint", paper="Pathak et al. 2016, Context encoders: feature learning by inpainting"
)
def inpaint(
    base: Literal["cifar10", "mnist", "fashion-mnist"] = "cifar10",
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    resolution: MnistResolution = 32,
    mask: Literal["center", "random"] = "center",
    mask_size: Annotated[int, Field(gt=0)] | None = None,
    boxes: Annotated[int, Field(gt=0, le=16)] = 1,
    seed: Annotated[int, Field(ge=0)] = 0,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Masked image -> complete image: source, real (N, C, R, R); mask (N, 1, R, R); label.

    ``source`` is ``real`` with the hole filled with mid-grey 128 (128 / 127.5 - 1 = 0.004
    after :meth:`TensorDataset.batch`: the uint8 value closest to 0.0); ``mask`` is uint8 255 inside the hole, 0 outside (in a
    batch it becomes float +1 / -1 like every uint8 image tensor: use ``(mask + 1) / 2``
    for a {0, 1} weight). Holes: ``center`` = one centred square of side ``mask_size``
    (default R / 2: the context-encoder setting); ``random`` = ``boxes`` seeded random
    rectangles per image, fixed per image (see :func:`box_masks`), so the dataset is
    deterministic. ``base``: CIFAR-10 (R = 32, 3 channels; root as for ``cifar10`` or its
    JPEG copy) or MNIST / Fashion-MNIST (R = ``resolution``, 1 channel).
    """
    if base == "cifar10":
        if resolution != 32:
            raise ConfigError(f"inpaint: base cifar10 is 32x32; resolution={resolution}.")
        real, labels, info = load_cifar(split, root, limit=limit, skip_bad_files=skip_bad_files)
        n_full, index = info["cifar_n"], info["cifar_index"]
    else:
        ds = _idx_set(base, split, root, resolution)
        index = spread(len(ds), limit)
        real, labels, info = ds.tensors["real"][index], ds.tensors["label"][index], ds.info
        n_full = len(ds)
    h, w = real.shape[-2:]
    size = mask_size if mask_size is not None else h // 2
    if size > min(h, w):
        raise ConfigError(f"inpaint: mask_size={size} is larger than the {h}x{w} images.")
    holes = box_masks(n_full, (h, w), mask, size, boxes, seed, index).unsqueeze(1)
    source = real.masked_fill(holes, 128)
    return _paired(
        "inpaint",
        real,
        source,
        {"mask": holes.to(torch.uint8) * 255, "label": labels},
        10,
        {
            **info,
            "split": split,
            "base": base,
            "mask": {"mode": mask, "size": size, "boxes": boxes, "seed": seed, "fill": 128},
        },
    )


@DATASETS.register(
    "mnist-seg", paper="Xue et al. 2018, SegAN: adversarial network with multi-scale L1 loss"
)
def mnist_seg(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    resolution: MnistResolution = 32,
    threshold: Annotated[int, Field(ge=0, le=254)] = 127,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """MNIST digit -> its binary mask: source (N, 1, R, R) digit, real (N, 1, R, R) mask.

    real = 255 where the digit's pixel > ``threshold`` (at resolution R), else 0: a toy
    segmentation task for SegAN-style training. ``label``: the digit 0..9.
    """
    base = _idx_set("mnist", split, root, resolution)
    idx = spread(len(base), limit)
    digits = base.tensors["real"][idx]
    masks = (digits > threshold).to(torch.uint8) * 255
    return _paired(
        "mnist-seg",
        masks,
        digits,
        {"label": base.tensors["label"][idx]},
        10,
        {**base.info, "threshold": threshold, "mask": f"255 where pixel > {threshold}"},
    )


# -- super-resolution ---------------------------------------------------------------------
def _sr(
    name: str, high: torch.Tensor, scale: int, info: dict[str, Any], extra: dict | None = None
) -> TensorDataset:
    low = bicubic_downsample(high, scale)
    return TensorDataset(
        name=name,
        kind="images",
        tensors={"real": high, "low": low, **(extra or {})},
        num_classes=10 if extra and "label" in extra else None,
        info={
            "task": "sr",
            "condition": "low",
            "source_shape": tuple(low.shape[1:]),
            "scale": scale,
            "degradation": "F.interpolate bicubic, antialias=True, align_corners=False, "
            "on [-1, 1] floats; float_to_uint8 quantisation",
            **info,
        },
        aliases={"high": "real"},
    )


@DATASETS.register(
    "sr-cifar10", paper="Ledig et al. 2017, SRGAN (bicubic x4 degradation), on CIFAR-10"
)
def sr_cifar10(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    scale: Literal[2, 4, 8] = 4,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """CIFAR-10 super-resolution: low (N, 3, 32/s, 32/s) -> real = high (N, 3, 32, 32), label.

    low = :func:`bicubic_downsample` (antialiased bicubic, x``scale``) of high.
    """
    high, labels, info = load_cifar(split, root, limit=limit, skip_bad_files=skip_bad_files)
    return _sr("sr-cifar10", high, scale, {**info, "split": split}, {"label": labels})


def sample_patches(
    sizes: Sequence[tuple[int, int]],
    load: Callable[[int], np.ndarray],
    patch: int,
    per_image: int,
    seed: int,
    limit: int | None = None,
    columns: Callable[[int], tuple[int, int]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random square patches of several images -> (uint8 (N, 3, p, p), image index (N,)).

    Image ``j`` (height, width ``sizes[j]``) gives ``per_image`` patches whose top-left
    corners are drawn from ``torch.Generator().manual_seed(seed * 1_000_003 + j)``:
    rows uniform in [0, H - p], columns uniform in [x0, x1 - p] with ``(x0, x1) =
    columns(W)`` (default the whole width). Sample ``i`` is patch ``i % per_image`` of
    image ``i // per_image``; ``limit`` keeps evenly spaced samples, and only images that
    still have a patch are loaded (``load(j)`` -> (H, W, 3) uint8).
    """
    n = len(sizes) * per_image
    keep = spread(n, limit)
    out = torch.empty((len(keep), 3, patch, patch), dtype=torch.uint8)
    which = keep // per_image
    for j in torch.unique(which).tolist():
        h, w = sizes[j]
        x0, x1 = columns(w) if columns is not None else (0, w)
        if h < patch or x1 - x0 < patch:
            raise ConfigError(
                f"patch={patch} does not fit image {j} ({w}x{h}, usable columns {x0}..{x1}); "
                f"choose a smaller patch."
            )
        g = torch.Generator().manual_seed(seed * 1_000_003 + j)
        tops = torch.randint(0, h - patch + 1, (per_image,), generator=g)
        lefts = torch.randint(x0, x1 - patch + 1, (per_image,), generator=g)
        image = torch.from_numpy(np.array(load(j), dtype=np.uint8)).permute(2, 0, 1)
        for pos in (which == j).nonzero().flatten().tolist():
            t = int(keep[pos]) % per_image
            top, left = int(tops[t]), int(lefts[t])
            out[pos] = image[:, top : top + patch, left : left + patch]
    return out, which


#: scikit-image's bundled pictures usable by ``sr-photos`` (all load offline from the
#: wheel, checked with scikit-image 0.26); grey ones are replicated to 3 channels.
PhotoName = Literal[
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "rocket",
]
SKIMAGE_PHOTOS: tuple[str, ...] = typing.get_args(PhotoName)
DEFAULT_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket")
TRAIN_FRACTION = 0.75  # sr-photos: columns [0, 0.75 W) train, [0.75 W, W) test


def _skimage_photo(name: str) -> np.ndarray:
    import skimage.data

    im = np.asarray(getattr(skimage.data, name)())
    if im.ndim == 2:
        im = np.repeat(im[:, :, None], 3, axis=2)
    if im.dtype != np.uint8:
        raise DataError(f"skimage.data.{name}() is {im.dtype}, expected uint8.")
    return im[:, :, :3]


@DATASETS.register(
    "sr-photos",
    paper="Ledig et al. 2017, SRGAN (96x96 patches, bicubic x4); scikit-image sample photographs",
)
def sr_photos(
    split: Literal["train", "test"] = "train",
    images: tuple[PhotoName, ...] = DEFAULT_PHOTOS,
    patch: Annotated[int, Field(gt=0, le=512)] = 96,
    patches_per_image: Annotated[int, Field(gt=0, le=100_000)] = 200,
    scale: Literal[2, 4, 8] = 4,
    seed: Annotated[int, Field(ge=0)] = 0,
    limit: Limit = None,
) -> TensorDataset:
    """Photo patches, low (N, 3, p/s, p/s) -> real = high (N, 3, p, p); offline.

    High-res patches of side ``patch`` at seeded random positions (see
    :func:`sample_patches`) in scikit-image's bundled photographs (no download; grey
    ``camera`` / ``moon`` / ``coins`` are replicated to RGB); low = :func:`bicubic_downsample`.
    The splits use disjoint pixels: train patches lie in the left 75% of each photo's
    columns, test patches in the right 25% (so ``patch`` must fit in that strip: <= 112
    for ``chelsea``). N = len(images) * patches_per_image (or ``limit``). A demo /
    smoke-test set: five photos are no benchmark.
    """
    if not images or len(set(images)) != len(images):
        raise ConfigError(f"sr-photos: images must be distinct names, got {list(images)}.")
    if patch % scale:
        raise ConfigError(f"sr-photos: patch={patch} is not divisible by scale={scale}.")
    photos = [_skimage_photo(name) for name in images]

    def columns(w: int) -> tuple[int, int]:
        cut = int(w * TRAIN_FRACTION)
        return (0, cut) if split == "train" else (cut, w)

    seed_split = seed * 2 + (split == "test")
    high, which = sample_patches(
        [p.shape[:2] for p in photos],
        lambda j: photos[j],
        patch,
        patches_per_image,
        seed_split,
        limit,
        columns,
    )
    return _sr(
        "sr-photos",
        high,
        scale,
        {
            "split": split,
            "images": list(images),
            "image_index": which,
            "patch": patch,
            "patches_per_image": patches_per_image,
            "seed": seed,
            "columns": f"train [0, {TRAIN_FRACTION} W), test [{TRAIN_FRACTION} W, W)",
        },
    )


# -- unpaired -----------------------------------------------------------------------------
def _unpaired(
    name: str,
    a: torch.Tensor,
    b: torch.Tensor,
    extra: dict[str, torch.Tensor],
    info: dict[str, Any],
) -> TensorDataset:
    return TensorDataset(
        name=name,
        kind="images",
        tensors={"real": b, "a": a, **extra},
        num_classes=10 if "label" in extra else None,
        info={"task": "unpaired", "condition": "a", "source_shape": tuple(a.shape[1:]), **info},
        aliases={"b": "real"},
    )


def colorize(gray: torch.Tensor, colors: torch.Tensor) -> torch.Tensor:
    """White-on-black uint8 (N, 1, H, W) -> (N, 3, H, W): stroke colour c, background 1 - c.

    With x = gray / 255 and c in [0, 1]^3 per image: out_k = round(255 (x c_k + (1 - x)
    (1 - c_k))), rounded half up.
    """
    x = gray.float().div(255.0)
    c = colors.float()[:, :, None, None]
    return round_to_uint8_((x * c + (1 - x) * (1 - c)).mul_(255.0))


def random_colors(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 3) colours with every channel in [0, 0.25) or [0.75, 1): c = 0.75 b + 0.25 u.

    b ~ Bernoulli(1/2), u ~ U[0, 1) per channel, so the stroke c and the inverted
    background 1 - c differ by at least 0.5 in every channel: the digit always shows.
    """
    bits = torch.randint(0, 2, (n, 3), generator=generator).float()
    u = torch.rand((n, 3), generator=generator)
    return 0.75 * bits + 0.25 * u


@DATASETS.register(
    "mnist2color",
    paper="Zhu et al. 2017, CycleGAN (unpaired translation); toy domains from MNIST",
)
def mnist2color(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    resolution: MnistResolution = 32,
    seed: Annotated[int, Field(ge=0)] = 0,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Unpaired MNIST gray -> colour: a (N, 3, R, R), real = b (N, 3, R, R), label_a, label.

    The split is permuted with ``torch.Generator().manual_seed(seed)``; the first half of
    the permutation is domain A, the second half domain B, so no image is in both (the
    indices into the split are ``info["index_a"]`` / ``info["index_b"]``). Then n =
    min(|A|, |B|, limit) of each; a_i and b_i are unrelated digits. The CycleGAN losses
    never couple a_i with b_i (each domain is sampled on its own), so this fixed pairing
    in one tensor is harmless.

    - A: the digit as stored (white on black), the grey channel replicated to 3 channels
      so that both generators map 3 -> 3 channels.
    - B: colourised, :func:`colorize` with a per-image stroke colour c from
      :func:`random_colors` (generator seeded ``seed + 1``), background 1 - c.

    ``label_a`` / ``label``: the digits of a and b (int64).
    """
    base = _idx_set("mnist", split, root, resolution)
    n_all = len(base)
    perm = torch.randperm(n_all, generator=torch.Generator().manual_seed(seed))
    half = n_all // 2
    n = half if limit is None else min(half, limit)
    idx_a, idx_b = perm[:n], perm[half : half + n]
    colors = random_colors(half, torch.Generator().manual_seed(seed + 1))[:n]
    real, labels = base.tensors["real"], base.tensors["label"]
    return _unpaired(
        "mnist2color",
        to_rgb(real[idx_a]),
        colorize(real[idx_b], colors),
        {"label_a": labels[idx_a], "label": labels[idx_b]},
        {
            **base.info,
            "domains": ["mnist-gray", "mnist-color"],
            "index_a": idx_a,
            "index_b": idx_b,
            "colors": colors,
            "seed": seed,
            "transform_b": "x=gray/255; out=round(255*(x*c+(1-x)*(1-c))), c=0.75*b+0.25*u",
        },
    )


@DATASETS.register(
    "cifar-cat2dog", paper="Zhu et al. 2017, CycleGAN (unpaired translation), on CIFAR-10 cats/dogs"
)
def cifar_cat2dog(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    seed: Annotated[int, Field(ge=0)] = 0,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """Unpaired CIFAR-10 cats -> dogs: a = cats (N, 3, 32, 32), real = b = dogs (N, 3, 32, 32).

    A: the cats (class 3) in split order; B: the dogs (class 5) permuted with
    ``torch.Generator().manual_seed(seed)``; both truncated to n = min(|A|, |B|, limit)
    (5,000 train, 1,000 test). Pairs are unrelated images; CycleGAN never couples them.
    """
    images, labels, info = load_cifar(
        split, root, classes=[3, 5], limit=limit, per_class=True, skip_bad_files=skip_bad_files
    )
    cats, dogs = images[labels == 3], images[labels == 5]
    n = min(len(cats), len(dogs))
    _check_limit_nonempty(n, "cifar-cat2dog")
    perm = torch.randperm(len(dogs), generator=torch.Generator().manual_seed(seed))[:n]
    return _unpaired(
        "cifar-cat2dog",
        cats[:n],
        dogs[perm],
        {},
        {**info, "split": split, "domains": ["cat", "dog"], "seed": seed},
    )


# -- multi-domain -------------------------------------------------------------------------
def _thick(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x.float(), 3, stride=1, padding=1).to(torch.uint8)


def _zeros(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


#: name -> (N, 1, H, W) white-on-black uint8 -> (N, 3, H, W) uint8.
DOMAINS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "original": to_rgb,  # white digit on black, grey replicated
    "inverted": lambda x: to_rgb(255 - x),  # black digit on white
    "red": lambda x: torch.cat([x, _zeros(x), _zeros(x)], 1),  # red digit on black
    "green": lambda x: torch.cat([_zeros(x), x, _zeros(x)], 1),
    "blue": lambda x: torch.cat([_zeros(x), _zeros(x), x], 1),
    "rotated": lambda x: to_rgb(torch.rot90(x, 1, dims=(2, 3))),  # 90 deg counter-clockwise
    "flipped": lambda x: to_rgb(torch.flip(x, dims=(3,))),  # mirrored left-right
    "thick": lambda x: to_rgb(_thick(x)),  # 3x3 grey dilation (max filter): bolder strokes
}
DomainName = Literal["original", "inverted", "red", "green", "blue", "rotated", "flipped", "thick"]
DEFAULT_DOMAINS = ("original", "inverted", "red", "rotated", "thick")


@DATASETS.register(
    "mnist-domains", paper="Choi et al. 2018, StarGAN (multi-domain translation); MNIST domains"
)
def mnist_domains(
    split: Literal["train", "test"] = "train",
    root: str | None = None,
    resolution: MnistResolution = 32,
    domains: tuple[DomainName, ...] = DEFAULT_DOMAINS,
    seed: Annotated[int, Field(ge=0)] = 0,
    limit: Limit = None,
    skip_bad_files: bool = False,
) -> TensorDataset:
    """MNIST in D visual domains: real (N, 3, R, R), label = domain index, digit (N,).

    The split is permuted with ``torch.Generator().manual_seed(seed)`` and the image at
    permutation position i is rendered in domain ``domains[i % D]`` only, so the domains
    hold disjoint images of (nearly) equal count. Domains (on the white-on-black digit):
    ``original`` (grey, 3 channels), ``inverted`` (255 - x), ``red`` / ``green`` /
    ``blue`` (the digit in that channel, others 0), ``rotated`` (90 degrees counter-
    clockwise), ``flipped`` (left-right mirror), ``thick`` (3x3 max filter). ``label`` is
    the position in ``domains`` (num_classes = D), ``digit`` the MNIST class.
    ``limit``: total N (the first ``limit`` permutation positions).
    """
    if len(domains) < 2 or len(set(domains)) != len(domains):
        raise ConfigError(
            f"mnist-domains: domains must be at least 2 distinct names from "
            f"{', '.join(DOMAINS)}; got {list(domains)}."
        )
    base = _idx_set("mnist", split, root, resolution)
    perm = torch.randperm(len(base), generator=torch.Generator().manual_seed(seed))
    if limit is not None:
        perm = perm[:limit]
    d = len(domains)
    label = torch.arange(len(perm)) % d
    gray = base.tensors["real"][perm]
    real = torch.empty((len(perm), 3, *gray.shape[-2:]), dtype=torch.uint8)
    for k, name in enumerate(domains):
        sel = label == k
        real[sel] = DOMAINS[name](gray[sel])
    return TensorDataset(
        name="mnist-domains",
        kind="images",
        tensors={"real": real, "label": label, "digit": base.tensors["label"][perm]},
        num_classes=d,
        info={
            **base.info,
            "task": "multidomain",
            "condition": "label",
            "domains": list(domains),
            "index": perm,
            "seed": seed,
        },
    )
