r"""The optimal discriminator, the value of the game, and the divergences it measures.

Goodfellow et al. 2014, Generative Adversarial Nets (Proposition 1, Theorem 1);
Goodfellow 2016, NIPS 2016 Tutorial: Generative Adversarial Networks (Fig. 16).

For a fixed generator with density (or probability mass) p_g, the discriminator that
maximises

    V(G, D) = E_{p_data}[log D(x)] + E_{p_g}[log(1 - D(x))]

is D*(x) = p_data(x) / (p_data(x) + p_g(x)), and then

    V(G, D*) = -log 4 + 2 JSD(p_data || p_g),

so the minimax game minimises the Jensen-Shannon divergence.

Every function takes NumPy arrays (or lists, floats) or torch tensors and answers in
kind: if any argument is a tensor the result is a tensor (differentiable, on that
tensor's device and dtype), otherwise a float64 NumPy value. Distributions are
probability vectors along ``axis`` (default: the last one; leading axes are a batch;
``axis=None`` reduces over everything, e.g. for a density on a 2-D grid times the cell
area). Logarithms are natural, with the convention 0 log 0 = 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.special
import torch

ArrayLike = np.ndarray | torch.Tensor | float | Sequence[float]
Axis = int | tuple[int, ...] | None


def _as_common(*xs: ArrayLike) -> tuple[bool, list]:
    """(is_torch, arrays): all tensors like the first tensor given, else float64 arrays."""
    ref = next((x for x in xs if isinstance(x, torch.Tensor)), None)
    if ref is None:
        return False, [np.asarray(x, dtype=np.float64) for x in xs]
    dtype = ref.dtype if ref.is_floating_point() else torch.get_default_dtype()
    return True, [torch.as_tensor(x, dtype=dtype, device=ref.device) for x in xs]


def _sum(x, is_torch: bool, axis: Axis):
    if is_torch:
        return x.sum() if axis is None else x.sum(dim=axis)
    return np.sum(x, axis=axis)


def optimal_discriminator(p_data: ArrayLike, p_g: ArrayLike):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), elementwise.

    Goodfellow et al. 2014, Proposition 1. Its logit is log(p_data / p_g).

    Where p_data = p_g = 0 (outside both supports) V does not depend on D, so every value
    is optimal; we return 1/2, the value of the symmetric case p_data = p_g and the one
    that keeps log D and log(1 - D) finite.

    Args:
        p_data, p_g: densities or probabilities, same (broadcastable) shape, >= 0.

    Returns:
        D*, same shape, in [0, 1].
    """
    is_torch, (p, q) = _as_common(p_data, p_g)
    if is_torch:
        s = p + q
        # Divide by a safe denominator so 0/0 produces no NaN (nor NaN gradients).
        safe = torch.where(s > 0, s, torch.ones_like(s))
        return torch.where(s > 0, p / safe, torch.full_like(s, 0.5))
    s = p + q
    safe = np.where(s > 0, s, 1.0)
    return np.where(s > 0, p / safe, 0.5)


def value(p_data: ArrayLike, p_g: ArrayLike, d: ArrayLike, axis: Axis = -1):
    """V(G, D) = E_{p_data}[log D] + E_{p_g}[log(1 - D)] on a discrete support.

    = sum_x p_data(x) log D(x) + p_g(x) log(1 - D(x)), with 0 log 0 = 0 (a point outside a
    distribution's support contributes nothing even where D is 0 or 1). -inf when D = 0
    on the support of p_data or D = 1 on the support of p_g.

    Args:
        p_data, p_g: probability vectors along ``axis``.
        d: discriminator output D(x) in [0, 1] at each support point, same shape.
        axis: the support axis (or axes); ``None`` for all.

    Returns:
        V, with ``axis`` reduced.
    """
    is_torch, (p, q, dd) = _as_common(p_data, p_g, d)
    if is_torch:
        terms = torch.xlogy(p, dd) + torch.xlogy(q, 1 - dd)
    else:
        terms = scipy.special.xlogy(p, dd) + scipy.special.xlogy(q, 1 - dd)
    return _sum(terms, is_torch, axis)


def kl(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """Kullback-Leibler divergence KL(p || q) = sum_x p(x) log(p(x) / q(x)), natural log.

    0 log(0 / q) = 0; +inf where p > 0 and q = 0.

    Args:
        p, q: probability vectors along ``axis``.
        axis: the support axis (or axes); ``None`` for all.
    """
    is_torch, (pp, qq) = _as_common(p, q)
    if is_torch:
        # p log p - p log q; xlogy(0, .) = 0 gives 0 log 0 = 0, xlogy(p>0, 0) = -inf -> +inf.
        terms = torch.xlogy(pp, pp) - torch.xlogy(pp, qq)
    else:
        terms = scipy.special.rel_entr(pp, qq)
    return _sum(terms, is_torch, axis)


def jsd(p: ArrayLike, q: ArrayLike, axis: Axis = -1):
    """Jensen-Shannon divergence JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2.

    Symmetric, in [0, log 2] (natural log), 0 iff p = q, log 2 iff the supports are
    disjoint. Always finite, since m > 0 wherever p or q is.

    Args:
        p, q: probability vectors along ``axis``.
        axis: the support axis (or axes); ``None`` for all.
    """
    _, (pp, qq) = _as_common(p, q)
    m = 0.5 * (pp + qq)
    return 0.5 * kl(pp, m, axis) + 0.5 * kl(qq, m, axis)


def generator_loss_curves(d: ArrayLike) -> dict[str, ArrayLike]:
    """The three original-GAN generator losses as functions of D = D(G(z)) in (0, 1).

    Goodfellow 2016, NIPS tutorial, Fig. 16 (the cost the generator receives for one
    sample, against the critic's belief that it is real):

    - ``minimax``: log(1 - D), flat (saturating) near D = 0;
    - ``ns``: -log D, steep near D = 0;
    - ``ml``: -1/2 exp(sigma^-1(D)) = -1/2 D / (1 - D), since exp(logit D) = D / (1 - D);
      flat near 0 and steep near 1.

    These are the per-sample values of :func:`ganforge.objectives.original.minimax_g_loss`,
    ``ns_g_loss`` and ``ml_g_loss`` at logit sigma^-1(D).

    Args:
        d: values of D in the open interval (0, 1) (the ends give infinities).

    Returns:
        ``{"minimax": ..., "ns": ..., "ml": ...}``, each the shape of ``d``.
    """
    is_torch, (dd,) = _as_common(d)
    if is_torch:
        return {"minimax": torch.log1p(-dd), "ns": -torch.log(dd), "ml": -0.5 * dd / (1 - dd)}
    with np.errstate(divide="ignore"):
        return {"minimax": np.log1p(-dd), "ns": -np.log(dd), "ml": -0.5 * dd / (1 - dd)}
