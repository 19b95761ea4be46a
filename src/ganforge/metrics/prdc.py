r"""Precision, recall, density and coverage from k-nearest-neighbour balls.

Real features X = {x_i} (N of them) and fake features Y = {y_j} (M of them). Each point
gets a radius: the distance to its k-th nearest neighbour *in its own set*, the point
itself excluded, NND_k(x_i) (real) or NND_k(y_j) (fake). B(x, r) is the closed ball.

Improved precision and recall (Kynkäänniemi et al. 2019, "Improved precision and recall
metric for assessing generative models", eq. 1-2; k = 3 in the paper):

    precision = 1/M sum_j 1[ exists i: y_j in B(x_i, NND_k(x_i)) ]   (fake on the real manifold)
    recall    = 1/N sum_i 1[ exists j: x_i in B(y_j, NND_k(y_j)) ]   (real on the fake manifold)

Density and coverage (Naeem et al. 2020, "Reliable fidelity and diversity metrics for
generative models", eq. 3-4; k = 5 in the paper):

    density  = 1/(k M) sum_j sum_i 1[ y_j in B(x_i, NND_k(x_i)) ]    (can exceed 1)
    coverage = 1/N     sum_i 1[ exists j: y_j in B(x_i, NND_k(x_i)) ]

Density counts how many real balls contain each fake sample, so it is not fooled by a
few real outliers with huge balls; coverage asks whether each real sample has a fake
sample nearby, and uses only real balls, which are more reliable than fake ones.

Ties: a point exactly on a ball's boundary counts as inside (<=, as in Kynkäänniemi et
al.'s definition, with a rounding tolerance, ``TIE_RTOL``; Naeem et al.'s code uses <).
They differ only on exact ties, an event of probability zero for continuous features
but not for duplicated samples (a generator that copies training images, fake == real).

Known values (Naeem et al. 2020, README of their ``prdc`` package): real and fake both
10,000 samples of N(0, I_1000), k = 5 for all four: precision ~0.477, recall ~0.471,
density ~1.056, coverage ~0.974 (precision and recall are far below 1 even for identical
distributions: k-NN balls in 1000 dimensions under-cover the distribution).
"""

from __future__ import annotations

from typing import Any

import torch

from ganforge.metrics.frechet import as_feature_pair

__all__ = ["kth_neighbour_radii", "prdc"]

#: Largest number of float64 distances held at once (256 MiB): rows per chunk are
#: ``max(1, MAX_CHUNK_ELEMENTS // n_columns)``.
MAX_CHUNK_ELEMENTS = 32 * 1024 * 1024

#: Relative tolerance for ties. Squared distances come from the matrix-product form
#: |a|^2 + |b|^2 - 2 a.b, whose rounding error is ~ sqrt(D) eps (|a|^2 + |b|^2) and is not
#: symmetric (d(a, b) and d(b, a) can differ in the last bits). Without a tolerance a
#: point lying exactly on a ball's boundary (a duplicated sample, or fake == real) would
#: be in or out by chance. Pairs within TIE_RTOL (|a|^2 + |b|^2) of the boundary count as
#: inside; 1e-12 is ~1000x the rounding of D = 1000 features and far below any
#: meaningful difference of distances.
TIE_RTOL = 1e-12


