r"""Mode counting on Stacked MNIST (1000 modes) and the KL of a mode histogram to uniform.

Stacked MNIST (Metz et al. 2017, "Unrolled generative adversarial networks", section
3.3.2; Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN) stacks three MNIST
digits as the R, G and B channels of one image, so the data has 10^3 = 1000 equally
likely modes. A pretrained digit classifier labels each channel of a generated image,
giving the mode id

    mode = 100 d_R + 10 d_G + d_B   in 0..999,

and the papers report, on 26,000 generated samples (Metz et al., followed by VEEGAN
and PacGAN):

- modes covered: how many of the 1000 modes receive at least one sample;
- KL(q || p): the KL divergence from the histogram of generated modes, q(k) = n_k / n,
  to the data's mode distribution, uniform p(k) = 1/1000, in nats (natural log):

      KL = sum_k q(k) log(q(k) / p(k)) = log 1000 - H(q),   0 log 0 = 0,

  the generated distribution first (so empty modes cost nothing directly, only through
  the excess mass elsewhere). It is 0 for a perfectly uniform histogram and
  log 1000 ~= 6.908 when all samples fall in one mode.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["categorical_kl_to_uniform", "stacked_mnist_modes"]

N_MODES = 1000


def _int_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer)
        or (
            np.issubdtype(arr.dtype, np.floating)
            and np.isfinite(arr).all()
            and (arr == np.round(arr)).all()
        )
    ):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}.")
    return arr.astype(np.int64)


def categorical_kl_to_uniform(counts: Any) -> float:
    """KL(q || uniform) in nats of the histogram ``counts`` (K,), q = counts / sum.

        KL = sum_k q_k log(K q_k)  (0 log 0 = 0),   in [0, log K].

    Raises:
        ValueError: not a 1-D vector of non-negative counts with a positive sum.
    """
    c = counts.detach().cpu().numpy() if isinstance(counts, torch.Tensor) else np.asarray(counts)
    c = c.astype(np.float64)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"counts must be a non-empty vector (K,), got shape {c.shape}.")
    if not np.isfinite(c).all() or (c < 0).any():
        raise ValueError("counts must be finite and non-negative.")
    total = c.sum()
    if total <= 0:
        raise ValueError(
            "counts sum to 0: the histogram is empty, so its distribution is undefined."
        )
    q = c / total
    nz = q > 0
    return float(np.sum(q[nz] * np.log(c.size * q[nz])))


def stacked_mnist_modes(digits: Any) -> dict[str, Any]:
    """Modes covered and KL to uniform of generated Stacked MNIST samples.

    Args:
        digits: either (N, 3) integers 0..9, the classifier's digit for the R, G and B
            channels of each sample, or (N,) mode ids 0..999 (= 100 d_R + 10 d_G + d_B).
            26,000 samples is the protocol of the papers cited in the module docstring.

    Returns:
        ``{"modes_covered": int, "kl": float (nats, KL(q || uniform over 1000)),
        "n_samples": int, "counts": (1000,) int64 numpy array of samples per mode}``.
    """
    arr = _int_array(digits, "digits")
    if arr.ndim == 2:
        if arr.shape[1] != 3:
            raise ValueError(f"per-channel digits must be (N, 3) (R, G, B), got shape {arr.shape}.")
        if arr.size and (arr.min() < 0 or arr.max() > 9):
            raise ValueError(
                f"per-channel digits must be in 0..9, got values in [{arr.min()}, {arr.max()}]."
            )
        modes = 100 * arr[:, 0] + 10 * arr[:, 1] + arr[:, 2]
    elif arr.ndim == 1:
        if arr.size and (arr.min() < 0 or arr.max() >= N_MODES):
            raise ValueError(
                f"mode ids must be in 0..999, got values in [{arr.min()}, {arr.max()}]; pass "
                "(N, 3) per-channel digits instead if these are not mode ids."
            )
        modes = arr
    else:
        raise ValueError(f"digits must be (N, 3) digits or (N,) mode ids, got shape {arr.shape}.")
    if modes.size == 0:
        raise ValueError("no samples: pass the classifier's digits for generated images.")
    counts = np.bincount(modes, minlength=N_MODES).astype(np.int64)
    return {
        "modes_covered": int((counts > 0).sum()),
        "kl": categorical_kl_to_uniform(counts),
        "n_samples": int(modes.size),
        "counts": counts,
    }


#: KL of a histogram concentrated on one of the 1000 modes (the maximum), for reference.
MAX_KL = math.log(N_MODES)
