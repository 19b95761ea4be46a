r"""The birthday-paradox test of a generator's support size (Arora & Zhang 2017).

Arora & Zhang 2017, "Do GANs learn the distribution? Some theory and empirics" (ICLR 2018
workshop / arXiv 1706.08224): if a batch of s samples contains a (near-)duplicate pair
with probability >= 1/2, the distribution's support is about s^2 (for a uniform
distribution on N items). Draw batches of increasing size s, estimate
P(duplicate in a batch of s), and read off the smallest s where it reaches 1/2.

The exact relation. For s independent draws from the uniform distribution on N items,

    P(no collision) = prod_{i<s} (1 - i/N) ~= exp(-s(s-1) / (2N)),

(the number of colliding pairs is about Poisson with mean C(s, 2) / N), so
P(collision) = 1/2 at s(s-1) = 2 N ln 2, i.e. s ~= sqrt(2 ln 2 N) ~= 1.18 sqrt(N) and

    N ~= s(s-1) / (2 ln 2)  ~= 0.72 s^2.

Arora & Zhang quote the rule of thumb "support size ~ s^2"; :func:`birthday_test`
returns both, and also a maximum-likelihood fit of N to the duplicate counts at *all*
batch sizes under the same model (more stable than one threshold crossing). For any
distribution the expected number of colliding pairs is C(s, 2) sum_x p(x)^2, so these
numbers estimate the effective support N_eff = 1 / sum_x p(x)^2, which equals N for a
uniform distribution and is at most the number of items in the support otherwise
(Cauchy-Schwarz): the test measures how many distinct samples the generator
effectively produces, at the resolution set by the threshold.

Near-duplicates. Pairs closer than ``threshold`` (Euclidean distance, in pixel space by
default, or of ``features(batch)``) count as duplicates. Arora & Zhang flag candidate
pairs by distance and then confirm them by eye; the returned ``pairs`` (and
:func:`save_pairs`) are for that confirmation. With ``threshold=None`` the threshold is
calibrated on n real samples: the ``quantile`` q (default 1%) of the distances from each
real sample to its nearest other real sample, i.e. a pair counts as a duplicate when it
is closer than all but a fraction q of real samples are to their nearest real neighbour.

What that threshold can resolve. A fraction q of n real samples having a neighbour
within t means two random real samples are within t with probability p ~= q / (n - 1),
so batches of the *real* distribution would collide with probability 1/2 at
C(s, 2) p = ln 2, i.e. support_uniform ~= (n - 1) / q. The test can therefore only tell
supports up to about that size apart; :func:`birthday_test` reports it as
``reference_support``, the value real data itself would get: a generator estimated far
below it has a smaller effective support than the data at this resolution. The
calibration is a heuristic (real sets contain near-duplicates too; few real samples
make the quantile noisy); report the threshold with the result.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar

__all__ = [
    "BirthdayPair",
    "birthday_test",
    "geometric_batch_sizes",
    "nearest_neighbour_threshold",
    "save_pairs",
]

Sampler = Callable[[int, int], torch.Tensor]
Features = Callable[[torch.Tensor], Any]


@dataclass
class BirthdayPair:
    """A candidate duplicate: two samples of one batch and their distance.

    ``images`` is (2, ...) as produced by the sampler (pixel images for :func:`save_pairs`).
    """

    distance: float
    batch_size: int
    trial: int
    indices: tuple[int, int]
    images: torch.Tensor


def geometric_batch_sizes(start: int = 8, stop: int = 2048, ratio: float = 1.25) -> list[int]:
    """Integer batch sizes from ``start`` to ``stop`` (inclusive), about ``ratio`` apart."""
    if start < 2 or stop < start or ratio <= 1.0:
        raise ValueError(
            f"need 2 <= start <= stop and ratio > 1, got start={start}, stop={stop}, ratio={ratio}."
        )
    sizes: list[int] = []
    s = float(start)
    while round(s) <= stop:
        if not sizes or round(s) > sizes[-1]:
            sizes.append(round(s))
        s *= ratio
    if sizes[-1] != stop:
        sizes.append(stop)
    return sizes


def _flat(batch: torch.Tensor, features: Features | None) -> torch.Tensor:
    """(n, ...) samples -> (n, D) float64 vectors: ``features(batch)`` or flattened pixels.

    uint8 images are mapped to the project's [-1, 1] float scale (x / 127.5 - 1) so that
    thresholds mean the same for uint8 and float samples.
    """
    if features is not None:
        out = features(batch)
        out = out if isinstance(out, torch.Tensor) else torch.as_tensor(np.asarray(out))
        out = out.detach().cpu().to(torch.float64)
        if out.dim() != 2 or out.shape[0] != batch.shape[0]:
            raise ValueError(
                f"features(batch) must return ({batch.shape[0]}, D) vectors, got shape "
                f"{tuple(out.shape)}."
            )
    else:
        out = batch.detach().cpu()
        out = (
            out.to(torch.float64) / 127.5 - 1.0
            if out.dtype == torch.uint8
            else out.to(torch.float64)
        )
        out = out.reshape(out.shape[0], -1)
    if not torch.isfinite(out).all():
        raise ValueError(
            "samples (or their features) contain NaN/inf; the generator may have diverged."
        )
    return out


def _closest_pair(v: torch.Tensor) -> tuple[float, int, int]:
    """Smallest distance between two distinct rows of v (n, D), and their indices."""
    d = torch.cdist(v, v)
    d.fill_diagonal_(float("inf"))
    flat = int(torch.argmin(d))
    i, j = divmod(flat, d.shape[1])
    # Recompute the winning distance directly (the matrix-product route of cdist
    # can be off by ~1e-8 relative, which matters for exact duplicates: 0 vs 1e-7).
    dist = float(torch.linalg.vector_norm(v[i] - v[j]))
    return dist, min(i, j), max(i, j)


def nearest_neighbour_threshold(
    real: Any, quantile: float = 0.01, features: Features | None = None, max_samples: int = 5000
) -> float:
    """``quantile`` of real samples' distances to their nearest other real sample.

    Args:
        real: (n, ...) real samples (images, uint8 or float in [-1, 1]); at most
            ``max_samples`` are used (the first ones, so pass them shuffled) to bound
            the O(n^2) cost.
        quantile: in (0, 1); 0.01 flags pairs closer than 99% of real nearest-neighbour
            pairs.
        features: optional map from samples to (n, D) vectors (the same as the test's).
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}.")
    r = real if isinstance(real, torch.Tensor) else torch.as_tensor(np.asarray(real))
    if r.dim() < 2 or r.shape[0] < 2:
        raise ValueError(f"real must hold at least 2 samples (n, ...), got shape {tuple(r.shape)}.")
    v = _flat(r[:max_samples], features)
    nn = torch.empty(v.shape[0], dtype=torch.float64)
    step = max(1, (32 * 1024 * 1024) // v.shape[0])
    for lo in range(0, v.shape[0], step):
        d = torch.cdist(v[lo : lo + step], v)
        d[torch.arange(d.shape[0]), torch.arange(lo, lo + d.shape[0])] = float("inf")
        nn[lo : lo + step] = d.min(dim=1).values
    return float(torch.quantile(nn, quantile))


def _mle_support(sizes: Sequence[int], hits: Sequence[int], trials: int) -> float | None:
    """ML estimate of N under P(dup | s) = 1 - exp(-C(s, 2) / N), from binomial counts."""
    c = np.array([s * (s - 1) / 2.0 for s in sizes])
    k = np.asarray(hits, dtype=np.float64)
    if k.sum() == 0:
        return math.inf  # no duplicate at all: only a lower bound, N >> max C(s, 2)
    if np.all(k == trials):
        return None  # every trial collided: N << min C(s, 2), not identifiable

    def nll(log_n: float) -> float:
        lam = c / math.exp(log_n)
        # log P(dup) = log(1 - e^-lam) = log(-expm1(-lam)); log P(no dup) = -lam.
        return -float(np.sum(k * np.log(-np.expm1(-lam)) - (trials - k) * lam))

    lo, hi = math.log(1e-3 * c.min()), math.log(1e3 * c.max())
    res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    return float(math.exp(res.x))


def birthday_test(
    sample: Sampler | torch.Tensor,
    threshold: float | None = None,
    trials: int = 20,
    max_batch: int = 2048,
    seed: int = 0,
    reference: Any = None,
    quantile: float = 0.01,
    batch_sizes: Sequence[int] | None = None,
    features: Features | None = None,
    stop_early: bool = True,
    n_closest: int = 20,
    max_reference: int = 5000,
) -> dict[str, Any]:
    """Estimate a generator's support size with the birthday paradox (Arora & Zhang 2017).

    For each batch size s (increasing), draw ``trials`` independent batches of s samples
    and count the batches whose closest pair is nearer than ``threshold``.

    Args:
        sample: ``sample(n, seed) -> (n, ...)`` tensor (a generator: images float in
            [-1, 1] or uint8, or any vectors with ``features``), or a pool of
            pre-generated samples (n_pool, ...), from which each batch is drawn without
            replacement (so duplicates come from the generator, not the resampling).
        threshold: pairs at distance < threshold count as duplicates (Euclidean, between
            flattened images in [-1, 1] or ``features``). ``None``: calibrate with
            :func:`nearest_neighbour_threshold` on ``reference`` (required then).
        trials: batches per size; P is estimated as hits / trials (20 gives +-0.11 at
            P = 1/2).
        max_batch: the largest batch of the default grid (also capped by a pool's size).
        seed: seeds the batches (each trial gets its own seed from this one).
        reference: real samples for the threshold calibration (shuffled; at most
            ``max_reference`` are used).
        quantile: see :func:`nearest_neighbour_threshold`.
        batch_sizes: the sizes s to test; default
            ``geometric_batch_sizes(8, max_batch, 1.25)``.
        features: optional ``features(batch) -> (n, D)``; distances are between
            features instead of flattened pixels (uint8 pixels scaled to [-1, 1]).
        stop_early: stop after the first size whose duplicate probability is >= 1/2.
        n_closest: how many of the closest candidate pairs to keep for inspection.
        max_reference: reference samples used for the calibration (the first ones).

    Returns:
        A dict with

        - ``support_size``: the headline estimate, ``support_mle`` below;
        - ``support_mle``: maximum-likelihood N of P(dup | s) = 1 - exp(-C(s, 2) / N)
          fitted to the counts at all tested sizes. Under this (Poisson) approximation
          any distribution has N = 1 / sum_x p(x)^2, its collision-effective support
          (the size for a uniform one). ``inf`` when no duplicate was seen (the support
          is beyond what the grid can tell), None when every trial had one (below it);
        - ``s_half``: the smallest tested s with duplicate probability >= 1/2 (None if
          none reached it);
        - ``support_s2``: s_half^2, Arora & Zhang's "support size ~ s^2";
        - ``support_uniform``: s_half (s_half - 1) / (2 ln 2), the N of a uniform
          distribution with P(collision in s_half draws) = 1/2. Both s_half-based
          values overestimate by up to the square of the grid's step ratio (the
          crossing lies between grid points);
        - ``reference_support``: with a calibrated threshold, (n - 1) / q, what the
          real distribution itself would get (the most this threshold resolves; see the
          module docstring); None for a given threshold;
        - ``threshold``, ``trials``, ``batch_sizes`` (tested), ``duplicate_probability``
          (per tested size);
        - ``pairs``: the ``n_closest`` closest candidate pairs (:class:`BirthdayPair`,
          one candidate per trial), closest first, for :func:`save_pairs`;
        - ``closest_distances``: their distances.
    """
    if int(trials) != trials or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}.")
    pool: torch.Tensor | None = None
    if isinstance(sample, torch.Tensor):
        pool = sample
        if pool.dim() < 2 or pool.shape[0] < 2:
            raise ValueError(
                f"a sample pool must be (n, ...) with n >= 2, got shape {tuple(pool.shape)}."
            )
    elif not callable(sample):
        raise ValueError(
            "sample must be a function sample(n, seed) -> Tensor or a tensor of samples."
        )
    if batch_sizes is None:
        stop = int(max_batch) if pool is None else min(int(max_batch), pool.shape[0])
        batch_sizes = geometric_batch_sizes(min(8, stop), stop)
    sizes = [int(s) for s in batch_sizes]
    if not sizes or any(s < 2 for s in sizes) or sorted(set(sizes)) != sizes:
        raise ValueError(
            f"batch_sizes must be increasing, distinct integers >= 2, got {list(batch_sizes)}."
        )
    if pool is not None and sizes[-1] > pool.shape[0]:
        raise ValueError(
            f"batch size {sizes[-1]} exceeds the pool of {pool.shape[0]} samples; generate "
            "more samples or pass a sample(n, seed) function."
        )
    reference_support: float | None = None
    if threshold is None:
        if reference is None:
            raise ValueError(
                "give a duplicate threshold, or reference (real) samples to calibrate one "
                "(threshold=None uses a quantile of real nearest-neighbour distances)."
            )
        threshold = nearest_neighbour_threshold(reference, quantile, features, max_reference)
        reference_support = (min(len(reference), max_reference) - 1) / quantile
    if not (threshold > 0 and math.isfinite(threshold)):
        raise ValueError(
            f"threshold must be a positive finite distance, got {threshold} (a calibrated 0 "
            "means the real samples contain exact duplicates: pass a threshold or a higher "
            "quantile)."
        )

    rng = np.random.default_rng(seed)
    probs: list[float] = []
    hits_per_size: list[int] = []
    candidates: list[BirthdayPair] = []
    s_half: int | None = None
    tested: list[int] = []
    for s in sizes:
        hits = 0
        for t in range(int(trials)):
            trial_seed = int(rng.integers(0, 2**31 - 1))
            if pool is None:
                batch = sample(s, trial_seed)
                if not isinstance(batch, torch.Tensor) or batch.shape[0] != s:
                    raise ValueError(
                        f"sample({s}, seed) must return a tensor of {s} samples, got "
                        f"{type(batch).__name__} {tuple(getattr(batch, 'shape', ()))}."
                    )
            else:
                idx = np.random.default_rng(trial_seed).choice(pool.shape[0], size=s, replace=False)
                batch = pool[torch.from_numpy(idx)]
            dist, i, j = _closest_pair(_flat(batch, features))
            hits += dist < threshold
            candidates.append(
                BirthdayPair(dist, s, t, (i, j), batch[[i, j]].detach().cpu().clone())
            )
            # keep memory bounded: only the n_closest best candidates survive
            if len(candidates) > 4 * max(n_closest, 1):
                candidates.sort(key=lambda p: p.distance)
                del candidates[n_closest:]
        tested.append(s)
        hits_per_size.append(int(hits))
        probs.append(hits / trials)
        if s_half is None and probs[-1] >= 0.5:
            s_half = s
            if stop_early:
                break
    candidates.sort(key=lambda p: p.distance)
    pairs = candidates[:n_closest]
    support_mle = _mle_support(tested, hits_per_size, int(trials))
    return {
        "support_size": support_mle,
        "support_mle": support_mle,
        "s_half": s_half,
        "support_s2": None if s_half is None else float(s_half**2),
        "support_uniform": None if s_half is None else s_half * (s_half - 1) / (2 * math.log(2)),
        "reference_support": reference_support,
        "threshold": float(threshold),
        "trials": int(trials),
        "batch_sizes": tested,
        "duplicate_probability": probs,
        "pairs": pairs,
        "closest_distances": [p.distance for p in pairs],
    }


def save_pairs(pairs: Sequence[BirthdayPair] | torch.Tensor, path: str | os.PathLike[str]) -> Path:
    """Save candidate duplicate pairs as one PNG, one pair per row (side by side).

    Args:
        pairs: :class:`BirthdayPair` objects (e.g. ``result["pairs"]``), or a tensor
            (P, 2, C, H, W) of pair images; images float in [-1, 1] or uint8.
        path: the PNG file.

    Returns:
        ``path`` as a :class:`Path`.
    """
    from ganforge.reports.images import save_image_grid

    if isinstance(pairs, torch.Tensor):
        stacked = pairs
    else:
        if len(pairs) == 0:
            raise ValueError("no pairs to save.")
        stacked = torch.stack([p.images for p in pairs])
    if stacked.dim() != 5 or stacked.shape[1] != 2:
        raise ValueError(
            f"pair images must be (P, 2, C, H, W) images, got shape {tuple(stacked.shape)}; "
            "save_pairs needs image samples (not feature vectors)."
        )
    return save_image_grid(stacked.reshape(-1, *stacked.shape[2:]), path, nrow=2)
