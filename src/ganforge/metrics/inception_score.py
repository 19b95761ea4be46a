r"""Inception Score and MODE score from classifier outputs.

Inception Score (Salimans et al. 2016, "Improved techniques for training GANs"):

    IS = exp( E_x KL( p(y|x) || p(y) ) ),     p(y) = E_x p(y|x),

computed, as in the authors' code, on ``splits`` consecutive, equal (up to one) chunks
of the samples, each with its own marginal p(y); the score is the mean over chunks and
the reported spread is the population standard deviation (numpy's default ddof = 0).
Equivalently log IS = H(p(y)) - E_x H(p(y|x)): high when each prediction is confident
and the predictions are spread over the classes; 1 <= IS <= K for K classes.

MODE score (Che et al. 2017, "Mode regularized generative adversarial networks", section
5), with p*(y) the label marginal of the *training* data:

    MODE = exp( E_x KL( p(y|x) || p*(y) ) - KL( p(y) || p*(y) ) ).

All computations are in float64 with log-probabilities (``log_softmax`` for logits), and
0 log 0 = 0.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp

__all__ = ["inception_score", "log_probs", "mode_score"]


def log_probs(logits_or_probs: Any, from_logits: bool = True) -> np.ndarray:
    """Validate classifier outputs and return log-probabilities (N, K), float64.

    Args:
        logits_or_probs: (N, K) logits (``from_logits=True``) or probabilities.
        from_logits: whether the input is logits (log-softmax is applied, stably) or
            probabilities (non-negative rows summing to 1 within 1e-3; renormalised to
            sum to exactly 1, which removes float32 rounding; zeros give -inf).
    """
    x = logits_or_probs
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(
            f"classifier outputs must be (N, K) with one row per sample, got shape {arr.shape}."
        )
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(
            f"{bad} row(s) of the classifier outputs contain NaN/inf; remove them (a "
            "diverged generator produces such images) before scoring."
        )
    if from_logits:
        rows = arr.sum(axis=1)
        if arr.shape[1] > 1 and (arr >= 0).all() and np.allclose(rows, 1.0, atol=1e-6):
            warnings.warn(
                "the inputs look like probabilities (non-negative rows summing to 1) but "
                "from_logits=True; pass from_logits=False if they are probabilities.",
                stacklevel=3,
            )
        return arr - logsumexp(arr, axis=1, keepdims=True)
    if (arr < 0).any():
        raise ValueError(
            "probabilities must be non-negative; pass from_logits=True for raw logits."
        )
    rows = arr.sum(axis=1)
    if not np.allclose(rows, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(rows - 1.0)))
        raise ValueError(
            f"probability rows must sum to 1, row {worst} sums to {rows[worst]:.6g}; pass "
            "from_logits=True for logits, or apply a softmax first."
        )
    with np.errstate(divide="ignore"):
        return np.log(arr / rows[:, None])


def _split_bounds(n: int, splits: int) -> list[tuple[int, int]]:
    """Consecutive chunks [i n // s, (i + 1) n // s), the reference code's split rule."""
    if int(splits) != splits or splits < 1:
        raise ValueError(f"splits must be a positive integer, got {splits!r}.")
    if n < splits:
        raise ValueError(
            f"{n} sample(s) cannot be cut into {splits} splits: pass more samples (50,000 "
            "is the convention) or fewer splits."
        )
    return [(i * n // splits, (i + 1) * n // splits) for i in range(splits)]


def _mean_kl_rows(log_p: np.ndarray, log_q: np.ndarray) -> float:
    """mean_i KL(p_i || q) for rows log_p (n, K) and one distribution log_q (K,).

    Terms with p_ik = 0 are 0 (0 log 0 = 0), whatever log_q is.
    """
    p = np.exp(log_p)
    with np.errstate(invalid="ignore"):
        terms = np.where(p > 0, p * (log_p - log_q[None, :]), 0.0)
    return float(terms.sum(axis=1).mean())


def inception_score(
    logits_or_probs: Any, splits: int = 10, from_logits: bool = True
) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016): mean and std over ``splits`` chunks.

    For each chunk c of consecutive samples (``[i N // splits, (i + 1) N // splits)``,
    as in the reference code), with p_c(y) = mean_{x in c} p(y|x):

        IS_c = exp( mean_{x in c} KL( p(y|x) || p_c(y) ) ).

    Args:
        logits_or_probs: (N, K) classifier outputs, tensor or array. Shuffle the
            samples beforehand if their order is not random (e.g. class-sorted).
        splits: number of chunks (10 in the reference protocol, with N = 50,000).
        from_logits: True for logits, False for probabilities.

    Returns:
        ``(mean, std)`` of IS_c over the chunks, std with ddof = 0 (the reference code
        uses ``np.std``).
    """
    log_p = log_probs(logits_or_probs, from_logits)
    scores = []
    for lo, hi in _split_bounds(log_p.shape[0], splits):
        part = log_p[lo:hi]
        # log p_c(y) = logsumexp_x log p(y|x) - log n_c: stable even when every
        # probability of a class underflows in the linear domain.
        log_marginal = logsumexp(part, axis=0) - math.log(hi - lo)
        scores.append(math.exp(_mean_kl_rows(part, log_marginal)))
    arr = np.asarray(scores)
    return float(arr.mean()), float(arr.std())


def mode_score(
    probs: Any,
    label_marginal: Any,
    splits: int = 10,
    from_logits: bool = False,
) -> tuple[float, float]:
    r"""MODE score (Che et al. 2017): mean and population std over ``splits`` chunks.

    Per chunk c, with p_c(y) = mean_{x in c} p(y|x) the generated label marginal and
    p*(y) = ``label_marginal`` the training label marginal:

        MODE_c = exp( mean_{x in c} KL( p(y|x) || p_c(y) ) - KL( p_c(y) || p*(y) ) )
               = IS_c * exp( -KL( p_c(y) || p*(y) ) ),

    both KLs in nats. The first term is the Inception Score's (confident, varied
    predictions); the second penalises a generated class mix that differs from the
    training data's, which the Inception Score cannot see (a generator that makes only
    half the classes, equally often, still gets IS = K/2, but with a uniform p* its MODE
    score drops by a further factor of 2).

    Why not p* inside the first KL, as the formula is sometimes quoted? Then the p*
    cross-entropy terms cancel exactly (E_x sum_y p(y|x) log p*(y) = sum_y p_c(y) log
    p*(y)) and the score equals the Inception Score whatever p* is, so the training
    marginal would play no role; we use the reading in which it does.

    Args:
        probs: (N, K) class probabilities of generated samples (``from_logits=True``
            for logits).
        label_marginal: (K,) training label distribution p*(y), strictly positive
            (KL(. || p*) is infinite where p* = 0 and p > 0); normalised to sum to 1.
        splits: number of chunks.
        from_logits: whether ``probs`` holds logits.

    Returns:
        ``(mean, std)`` over the chunks.
    """
    log_p = log_probs(probs, from_logits)
    q = label_marginal
    if isinstance(q, torch.Tensor):
        q = q.detach().cpu().to(torch.float64).numpy()
    q = np.asarray(q, dtype=np.float64)
    k = log_p.shape[1]
    if q.shape != (k,):
        raise ValueError(
            f"label_marginal must be a vector of the {k} class probabilities, got shape {q.shape}."
        )
    if not np.isfinite(q).all() or (q <= 0).any():
        raise ValueError(
            "label_marginal must be finite and strictly positive (the KL to it is infinite "
            "where it is 0); smooth it, e.g. (counts + 1) / (counts.sum() + K)."
        )
    log_q = np.log(q / q.sum())
    scores = []
    for lo, hi in _split_bounds(log_p.shape[0], splits):
        part = log_p[lo:hi]
        log_marginal = logsumexp(part, axis=0) - math.log(hi - lo)
        expected_kl = _mean_kl_rows(part, log_marginal)  # the Inception Score's term
        marginal_kl = _mean_kl_rows(log_marginal[None, :], log_q)
        scores.append(math.exp(expected_kl - marginal_kl))
    arr = np.asarray(scores)
    return float(arr.mean()), float(arr.std())
