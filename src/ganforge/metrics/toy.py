r"""Mode metrics for 2-D Gaussian mixtures: the VEEGAN / PacGAN protocol.

Srivastava et al. 2017, VEEGAN (section 5.1); Lin et al. 2018, PacGAN (section 5,
Table 1): draw 2,500 samples from the generator and, for a mixture of K isotropic
Gaussians of standard deviation ``std`` at known ``centers`` (``ring8``, ``grid25``):

- each sample is assigned to its **nearest centre**, and is **high quality** when it
  lies within ``threshold`` = 3 standard deviations of it (||x - c_k|| / std < 3);
- a mode is **covered** (captured) when at least one high-quality sample is assigned
  to it;
- the **reverse KL** is KL(Q_modes || P_modes) between the distribution of the
  high-quality samples over the modes, Q_modes(k) = n_k / sum_j n_j, and the true mode
  distribution, uniform (P_modes(k) = 1/K):

      reverse KL = sum_k Q_modes(k) log(K Q_modes(k))   (natural log, 0 log 0 = 0).

  It is 0 when the high-quality samples are spread evenly over all modes and log K
  when they all sit in one mode. It is "reverse" because the model's distribution
  comes first. This follows the PacGAN authors' evaluation code (the histogram
  ``detail_of_coverage`` of high-quality samples per nearest mode, normalised by its
  sum); low-quality samples count in neither the histogram nor the normaliser. When no
  sample is high quality the mode distribution is undefined and the value is NaN.

A stricter variant used in follow-up papers counts a mode as covered only when it
receives at least ``min_count`` high-quality samples (e.g. 1% of the expected share),
so that a stray sample does not count as capturing a mode: pass ``min_count``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["mode_metrics"]


def _array(x: Any, name: str, cols: int | None = None) -> np.ndarray:
    """A (N, D) float64 array (D = ``cols`` when given) from a tensor, array or list."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or (cols is not None and arr.shape[1] != cols):
        want = f"(N, {cols})" if cols is not None else "(N, D)"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}.")
    return arr


def mode_metrics(
    samples: Any,
    centers: Any,
    std: float,
    threshold: float = 3.0,
    min_count: int = 1,
) -> dict[str, Any]:
    """Modes covered, fraction of high-quality samples and reverse KL over modes.

    Args:
        samples: generated points, (N, D) tensor or array (D = 2 for ring8 / grid25).
        centers: mode centres, (K, D) (``dataset.info["centers"]``).
        std: the modes' standard deviation (``dataset.info["std"]``).
        threshold: a sample is high quality within ``threshold`` std of its nearest
            centre (3, as in VEEGAN and PacGAN).
        min_count: high-quality samples a mode needs to count as covered (1 is the
            PacGAN / VEEGAN definition; larger is the stricter variant).

    Returns:
        A dict with

        - ``modes_covered`` (int): modes with at least ``min_count`` high-quality samples;
        - ``high_quality`` (float): fraction of samples within ``threshold`` std of
          their nearest centre, in [0, 1];
        - ``reverse_kl`` (float): KL(Q_modes || uniform) of the high-quality samples'
          mode histogram, in [0, log K]; NaN when no sample is high quality;
        - ``mode_counts`` (list[int]): high-quality samples per mode (length K);
        - ``n_modes`` (int): K; ``n_samples`` (int): N.

        Non-finite samples (a diverged generator) count as low quality.
    """
    c = _array(centers, "centers")
    x = _array(samples, "samples", c.shape[1])
    if not (std > 0) or not math.isfinite(std):
        raise ValueError(f"std must be a positive number, got {std}.")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}.")
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}.")
    if len(c) == 0:
        raise ValueError("centers is empty: give the (K, D) mode centres.")
    k, n = len(c), len(x)
    counts = np.zeros(k, dtype=np.int64)
    if n > 0:
        finite = np.isfinite(x).all(axis=1)
        # squared distances (N, K) by |x|^2 - 2 x.c + |c|^2 would lose precision for
        # std = 0.01 at radius 1; the direct difference is exact enough and N K D is small.
        d2 = ((x[finite, None, :] - c[None, :, :]) ** 2).sum(axis=-1)
        nearest = d2.argmin(axis=1)
        dist = np.sqrt(d2[np.arange(len(nearest)), nearest]) / std
        good = nearest[dist < threshold]
        counts = np.bincount(good, minlength=k)
    total = int(counts.sum())
    if total > 0:
        q = counts / total
        nz = q > 0
        reverse_kl = float(np.sum(q[nz] * np.log(k * q[nz])))
    else:
        reverse_kl = math.nan
    return {
        "modes_covered": int((counts >= min_count).sum()),
        "high_quality": total / n if n > 0 else 0.0,
        "reverse_kl": reverse_kl,
        "mode_counts": counts.tolist(),
        "n_modes": k,
        "n_samples": n,
    }