def _rows_per_chunk(n_cols: int, max_elements: int) -> int:
    return max(1, max_elements // max(1, n_cols))


def _sq_dists(
    a: torch.Tensor, a_sq: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor
) -> torch.Tensor:
    """Squared Euclidean distances (rows of a) x (rows of b), float64, clamped at 0.

    One matrix product, like ``torch.cdist``'s fast path, without the square root that
    the comparisons below do not need.
    """
    d2 = a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return d2.clamp_(min=0.0)


def kth_neighbour_radii(
    x: torch.Tensor, ks: tuple[int, ...], max_elements: int = MAX_CHUNK_ELEMENTS
) -> dict[int, torch.Tensor]:
    """Squared distance from each point to its k-th nearest neighbour in ``x``, itself excluded.

    Args:
        x: (N, D) float64 tensor.
        ks: the k values wanted (each 1 <= k <= N - 1).
        max_elements: bound on the distance entries held at once.

    Returns:
        ``{k: (N,) float64 squared radii}``. The point's distance to itself (set to
        exactly 0) is the smallest entry of its row, so the k-th neighbour excluding
        itself is the (k + 1)-th smallest entry including it. With duplicated points a
        copy at distance 0 counts as a neighbour (only the point itself is skipped).
    """
    kmax = max(ks)
    n = x.shape[0]
    x_sq = (x * x).sum(dim=1)
    out = {k: torch.empty(n, dtype=torch.float64) for k in ks}
    step = _rows_per_chunk(n, max_elements)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        d2 = _sq_dists(x[lo:hi], x_sq[lo:hi], x, x_sq)  # (rows, N)
        d2[torch.arange(hi - lo), torch.arange(lo, hi)] = 0.0
        smallest = torch.topk(d2, kmax + 1, dim=1, largest=False, sorted=True).values
        for k in ks:
            out[k][lo:hi] = smallest[:, k]
    return out


def prdc(
    real: Any,
    fake: Any,
    k_pr: int = 3,
    k_dc: int = 5,
    max_elements: int = MAX_CHUNK_ELEMENTS,
) -> dict[str, float]:
    """Improved precision & recall (k = ``k_pr``) and density & coverage (k = ``k_dc``).

    Distances are Euclidean, in float64, from one matrix product per chunk of rows (as
    ``torch.cdist``'s fast path), after centring both sets on the real mean (distances
    are translation invariant; centring removes the cancellation a large common offset
    would cause). At most ``max_elements`` distances (256 MiB by default) exist at a
    time; nothing of size N x M is kept. Ties within rounding count as inside a ball
    (see ``TIE_RTOL``). Cost: O((N^2 + M^2 + N M) D) time, three passes (real-real,
    fake-fake, fake-real); about 10 s for N = M = 10,000, D = 1000 on two CPU cores.

    Args:
        real: (N, D) real features (tensor or array), N >= max(k_pr, k_dc) + 1.
        fake: (M, D) fake features, same D, M >= k_pr + 1.
        k_pr: neighbours for precision and recall (3 in Kynkäänniemi et al. 2019).
        k_dc: neighbours for density and coverage (5 in Naeem et al. 2020). Pass
            ``k_pr=5, k_dc=5`` to reproduce the single-k ``prdc`` package.
        max_elements: memory bound, in distance entries per chunk.

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as floats; precision, recall
        and coverage in [0, 1], density in [0, N / k_dc] (about 1 when fake and real
        follow the same distribution).
    """
    for name, k in (("k_pr", k_pr), ("k_dc", k_dc)):
        if int(k) != k or k < 1:
            raise ValueError(f"{name} must be a positive integer, got {k!r}.")
    k_pr, k_dc = int(k_pr), int(k_dc)
    x_np, y_np = as_feature_pair(real, fake, max(k_pr, k_dc) + 1, k_pr + 1)
    if max_elements < 1:
        raise ValueError(f"max_elements must be positive, got {max_elements}.")
    centre = x_np.mean(axis=0)
    x = torch.from_numpy(x_np - centre)
    y = torch.from_numpy(y_np - centre)
    x_sq, y_sq = (x * x).sum(dim=1), (y * y).sum(dim=1)
    n, m = x.shape[0], y.shape[0]

    real_r2 = kth_neighbour_radii(x, tuple(sorted({k_pr, k_dc})), max_elements)
    r2_pr, r2_dc = real_r2[k_pr], real_r2[k_dc]
    s2_pr = kth_neighbour_radii(y, (k_pr,), max_elements)[k_pr]

    # One pass over fake-real distances, fake rows in chunks. Per fake sample j we
    # need its row of distances to all real points (precision, density); per real
    # sample i we accumulate across chunks whether any fake ball contains it (recall)
    # and its nearest fake distance (coverage).
    in_real_ball_pr = torch.zeros(m, dtype=torch.bool)
    density_count = torch.zeros(m, dtype=torch.float64)
    real_recalled = torch.zeros(n, dtype=torch.bool)
    nearest_fake = torch.full((n,), float("inf"), dtype=torch.float64)
    step = _rows_per_chunk(n, max_elements)
    for lo in range(0, m, step):
        hi = min(m, lo + step)
        # squared distances minus the tie tolerance: "d2 <= r2 + tol" is "adj <= r2"
        adj = _sq_dists(y[lo:hi], y_sq[lo:hi], x, x_sq)  # (rows, N): fake j vs real i
        adj -= TIE_RTOL * (y_sq[lo:hi, None] + x_sq[None, :])
        in_real_ball_pr[lo:hi] = (adj <= r2_pr[None, :]).any(dim=1)
        density_count[lo:hi] = (adj <= r2_dc[None, :]).sum(dim=1).to(torch.float64)
        real_recalled |= (adj <= s2_pr[lo:hi, None]).any(dim=0)
        nearest_fake = torch.minimum(nearest_fake, adj.min(dim=0).values)

    return {
        "precision": float(in_real_ball_pr.to(torch.float64).mean()),
        "recall": float(real_recalled.to(torch.float64).mean()),
        "density": float(density_count.sum() / (k_dc * m)),
        "coverage": float((nearest_fake <= r2_dc).to(torch.float64).mean()),
    }
