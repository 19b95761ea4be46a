"""2-D Gaussian mixtures: the toy problems for watching mode collapse.

Each dataset is ``K`` isotropic Gaussians of equal weight and standard deviation
``std`` at known centres. ``real`` is float32 (N, 2), ``label`` is the int64 (N,)
index of the mode a point was drawn from, and ``info`` holds ``centers`` (K, 2)
float32 and ``std`` (float), which the 2-D diagnostics use to count covered modes
and high-quality samples (PacGAN / VEEGAN protocol: a sample is "high quality" when
it lies within 3 std of a centre; a mode is covered when it gets such samples).

The data are drawn once from a private ``torch.Generator`` seeded with ``seed``, so
a dataset is the same for every training seed and the global RNG is never touched.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
from pydantic import Field

from ganforge.data.base import TensorDataset
from ganforge.registry import DATASETS

_PACGAN = (
    "Lin et al. 2018, PacGAN (arXiv:1712.04086); Srivastava et al. 2017, VEEGAN (arXiv:1705.07761)"
)


def _mixture(name: str, centers: torch.Tensor, std: float, n: int, seed: int) -> TensorDataset:
    """Draw ``n`` points from the equal-weight mixture of N(center_k, std² I)."""
    g = torch.Generator().manual_seed(seed)
    k = len(centers)
    label = torch.randint(k, (n,), generator=g)
    noise = torch.randn(n, 2, generator=g)
    real = centers[label] + std * noise
    return TensorDataset(
        name=name,
        kind="points",
        tensors={"real": real.float(), "label": label},
        num_classes=k,
        info={"centers": centers.float(), "std": float(std), "seed": seed},
    )


@DATASETS.register("ring8", paper=_PACGAN)
def ring8(
    n: Annotated[int, Field(gt=0)] = 100_000,
    std: Annotated[float, Field(gt=0)] = 0.01,
    seed: Annotated[int, Field(ge=0)] = 0,
) -> TensorDataset:
    """8 Gaussians on the unit circle (std 0.01): real (N, 2) float32, label (N,) in 0..7.

    Centres (cos 2πk/8, sin 2πk/8), k = 0..7, variance 1e-4: the "2D-ring" of PacGAN
    (Lin et al. 2018) and VEEGAN (Srivastava et al. 2017). Neighbouring centres are
    0.765 apart, i.e. 76 std.
    """
    angle = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    centers = torch.stack([angle.cos(), angle.sin()], dim=1)
    return _mixture("ring8", centers, std, n, seed)


@DATASETS.register("grid25", paper=_PACGAN)
def grid25(
    n: Annotated[int, Field(gt=0)] = 100_000,
    std: Annotated[float, Field(gt=0)] = 0.05,
    seed: Annotated[int, Field(ge=0)] = 0,
) -> TensorDataset:
    """25 Gaussians on the grid {-4,-2,0,2,4}² (std 0.05): real (N, 2), label (N,) in 0..24.

    The "2D-grid" of PacGAN / VEEGAN (variance 0.0025). Mode k = 5 i + j sits at
    (-4 + 2i, -4 + 2j).
    """
    coords = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=torch.float64)
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    centers = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)
    return _mixture("grid25", centers, std, n, seed)


def spiral_centers(modes: int) -> torch.Tensor:
    """``modes`` points at equal arc length along 1.5 turns of an Archimedean spiral.

    The spiral is r(θ) = 0.5 + θ / 2π for θ in [0, 3π] (radius 0.5 -> 2.0, so
    successive turns are 1.0 apart). Equal *arc length* rather than equal angle keeps
    neighbouring modes equally separated (about 11.8 / (modes - 1); 0.79 for the
    default 16), so no pair of modes is easier to merge than another.

    Returns:
        (modes, 2) float64.
    """
    theta = torch.linspace(0.0, 3 * math.pi, 20_001, dtype=torch.float64)
    r = 0.5 + theta / (2 * math.pi)
    xy = torch.stack([r * theta.cos(), r * theta.sin()], dim=1)
    seg = (xy[1:] - xy[:-1]).norm(dim=1)
    s = torch.cat([torch.zeros(1, dtype=torch.float64), seg.cumsum(0)])
    targets = torch.linspace(0.0, float(s[-1]), modes, dtype=torch.float64)
    idx = torch.searchsorted(s, targets).clamp(max=len(s) - 1)
    return xy[idx]


@DATASETS.register(
    "spiral",
    paper="a ganforge toy problem (cf. the spiral/Swiss-roll toys of WGAN-GP, arXiv:1704.00028)",
)
def spiral(
    n: Annotated[int, Field(gt=0)] = 100_000,
    modes: Annotated[int, Field(ge=2, le=256)] = 16,
    std: Annotated[float, Field(gt=0)] = 0.05,
    seed: Annotated[int, Field(ge=0)] = 0,
) -> TensorDataset:
    """Gaussians along a spiral (16 modes, std 0.05): real (N, 2), label (N,) in 0..modes-1.

    Modes at equal arc length along 1.5 turns of r(θ) = 0.5 + θ/2π, θ in [0, 3π]
    (see :func:`spiral_centers`), ordered from the centre outwards. Unlike the ring
    and the grid, the modes are ordered along a curve with unequal curvature, which
    exposes generators that interpolate between modes (samples on the curve between
    centres are low quality) and that favour the outer, more isolated modes.
    """
    return _mixture("spiral", spiral_centers(modes), std, n, seed)


@DATASETS.register("line", paper="a ganforge toy problem (modes on a segment)")
def line(
    n: Annotated[int, Field(gt=0)] = 100_000,
    modes: Annotated[int, Field(ge=2, le=256)] = 9,
    std: Annotated[float, Field(gt=0)] = 0.05,
    seed: Annotated[int, Field(ge=0)] = 0,
) -> TensorDataset:
    """Gaussians on a line segment (9 modes, std 0.05): real (N, 2), label (N,) in 0..modes-1.

    Centres (x_k, 0) with x_k = k - (modes - 1) / 2, unit spacing centred at the
    origin; the default 9 modes span x in [-4, 4], the range of ``grid25``. A
    1-D arrangement embedded in 2-D: the simplest case where a continuous generator
    must put (near) zero mass between modes, so bridges between neighbours show up
    directly as low-quality samples.
    """
    x = torch.arange(modes, dtype=torch.float64) - (modes - 1) / 2
    centers = torch.stack([x, torch.zeros_like(x)], dim=1)
    return _mixture("line", centers, std, n, seed)


def cluster_points(points: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Group 2-D points into clusters of about ``radius``: (centers (K, 2), labels (M,)).

    Leader clustering (a point farther than ``radius`` from every centre so far starts a
    new cluster, in input order) followed by a few k-means (Lloyd) refinements. Simple
    and deterministic, and good enough to turn a hand-drawn distribution into "modes"
    that the 2-D diagnostics can count; no claim of an optimal clustering.

    Args:
        points: (M, 2) float tensor, M >= 1.
        radius: the cluster scale, > 0.
    """
    import numpy as np

    x = points.double()
    xa = x.numpy()
    # leader pass in NumPy: a Python loop over points, vectorised over the centres
    centers = np.empty_like(xa)
    centers[0], k = xa[0], 1
    for p in xa[1:]:
        if ((centers[:k] - p) ** 2).sum(axis=1).min() > radius * radius:
            centers[k], k = p, k + 1
    c = torch.from_numpy(centers[:k].copy())
    for _ in range(5):
        labels = torch.cdist(x, c).argmin(dim=1)
        count = torch.bincount(labels, minlength=len(c)).double()
        total = torch.zeros_like(c).index_add_(0, labels, x)
        c = total[count > 0] / count[count > 0, None]  # empty clusters are dropped
    labels = torch.cdist(x, c).argmin(dim=1)
    return c, labels


