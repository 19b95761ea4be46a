"""Translation sets: builders on real data, edge/luma/SR math, folders, archives, downloads."""

from __future__ import annotations

import hashlib
import io
import math
import shutil
import tarfile
import zipfile
from fractions import Fraction
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganforge.data.translation_folders as tf
from ganforge.data import TensorDataset, float_to_uint8, list_datasets, prepare, uint8_to_float
from ganforge.data.base import spread
from ganforge.data.download import REMOTE
from ganforge.data.translation import (
    DEFAULT_DOMAINS,
    bicubic_downsample,
    box_masks,
    colorize,
    luma,
    random_colors,
    sobel_edges,
)
from ganforge.data.translation_folders import RemoteArchive, extract_archive
from ganforge.errors import ConfigError, DataError
from ganforge.registry import DATASETS

PER_CLASS = 6  # images per CIFAR-10 class in the small real-image copy


def _build(**spec: object) -> TensorDataset:
    return DATASETS.build(spec)


@pytest.fixture(scope="session")
def cifar_small(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first PER_CLASS test images of each class of the real CIFAR-10 JPEG zip, as a
    folder ``test/<class>/NNNN.jpg`` (bytes copied, not re-encoded): real images, fast."""
    out = tmp_path_factory.mktemp("cifar-small")
    with zipfile.ZipFile(real_data / "cifar10-jpeg" / "cifar10-jpeg75.zip") as zf:
        names = sorted(n for n in zf.namelist() if n.startswith("test/") and n.endswith(".jpg"))
        taken: dict[str, int] = {}
        for n in names:
            cls = n.split("/")[1]
            if taken.get(cls, 0) < PER_CLASS:
                taken[cls] = taken.get(cls, 0) + 1
                (out / n).parent.mkdir(parents=True, exist_ok=True)
                (out / n).write_bytes(zf.read(n))
    return out


@pytest.fixture
def mnist_root(real_data: Path) -> str:
    return str(real_data / "mnist")


def _check_common(ds: TensorDataset, keys: set[str], aliases: dict[str, str], task: str) -> None:
    assert set(ds.tensors) == keys and ds.aliases == aliases and ds.info["task"] == task
    for k, v in ds.tensors.items():
        assert len(v) == len(ds) and v.dtype == (torch.uint8 if v.dim() == 4 else torch.int64), k
    batch = ds.batch(torch.arange(min(3, len(ds))))
    assert set(batch) == keys | set(aliases)
    for alias, key in aliases.items():
        assert batch[alias] is batch[key]  # the same tensor, no copy
    for k, v in batch.items():
        if v.dim() == 4:
            assert v.dtype == torch.float32 and v.min() >= -1.0 and v.max() <= 1.0, k
    cond = ds.info["condition"]
    if cond != "label":
        assert ds.info["source_shape"] == tuple(ds.tensors[cond].shape[1:])


# -- builders on real data ----------------------------------------------------------------
PAIRED = {"real", "source", "label"}


@pytest.mark.parametrize(
    ("spec", "keys", "real_shape", "cond_shape"),
    [
        ({"name": "edges2fashion"}, PAIRED, (1, 32, 32), (1, 32, 32)),
        ({"name": "edges2fashion", "edges": "canny", "resolution": 28}, PAIRED, (1, 28, 28), None),
        ({"name": "mnist-seg", "resolution": 28}, PAIRED, (1, 28, 28), (1, 28, 28)),
        ({"name": "inpaint", "base": "mnist"}, PAIRED | {"mask"}, (1, 32, 32), (1, 32, 32)),
        ({"name": "edges2cifar"}, PAIRED, (3, 32, 32), (1, 32, 32)),
        ({"name": "gray2color"}, PAIRED, (3, 32, 32), (1, 32, 32)),
        ({"name": "inpaint", "mask": "random"}, PAIRED | {"mask"}, (3, 32, 32), (3, 32, 32)),
        ({"name": "sr-cifar10"}, {"real", "low", "label"}, (3, 32, 32), (3, 8, 8)),
        ({"name": "sr-photos", "patch": 32}, {"real", "low"}, (3, 32, 32), (3, 8, 8)),
        ({"name": "mnist2color"}, {"real", "a", "label", "label_a"}, (3, 32, 32), (3, 32, 32)),
        ({"name": "cifar-cat2dog"}, {"real", "a"}, (3, 32, 32), (3, 32, 32)),
        ({"name": "mnist-domains"}, {"real", "label", "digit"}, (3, 32, 32), None),
    ],
    ids=[
        "edges2fashion",
        "edges2fashion-canny",
        "mnist-seg",
        "inpaint-mnist",
        "edges2cifar",
        "gray2color",
        "inpaint-cifar",
        "sr-cifar10",
        "sr-photos",
        "mnist2color",
        "cifar-cat2dog",
        "mnist-domains",
    ],
)
def test_builders(
    spec: dict,
    keys: set[str],
    real_shape: tuple,
    cond_shape: tuple | None,
    real_data: Path,
    cifar_small: Path,
) -> None:
    name = spec["name"]
    if name == "sr-photos":
        root = {}
    elif "cifar" in name or name in ("gray2color",) or (name == "inpaint" and "base" not in spec):
        root = {"root": str(cifar_small), "split": "test"}
    else:
        sub = "fashion-mnist" if "fashion" in name else "mnist"
        root = {"root": str(real_data / sub), "split": "test"}
    full = {**spec, **root, "limit": 10}
    ds = _build(**full)
    task = {"a": "unpaired", "low": "sr", "source": "paired"}
    cond = next((k for k in ("source", "a", "low") if k in keys), "label")
    aliases = {"source": {"target": "real"}, "a": {"b": "real"}, "low": {"high": "real"}}
    _check_common(ds, keys, aliases.get(cond, {}), task.get(cond, "multidomain"))
    assert ds.shape == real_shape and len(ds) == (PER_CLASS if name == "cifar-cat2dog" else 10)
    if cond_shape is not None:
        assert tuple(ds.tensors[cond].shape[1:]) == cond_shape
    again = _build(**full)  # deterministic across calls
    assert all(torch.equal(again.tensors[k], v) for k, v in ds.tensors.items())


def test_real_cifar_zip_and_folder_roots(real_data: Path) -> None:
    ds = _build(name="gray2color", root=str(real_data / "cifar10-jpeg"), split="test", limit=20)
    assert len(ds) == 20 and "JPEG" in ds.info["cifar_source"]
    assert torch.bincount(ds.tensors["label"]).tolist() == [2] * 10  # spread over the classes
    assert torch.equal(ds.tensors["source"], luma(ds.tensors["real"]))


def test_missing_roots_fail_clearly(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"mnist.*nowhere.*not a folder"):
        _build(name="mnist2color", root=missing)
    with pytest.raises(DataError, match=r"cifar10.*does not exist"):
        _build(name="gray2color", root=missing)
    with pytest.raises(DataError, match="nowhere does not exist"):
        _build(name="unpaired-folder", root=missing)
    with pytest.raises(DataError, match="nowhere does not exist"):
        _build(name="paired-folder", root=missing)
    with pytest.raises(DataError, match=r"facades.*nowhere.*not a folder"):
        _build(name="facades", root=missing)


# -- math: Sobel, luma, SR ----------------------------------------------------------------
def test_sobel_of_a_step_matches_hand_computed_values() -> None:
    img = torch.zeros(1, 1, 6, 8, dtype=torch.uint8)
    img[..., 4:] = 255  # vertical step between columns 3 and 4
    e = sobel_edges(img, threshold=0.1)[0, 0]
    # columns 3 and 4 see Gx = 1 + 2 + 1 = 4 = the full step -> 255; elsewhere 0 (replicate
    # padding: no edges at the border)
    expected = torch.zeros(6, 8, dtype=torch.uint8)
    expected[:, 3:5] = 255
    assert torch.equal(e, expected)
    half = img // 2 + (img > 0).to(torch.uint8)  # 0 -> 128 step: 255 * (128 / 255) = 128
    assert sobel_edges(half)[0, 0, :, 3:5].unique().tolist() == [128]
    faint = (img > 0).to(torch.uint8) * 20  # 20/255 = 0.078 < threshold 0.1 -> no edge
    assert sobel_edges(faint).max() == 0 and sobel_edges(faint, threshold=0.0).max() == 20
    # a horizontal step: the transposed kernel
    assert torch.equal(sobel_edges(img.transpose(2, 3))[0, 0], expected.t())


def test_luma_is_bt601_rounded_half_up() -> None:
    rgb = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [255, 255, 255], [0, 0, 250]]
    img = torch.tensor(rgb).t().reshape(1, 3, 1, 6).to(torch.uint8)
    # 0.299*255 = 76.245, 0.587*255 = 149.685, 0.114*255 = 29.07, 2.99+11.74+3.42 = 18.15,
    # 0.114*250 = 28.5 exactly: a tie, rounded up
    assert luma(img).flatten().tolist() == [76, 150, 29, 18, 255, 29]
    x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator())
    w = (Fraction("0.299"), Fraction("0.587"), Fraction("0.114"))
    pixels = x.permute(0, 2, 3, 1).reshape(-1, 3).tolist()
    ref = [math.floor(sum(c * int(v) for c, v in zip(w, px)) + Fraction(1, 2)) for px in pixels]
    assert luma(x).flatten().tolist() == ref  # exact rational reference, ties round up


def test_sr_low_is_antialiased_bicubic(cifar_small: Path) -> None:
    ds = _build(name="sr-cifar10", root=str(cifar_small), split="test", scale=4)
    high, low = ds.tensors["real"], ds.tensors["low"]
    assert low.shape == (len(ds), 3, 8, 8) and ds.info["scale"] == 4
    ref = F.interpolate(
        uint8_to_float(high), size=(8, 8), mode="bicubic", antialias=True, align_corners=False
    )
    assert torch.equal(low, float_to_uint8(ref))
    up = F.interpolate(uint8_to_float(low), size=(32, 32), mode="bicubic", align_corners=False)
    target = uint8_to_float(high)

    def psnr(x: torch.Tensor) -> float:
        return float(10 * torch.log10(4.0 / (x.clamp(-1, 1) - target).pow(2).mean()))

    assert psnr(up) > 17.0 and psnr(up) > psnr(target.mean().expand_as(target)) + 5.0
    with pytest.raises(ConfigError, match="divisible"):
        bicubic_downsample(high[:, :, :30], 4)


def test_sr_photos_splits_use_disjoint_columns() -> None:
    tr = _build(name="sr-photos", patch=48, scale=2, patches_per_image=3)
    te = _build(name="sr-photos", split="test", patch=48, scale=2, patches_per_image=3)
    assert len(tr) == len(te) == 15 and tr.tensors["low"].shape == (15, 3, 24, 24)
    assert tr.info["image_index"].tolist() == [i // 3 for i in range(15)]
    assert not torch.equal(tr.tensors["real"], te.tensors["real"])
    camera = tr.tensors["real"][tr.info["image_index"] == 1]  # grey photo -> equal channels
    assert torch.equal(camera[:, 0], camera[:, 1]) and torch.equal(camera[:, 1], camera[:, 2])
    with pytest.raises(ConfigError, match="does not fit"):
        _build(name="sr-photos", split="test", patch=128, images=["chelsea"], limit=1)


# -- paired details -----------------------------------------------------------------------
def test_mnist_seg_thresholds_exactly(mnist_root: str) -> None:
    ds = _build(name="mnist-seg", root=mnist_root, split="test", limit=50)
    digits, masks = ds.tensors["source"], ds.tensors["real"]
    assert torch.equal(masks, (digits > 127).to(torch.uint8) * 255)
    assert masks.unique().tolist() == [0, 255]
    strict = _build(name="mnist-seg", root=mnist_root, split="test", limit=50, threshold=200)
    assert torch.equal(strict.tensors["real"], (digits > 200).to(torch.uint8) * 255)


def test_inpaint_hole_is_gray_and_the_rest_untouched(mnist_root: str) -> None:
    ds = _build(name="inpaint", base="mnist", root=mnist_root, split="test", limit=40)
    hole = ds.tensors["mask"] == 255
    assert ds.tensors["mask"].unique().tolist() == [0, 255]
    assert hole[:, 0, 8:24, 8:24].all() and hole.sum() == 40 * 16 * 16  # centre 16x16
    src, real = ds.tensors["source"], ds.tensors["real"]
    assert (src[hole] == 128).all() and torch.equal(src[~hole], real[~hole])
    mid = ds.batch(torch.arange(2))["source"][:, :, 16, 16]
    assert torch.allclose(mid, torch.tensor(128 / 127.5 - 1), atol=1e-6)  # mid-grey: ~0
    # random boxes: fixed per image, whatever `limit` selects
    spec = {"name": "inpaint", "base": "mnist", "root": mnist_root, "split": "test"}
    small = _build(**spec, mask="random", boxes=2, seed=5, limit=7)
    full = _build(**spec, mask="random", boxes=2, seed=5)
    assert torch.equal(small.tensors["mask"], full.tensors["mask"][spread(10_000, 7)])
    assert not torch.equal(small.tensors["mask"][0], small.tensors["mask"][1])
    other = _build(**spec, mask="random", boxes=2, seed=6, limit=7)
    assert not torch.equal(small.tensors["mask"], other.tensors["mask"])
    with pytest.raises(ConfigError, match="mask_size=40 is larger"):
        _build(**spec, mask_size=40, limit=2)


def test_box_masks_sizes() -> None:
    m = box_masks(500, (32, 32), "random", 12, 1, seed=0)
    rows = m.any(2).sum(1)
    cols = m.any(1).sum(1)
    assert rows.min() >= 6 and rows.max() <= 12 and cols.min() >= 6 and cols.max() <= 12
    assert torch.equal(m.sum((1, 2)), rows * cols)  # one rectangle each


# -- unpaired and multi-domain ------------------------------------------------------------
def test_mnist2color_domains_share_no_image(mnist_root: str) -> None:
    ds = _build(name="mnist2color", root=mnist_root, split="test")
    ia, ib = ds.info["index_a"], ds.info["index_b"]
    assert len(ds) == 5_000 and len(set(ia.tolist()) | set(ib.tolist())) == 10_000  # disjoint
    base = _build(name="mnist", root=mnist_root, split="test")
    gray = base.tensors["real"]
    assert torch.equal(ds.tensors["a"], gray[ia].expand(-1, 3, -1, -1))
    assert torch.equal(ds.tensors["label_a"], base.tensors["label"][ia])
    assert torch.equal(ds.tensors["label"], base.tensors["label"][ib])
    assert torch.equal(ds.tensors["real"][:20], colorize(gray[ib[:20]], ds.info["colors"][:20]))
    b = ds.tensors["real"][:20].int()
    # stroke (white in A) vs background (black in A): contrast of >= 0.5 * 255 per channel
    c = ds.info["colors"][:20]
    assert ((2 * c - 1).abs() >= 0.5).all()
    assert (b[:, :, 0, 0] == (255 * (1 - c) + 0.5).floor().int()).all()  # corner = background


def test_random_colors_are_seeded() -> None:
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(random_colors(8, g1), random_colors(8, g2))


def test_cat2dog_domains(cifar_small: Path) -> None:
    ds = _build(name="cifar-cat2dog", root=str(cifar_small), split="test")
    assert len(ds) == PER_CLASS and ds.info["domains"] == ["cat", "dog"]
    cats = _build(name="gray2color", root=str(cifar_small), split="test")
    pool = cats.tensors["real"]
    is_cat = cats.tensors["label"] == 3
    for img in ds.tensors["a"]:
        assert (pool[is_cat] == img).all((1, 2, 3)).any()
    for img in ds.tensors["real"]:
        assert (pool[cats.tensors["label"] == 5] == img).all((1, 2, 3)).any()


def test_mnist_domains_render_disjoint_images(mnist_root: str) -> None:
    ds = _build(name="mnist-domains", root=mnist_root, split="test", limit=50)
    assert ds.num_classes == len(DEFAULT_DOMAINS) and ds.info["domains"] == list(DEFAULT_DOMAINS)
    assert ds.tensors["label"].tolist() == [i % 5 for i in range(50)]
    idx = ds.info["index"]
    assert len(set(idx.tolist())) == 50  # every image in exactly one domain
    gray = _build(name="mnist", root=mnist_root, split="test").tensors["real"][idx]
    real, lab = ds.tensors["real"], ds.tensors["label"]
    assert torch.equal(real[lab == 0], gray[lab == 0].expand(-1, 3, -1, -1))  # original
    assert torch.equal(real[lab == 1][:, 0], 255 - gray[lab == 1][:, 0])  # inverted
    red = real[lab == 2]
    assert torch.equal(red[:, 0], gray[lab == 2][:, 0]) and red[:, 1:].max() == 0
    assert torch.equal(real[lab == 3][:, 0], torch.rot90(gray[lab == 3][:, 0], 1, (1, 2)))
    assert (real[lab == 4][:, 0] >= gray[lab == 4][:, 0]).all()  # thick: a max filter
    with pytest.raises(ConfigError, match="at least 2 distinct"):
        _build(name="mnist-domains", root=mnist_root, domains=["red", "red"])


# -- folders ------------------------------------------------------------------------------
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _img(path: Path, size: tuple[int, int], color: tuple[int, int, int]) -> Image.Image:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", size, color)
    im.save(path)
    return im


def _side_by_side(path: Path, left: tuple, right: tuple, h: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", (2 * h, h), left)
    im.paste(Image.new("RGB", (h, h), right), (h, 0))
    im.save(path)


def test_paired_folder_side_by_side(tmp_path: Path) -> None:
    for i in range(3):
        _side_by_side(tmp_path / "train" / f"{i}.png", RED, BLUE)
    _side_by_side(tmp_path / "val" / "0.png", GREEN, BLUE)
    ds = _build(name="paired-folder", root=str(tmp_path), split="train")
    assert ds.info["layout"] == "side-by-side" and len(ds) == 3 and ds.shape == (3, 8, 8)
    _check_common(ds, {"real", "source"}, {"target": "real"}, "paired")
    assert ds.tensors["source"][:, :, 0, 0].tolist() == [list(RED)] * 3  # A = left
    assert ds.tensors["real"][:, :, 0, 0].tolist() == [list(BLUE)] * 3  # B = right
    rev = _build(name="paired-folder", root=str(tmp_path), split="train", direction="BtoA")
    assert torch.equal(rev.tensors["source"], ds.tensors["real"])
    small = _build(
        name="paired-folder", root=str(tmp_path), split="val", resolution=4, source_channels=1
    )
    assert small.tensors["source"].shape == (1, 1, 4, 4) and small.shape == (3, 4, 4)
    assert small.tensors["source"].unique().tolist() == [150]  # Pillow "L" of green
    with pytest.raises(DataError, match="no images under test/"):
        _build(name="paired-folder", root=str(tmp_path), split="test")


def test_paired_folder_folders_layout(tmp_path: Path) -> None:
    for i in range(4):
        _img(tmp_path / "A" / f"{i:03d}.png", (8, 8), RED)
        _img(tmp_path / "B" / f"{i:03d}.png", (6, 6), BLUE)  # the two sides may differ
    (tmp_path / "B" / "readme.txt").write_text("ignored")
    ds = _build(name="paired-folder", root=str(tmp_path), limit=2)
    assert ds.info["layout"] == "folders" and len(ds) == 2
    assert ds.tensors["source"].shape == (2, 3, 8, 8) and ds.shape == (3, 6, 6)
    # a zip of the same folder reads the same
    zpath = tmp_path.parent / "pairs.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(tmp_path.rglob("*.png")):
            zf.write(p, p.relative_to(tmp_path).as_posix())
    z = _build(name="paired-folder", root=str(zpath), limit=2)
    assert torch.equal(z.tensors["source"], ds.tensors["source"])
    # unmatched names are listed
    _img(tmp_path / "A" / "extra.png", (8, 8), RED)
    _img(tmp_path / "B" / "other.png", (6, 6), BLUE)
    with pytest.raises(DataError, match=r"1 only in A/: extra; 1 only in B/: other"):
        _build(name="paired-folder", root=str(tmp_path))


def test_paired_folder_errors(tmp_path: Path) -> None:
    _side_by_side(tmp_path / "0.png", RED, BLUE)
    _side_by_side(tmp_path / "1.png", RED, BLUE, h=10)
    with pytest.raises(DataError, match=r"differ in size: 0\.png is 8x8 but 1\.png is 10x10"):
        _build(name="paired-folder", root=str(tmp_path))
    assert len(_build(name="paired-folder", root=str(tmp_path), resolution=8)) == 2
    (tmp_path / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match=r"cannot decode 2\.png"):
        _build(name="paired-folder", root=str(tmp_path), resolution=8)
    with pytest.raises(DataError, match="layout 'folders' needs images in A/ \\+ B/"):
        _build(name="paired-folder", root=str(tmp_path), layout="folders")


def test_unpaired_folder_cyclegan_layout(tmp_path: Path) -> None:
    for i in range(5):
        _img(tmp_path / "trainA" / f"a{i}.png", (8, 8), (i * 10, 0, 0))
    for i in range(3):
        _img(tmp_path / "trainB" / f"b{i}.png", (8, 8), (0, 0, 100 + i))
    _img(tmp_path / "testA" / "a.png", (8, 8), RED)
    _img(tmp_path / "testB" / "b.png", (8, 8), BLUE)
    ds = _build(name="unpaired-folder", root=str(tmp_path), split="train", seed=3)
    _check_common(ds, {"real", "a"}, {"b": "real"}, "unpaired")
    assert len(ds) == 3 and ds.info["domains"] == ["trainA", "trainB"]
    assert sorted(ds.tensors["real"][:, 2, 0, 0].tolist()) == [100, 101, 102]  # all of B
    again = _build(name="unpaired-folder", root=str(tmp_path), split="train", seed=3)
    assert again.info["files_b"] == ds.info["files_b"]
    assert len(_build(name="unpaired-folder", root=str(tmp_path), split="test")) == 1
    with pytest.raises(DataError, match=r"Set data.split to one of 'test', 'train'"):
        _build(name="unpaired-folder", root=str(tmp_path))


# -- archives -----------------------------------------------------------------------------
def _tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def _png_bytes(color: tuple = RED, size: tuple = (16, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_extract_archive_tar_and_zip(tmp_path: Path) -> None:
    tgz = _tar(tmp_path / "set.tar.gz", {"set/train/0.png": _png_bytes(), "set/x.txt": b"x"})
    dest = extract_archive(tgz, tmp_path / "out" / "set")
    assert (dest / "train" / "0.png").is_file() and (dest / "x.txt").read_bytes() == b"x"
    zpath = tmp_path / "set.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("a/1.txt", b"1")
        zf.writestr("b/2.txt", b"2")  # two top-level folders: kept as they are
    dest = extract_archive(zpath, tmp_path / "zout")
    assert (dest / "a" / "1.txt").is_file() and (dest / "b" / "2.txt").read_bytes() == b"2"
    assert not [p for p in tmp_path.rglob(".tmp-*")]


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        ("tar", {"../evil.txt": b"x"}),
        ("tar", {"/tmp/abs-evil.txt": b"x"}),
        ("zip", {"ok/../../evil.txt": b"x"}),
        ("zip", {"C:/evil.txt": b"x"}),
        ("link", {}),
    ],
)
def test_extract_archive_refuses_escapes(tmp_path: Path, kind: str, bad: dict) -> None:
    good = {"set/0.txt": b"fine"}
    if kind == "zip":
        path = tmp_path / "bad.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in {**good, **bad}.items():
                zf.writestr(name, data)
    else:
        links = {"set/link": "/etc/passwd"} if kind == "link" else None
        path = _tar(tmp_path / "bad.tar.gz", {**good, **bad}, links)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match="refusing to extract"):
        extract_archive(path, out / "set")
    assert list(out.iterdir()) == []  # nothing written, no temp folder left
    assert not (tmp_path / "evil.txt").exists()


def test_extract_archive_damaged(tmp_path: Path) -> None:
    tgz = _tar(tmp_path / "set.tar.gz", {"set/a.txt": b"a" * 10_000})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tgz.read_bytes()[:-200])
    with pytest.raises(DataError, match="damaged"):
        extract_archive(cut, tmp_path / "out")
    (tmp_path / "page.zip").write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="neither a zip nor a tar"):
        extract_archive(tmp_path / "page.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- standard sets: registry, checksum policy, download from a file:// URL -----------------
def test_standard_sets_registered() -> None:
    names = {"facades", "maps", "edges2shoes", "horse2zebra", "apple2orange", "monet2photo"}
    assert names | {"div2k"} <= set(REMOTE)
    rows = {r.name: r for r in list_datasets()}
    assert not rows["facades"].offline and rows["sr-photos"].offline
    assert rows["paired-folder"].offline and rows["mnist-domains"].offline
    for key, spec in tf.ARCHIVES.items():
        assert spec.url.startswith("https://") and spec.url.endswith(spec.filename), key
        assert spec.checksum_source, key
    assert tf.ARCHIVES["div2k-train"].sha256 and tf.ARCHIVES["facades"].md5
    assert tf.ARCHIVES["horse2zebra"].md5 is None and tf.ARCHIVES["horse2zebra"].sha256 is None


def test_no_download_in_tests(isolated_cache: Path) -> None:
    with pytest.raises(DataError, match=r"efrosgans\.eecs\.berkeley\.edu/pix2pix"):
        _build(name="facades")
    assert not list(isolated_cache.rglob("*.tar.gz"))


def _cyclegan_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for split, n in (("train", 3), ("test", 1)):
            for dom, color in (("A", RED), ("B", BLUE)):
                for i in range(n):
                    zf.writestr(f"h2z/{split}{dom}/{i}.png", _png_bytes(color, (8, 8)))
    return path


def test_download_without_published_checksum_is_trusted_on_first_use(
    tmp_path: Path, isolated_cache: Path, real_urlopen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    zpath = _cyclegan_zip(tmp_path / "horse2zebra.zip")
    spec = RemoteArchive("horse2zebra", "horse2zebra.zip", zpath.as_uri(), "horse2zebra")
    monkeypatch.setitem(tf.ARCHIVES, "horse2zebra", spec)
    with pytest.warns(UserWarning, match="no published checksum.*recorded"):
        ds = _build(name="horse2zebra", resolution=4)
    assert len(ds) == 3 and ds.shape == (3, 4, 4) and ds.tensors["a"][0, 0, 0, 0] == 255
    record = isolated_cache / "horse2zebra" / "horse2zebra.zip.sha256"
    sha = hashlib.sha256(zpath.read_bytes()).hexdigest()
    assert record.read_text().split()[0] == sha
    assert len(_build(name="horse2zebra", split="test", resolution=4)) == 1  # no new download
    # a later download that differs from the recorded sha256 is refused
    (isolated_cache / "horse2zebra" / "horse2zebra.zip").unlink()
    shutil.rmtree(isolated_cache / "horse2zebra" / "horse2zebra")
    with zipfile.ZipFile(zpath, "a") as zf:
        zf.writestr("h2z/trainA/extra.png", _png_bytes())
    with pytest.raises(DataError, match=r"recorded in .*horse2zebra.zip.sha256"):
        prepare("horse2zebra")


def test_published_checksum_is_enforced(
    tmp_path: Path, isolated_cache: Path, real_urlopen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tgz = _tar(
        tmp_path / "facades.tar.gz",
        {f"facades/{s}/{i}.png": _png_bytes() for s in ("train", "val") for i in range(2)},
    )
    md5 = hashlib.md5(tgz.read_bytes()).hexdigest()
    good = RemoteArchive("facades", "facades.tar.gz", tgz.as_uri(), "facades", md5=md5)
    monkeypatch.setitem(tf.ARCHIVES, "facades", good)
    ds = _build(name="facades", split="test", resolution=None)  # no test/: reads val/
    assert ds.info["split_folder"] == "val" and len(ds) == 2
    assert ds.tensors["source"].shape == (2, 3, 8, 8)  # BtoA: source = right half (B)
    assert prepare("facades") == isolated_cache / "facades"
    # the extracted folder works as root as well, offline
    local = _build(name="facades", root=str(isolated_cache / "facades" / "facades"))
    assert len(local) == 2
    bad = RemoteArchive("facades", "facades.tar.gz", tgz.as_uri(), "facades", md5="0" * 32)
    monkeypatch.setitem(tf.ARCHIVES, "facades", bad)
    with pytest.raises(DataError, match="Checksum mismatch"):
        _build(name="facades", root=str(tgz))


def test_div2k_patches_from_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "DIV2K_valid_HR"
    for i in range(2):
        _img(folder / f"{i:04d}.png", (40, 30), (i * 100, 50, 200))
    ds = _build(name="div2k", split="test", root=str(folder), patch=16, patches_per_image=3)
    _check_common(ds, {"real", "low"}, {"high": "real"}, "sr")
    assert ds.tensors["real"].shape == (6, 3, 16, 16) and ds.tensors["low"].shape == (6, 3, 4, 4)
    assert ds.tensors["real"][3:, 0].unique().tolist() == [100]  # patches of image 1
    with pytest.raises(ConfigError, match="divisible"):
        _build(name="div2k", root=str(folder), patch=18)
