"""Tests for ganforge.reports: sample grids, PNG files and plots."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from ganforge.data.base import float_to_uint8
from ganforge.reports import load_png, loss_curves, make_grid, save_image_grid, scatter_2d
from ganforge.reports.images import auto_scale, upscale_nearest


def _png_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.verify()  # raises on a corrupt file
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


# ---------------------------------------------------------------------------- make_grid


def test_make_grid_exact_pixels_uint8():
    # 3 images of 1x2x2 with distinct values, 2 per row, padding 1 of value 9
    images = torch.tensor(
        [[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]], [[[10, 11], [12, 13]]]], dtype=torch.uint8
    )
    grid = make_grid(images, nrow=2, padding=1, pad_value=9)
    expected = torch.tensor(
        [
            [9, 9, 9, 9, 9, 9, 9],
            [9, 1, 2, 9, 5, 6, 9],
            [9, 3, 4, 9, 7, 8, 9],
            [9, 9, 9, 9, 9, 9, 9],
            [9, 10, 11, 9, 9, 9, 9],
            [9, 12, 13, 9, 9, 9, 9],
            [9, 9, 9, 9, 9, 9, 9],
        ],
        dtype=torch.uint8,
    )
    assert grid.dtype == torch.uint8
    assert grid.shape == (1, 7, 7)
    assert torch.equal(grid[0], expected)


def test_make_grid_float_uses_project_quantisation():
    x = torch.tensor([-1.0, -0.5, 0.0, 1.0]).view(1, 1, 2, 2)
    grid = make_grid(x, padding=0)
    # floor((x + 1) * 127.5 + 0.5): -1 -> 0, -0.5 -> 64, 0 -> 128, 1 -> 255
    assert grid.tolist() == [[[0, 64], [128, 255]]]
    assert torch.equal(grid, float_to_uint8(x)[0])
    # out of range values are clamped, not wrapped
    assert make_grid(torch.tensor([-3.0, 3.0]).view(1, 1, 1, 2), padding=0).tolist() == [[[0, 255]]]


@pytest.mark.parametrize(
    ("n", "nrow", "shape"),
    [
        (1, None, (3, 8 + 4, 8 + 4)),
        (4, None, (3, 2 * 10 + 2, 2 * 10 + 2)),  # square 2x2
        (10, None, (3, 3 * 10 + 2, 4 * 10 + 2)),  # ceil(sqrt(10)) = 4 per row, 3 rows
        (5, 8, (3, 10 + 2, 5 * 10 + 2)),  # nrow larger than N: one row of N
        (6, 1, (3, 6 * 10 + 2, 10 + 2)),
    ],
)
def test_make_grid_shapes(n, nrow, shape):
    grid = make_grid(torch.zeros(n, 3, 8, 8), nrow=nrow, padding=2)
    assert grid.shape == shape


def test_make_grid_no_padding_is_a_tiling():
    images = torch.arange(4 * 2 * 3, dtype=torch.uint8).view(4, 1, 2, 3)
    grid = make_grid(images, nrow=2, padding=0)
    assert torch.equal(grid[:, :2, :3], images[0])
    assert torch.equal(grid[:, :2, 3:], images[1])
    assert torch.equal(grid[:, 2:, :3], images[2])
    assert torch.equal(grid[:, 2:, 3:], images[3])


def test_make_grid_single_chw_image_and_errors():
    assert make_grid(torch.zeros(1, 4, 4, dtype=torch.uint8), padding=0).shape == (1, 4, 4)
    with pytest.raises(ValueError, match="N, C, H, W"):
        make_grid(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="empty"):
        make_grid(torch.zeros(0, 1, 4, 4))
    with pytest.raises(TypeError, match="uint8"):
        make_grid(torch.zeros(1, 1, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"0\.\.255"):
        make_grid(torch.zeros(1, 1, 4, 4), pad_value=300)


def test_upscale_and_auto_scale():
    grid = torch.tensor([[[1, 2], [3, 4]]], dtype=torch.uint8)
    up = upscale_nearest(grid, 2)
    assert up.tolist() == [[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]
    assert auto_scale(300) == 1
    assert auto_scale(128) == 2
    assert auto_scale(100) == 3  # smallest factor reaching 256
    assert auto_scale(1) == 16  # capped


# ---------------------------------------------------------------------------- PNG files


def test_png_round_trip_grey_and_rgb(tmp_path):
    g = torch.Generator().manual_seed(0)
    grey = torch.randint(0, 256, (5, 1, 6, 7), dtype=torch.uint8, generator=g)
    path = save_image_grid(grey, tmp_path / "grey.png", nrow=3, scale=1)
    assert path == tmp_path / "grey.png"
    assert torch.equal(load_png(path), make_grid(grey, nrow=3))
    with Image.open(path) as im:
        assert im.mode == "L"

    rgb = torch.rand(4, 3, 5, 5, generator=g) * 2 - 1
    path = save_image_grid(rgb, tmp_path / "sub" / "rgb.png", scale=1)  # creates the folder
    with Image.open(path) as im:
        assert im.mode == "RGB"
    assert torch.equal(load_png(path), make_grid(rgb))
    # no temporary files left behind
    assert sorted(os.listdir(tmp_path)) == ["grey.png", "sub"]
    assert os.listdir(tmp_path / "sub") == ["rgb.png"]


def test_save_upscales_small_digits_to_visible_size(tmp_path):
    images = torch.rand(16, 1, 16, 16) * 2 - 1
    path = save_image_grid(images, tmp_path / "digits.png")
    w, h = _png_size(path)
    grid = make_grid(images)  # 4x4 grid of 16 px + padding = 74 px
    assert grid.shape == (1, 74, 74)
    assert (w, h) == (4 * 74, 4 * 74)  # ceil(256 / 74) = 4
    assert w >= 256
    # nearest neighbour: every grid pixel becomes a 4x4 block
    assert torch.equal(load_png(path), upscale_nearest(grid, 4))
    w1, _ = _png_size(save_image_grid(images, tmp_path / "x2.png", scale=2))
    assert w1 == 2 * 74


def test_save_rejects_two_channels(tmp_path):
    with pytest.raises(ValueError, match="1 \\(grey\\), 3 \\(RGB\\)"):
        save_image_grid(torch.zeros(1, 2, 4, 4), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "grid.png"
    save_image_grid(torch.zeros(1, 1, 4, 4), path, scale=1)
    save_image_grid(torch.ones(1, 1, 4, 4), path, scale=1, padding=0)
    assert load_png(path).unique().tolist() == [255]
    assert os.listdir(tmp_path) == ["grid.png"]


# ---------------------------------------------------------------------------- plots


def test_scatter_2d_writes_png(tmp_path):
    g = torch.Generator().manual_seed(0)
    angles = torch.arange(8) * (2 * torch.pi / 8)
    centers = torch.stack([2 * angles.cos(), 2 * angles.sin()], dim=1)
    real = centers[torch.randint(8, (500,), generator=g)] + 0.05 * torch.randn(500, 2, generator=g)
    fake = torch.randn(400, 2, generator=g)
    path = scatter_2d(fake, real, tmp_path / "s.png", centers=centers, title="ring8", lim=3)
    w, h = _png_size(path)
    assert 300 <= w <= 2000 and 300 <= h <= 2000
    assert path.stat().st_size > 5_000  # not an empty canvas
    # numpy input, no real points, limits fitted to the data
    w2, _ = _png_size(scatter_2d(fake.numpy(), None, tmp_path / "t.png"))
    assert w2 == w
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        scatter_2d(torch.zeros(5, 3), None, tmp_path / "bad.png")
    assert sorted(os.listdir(tmp_path)) == ["s.png", "t.png"]


def _records(n: int = 50) -> list[dict]:
    return [
        {"step": 10 * i, "loss/d": 1.0 / (i + 1), "loss/g": 0.7 + 0.01 * i, "gp": 0.1, "time": i}
        for i in range(n)
    ]


def test_loss_curves_from_records_and_jsonl(tmp_path):
    path = loss_curves(_records(), tmp_path / "loss.png")
    w, h = _png_size(path)
    assert 400 <= w <= 3000 and 200 <= h <= 3000

    jsonl = tmp_path / "metrics.jsonl"
    lines = [json.dumps(r) for r in _records()]
    lines.insert(3, json.dumps({"step": 35, "loss/d": float("nan"), "note": "text"}))
    # a run killed mid-write leaves a truncated last line
    jsonl.write_text("\n".join(lines) + '\n{"step": 500, "loss/', encoding="utf-8")
    path2 = loss_curves(jsonl, tmp_path / "loss2.png", keys=["loss/d", "loss/g"])
    w2, h2 = _png_size(path2)
    assert w2 >= 400 and h2 >= 200


def test_loss_curves_with_nothing_to_plot(tmp_path):
    path = loss_curves([{"step": 1, "note": "x"}], tmp_path / "empty.png")
    _png_size(path)
    path = loss_curves(_records(), tmp_path / "missing.png", keys=["no/such/key"])
    _png_size(path)


def test_loss_curves_rejects_corrupt_middle_line(tmp_path):
    jsonl = tmp_path / "metrics.jsonl"
    jsonl.write_text('{"step": 1, "a": 1}\nnot json\n{"step": 2, "a": 2}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        loss_curves(jsonl, tmp_path / "x.png")


def test_plots_do_not_touch_pyplot(tmp_path):
    # pyplot's global figure list leaks memory in long runs and its backend selection is
    # global state; plotting must work without ever importing it
    code = (
        "import sys, torch\n"
        "from ganforge.reports import scatter_2d, loss_curves\n"
        f"scatter_2d(torch.randn(10, 2), None, {str(tmp_path / 'a.png')!r})\n"
        f"loss_curves([{{'step': 1, 'loss/d': 1.0}}], {str(tmp_path / 'b.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png"]