Coordinate = Annotated[float, Field(ge=-1e3, le=1e3, allow_inf_nan=False)]


@DATASETS.register("custom", paper="a ganforge toy problem (points drawn by hand in ganforge lab)")
def custom(
    points: Annotated[list[tuple[Coordinate, Coordinate]], Field(min_length=1, max_length=10_000)],
    n: Annotated[int, Field(gt=0, le=1_000_000)] = 20_000,
    jitter: Annotated[float, Field(gt=0, le=10)] = 0.03,
    radius: Annotated[float, Field(gt=0, le=100)] = 0.3,
    seed: Annotated[int, Field(ge=0)] = 0,
) -> TensorDataset:
    """Your own 2-D points, replicated with a little jitter: real (N, 2), label (N,).

    Each sample is one of ``points`` (chosen uniformly) plus N(0, jitter² I), so the
    distribution is the drawn one, smoothed just enough to have a density. The points
    are grouped into modes by :func:`cluster_points` (clusters of about ``radius``);
    ``label`` is a sample's cluster, ``info["centers"]`` the cluster means, and
    ``info["std"]`` the per-coordinate spread of points around their centre (including
    the jitter), so modes covered and % high quality (3 std) work as for ``ring8``.
    """
    base = torch.tensor(points, dtype=torch.float64).reshape(-1, 2)
    centers, point_label = cluster_points(base, radius)
    # per-coordinate standard deviation within clusters, with the jitter added in
    # quadrature: a single-point cluster still has the jitter's spread
    within = float(((base - centers[point_label]) ** 2).mean()) if len(base) > 1 else 0.0
    std = math.sqrt(within + jitter**2)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(base), (n,), generator=g)
    real = base[idx] + jitter * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return TensorDataset(
        name="custom",
        kind="points",
        tensors={"real": real.float(), "label": point_label[idx]},
        num_classes=len(centers),
        info={"centers": centers.float(), "std": std, "seed": seed},
    )
