"""GANs as feature learners: the critic's features under a linear probe.

Radford et al. 2016 (DCGAN), sec. 5.1, and the applications survey's Tables 1-2: train a
GAN without labels, then use its critic as a feature extractor. Every convolutional
layer's activations are max-pooled to a 4 x 4 grid, flattened and concatenated, and a
regularised linear L2-SVM is fit on the features of labelled images (the paper: 82.8%
on CIFAR-10 with a critic trained on ImageNet-1k; 22.48% error on SVHN with 1000 labels).

- :func:`critic_features`: the pooled, concatenated activations (N, F) of any critic;
  the activations are the outputs of its ReLU / LeakyReLU modules (after each layer's
  norm), 4-D maps pooled to ``grid`` x ``grid``, vectors (MLP critics) taken as they are.
- :func:`l2_svm_probe`: a one-vs-rest linear L2-SVM (squared hinge, L2 penalty) on
  standardised features, C chosen on a held-out validation split of the training set;
  solved by :func:`fit_l2_svm` (PyTorch, CPU or GPU; the default) or scikit-learn's
  ``LinearSVC`` (liblinear; ``solver="liblinear"``), which minimise the same objective.
- :func:`few_label_error`: the error with ``per_class`` labels per class, averaged over
  ``draws`` random label draws (mean and standard deviation).
- :func:`probe_run`: all of it for a run dir's critic (``ganforge features``).

The L2-SVM (liblinear's L2-loss SVC primal, as ``LinearSVC(loss="squared_hinge",
penalty="l2")`` with its default ``intercept_scaling=1``): with classes ``1..K``, targets
``t_ik = +1`` if ``y_i = k`` else ``-1``, and each sample extended by a constant feature 1
whose weight is the intercept (so the intercept is penalised too), one weight vector per
class minimises

    f_k(w_k, b_k) = 1/2 (|w_k|^2 + b_k^2) + C sum_i max(0, 1 - t_ik (w_k . x_i + b_k))^2,

and a sample's label is the class of the largest ``w_k . x + b_k``. With two classes there
is one vector (``t_i = +1`` for the second class; the label by the sign). ``f_k`` is
strongly convex and continuously differentiable, with gradient
``w_k - 2C sum_i t_ik h_ik x_i`` (``h_ik`` the positive part above, x_i extended) and
generalised Hessian ``I + 2C sum_{h_ik > 0} x_i x_i^T``: :func:`fit_l2_svm` (one C) and
:func:`fit_l2_svm_path` (a grid of Cs, warm-started) take Newton steps with conjugate
gradients, every class at once as one (F + 1, K) matrix, in float64 by default; with
fewer samples than features, exactly in the span of the samples (n x n).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: the regularisation constants tried for the L2-SVM (chosen on the validation split).
#: Thousands of standardised critic features and 1000 labels favour strong regularisation:
#: with the grid starting at 1e-3 the validation split chose its smallest value, so the
#: grid reaches down to 1e-5 (the warm-started path makes the small values cheap).
C_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)

#: relative gradient norm at which the probe's fits stop: |w - w*| <= 1e-3 |w| (the
#: objective is 1-strongly convex), far below what changes a prediction
PROBE_TOL = 1e-3

#: the solvers of :func:`l2_svm_probe`
SOLVERS = ("torch", "liblinear")


@torch.no_grad()
def critic_features(
    critic: nn.Module,
    images: Callable[[int, int], torch.Tensor],
    n: int,
    grid: int = 4,
    batch_size: int = 500,
    advance: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Max-pooled activations of every ReLU / LeakyReLU of ``critic``, concatenated.

    Args:
        critic: the trained critic (put in eval mode here; called with images only).
        images: ``images(start, stop)`` -> float (m, C, H, W) in [-1, 1].
        n: number of images.
        grid: each 4-D activation map is adaptively max-pooled to grid x grid.
        advance: called with the number of images of each batch done (a progress bar).

    Returns:
        (n, F) float32 on the CPU.
    """
    critic.eval()
    acts: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: Any, out: torch.Tensor) -> None:
        if out.dim() == 4:
            acts.append(F.adaptive_max_pool2d(out, grid).flatten(1))
        elif out.dim() == 2:
            acts.append(out)

    handles = [
        m.register_forward_hook(hook)
        for m in critic.modules()
        if isinstance(m, nn.ReLU | nn.LeakyReLU)
    ]
    if not handles:
        raise ValueError("critic_features found no ReLU / LeakyReLU layers in the critic.")
    device = next(critic.parameters()).device
    out = []
    try:
        for start in range(0, n, batch_size):
            acts.clear()
            critic(images(start, min(start + batch_size, n)).to(device))
            out.append(torch.cat(acts, dim=1).float().cpu())
            if advance is not None:
                advance(min(batch_size, n - start))
    finally:
        for h in handles:
            h.remove()
    return torch.cat(out)


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu, sd = train.mean(0), train.std(0) + 1e-6
    return [(a - mu) / sd for a in (train, *others)]


def _svm_targets(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(n, K') targets in {-1, +1}: one-vs-rest columns, one column (classes[1]) if K = 2."""
    if len(classes) < 2:
        raise ValueError(f"the L2-SVM needs at least 2 classes, got {len(classes)}.")
    pos = classes[1:] if len(classes) == 2 else classes
    return np.where(np.asarray(y)[:, None] == pos[None, :], 1.0, -1.0)


def _line_search(
    v: torch.Tensor,
    d: torch.Tensor,
    z: torch.Tensor,
    xd: torch.Tensor,
    t: torch.Tensor,
    m: torch.Tensor,
    c: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per column, a step ``a`` along ``d`` with a sufficient decrease (Armijo, from 1 by
    halving) of ``phi(a) = 1/2 |v + a d|^2 + c sum_i max(0, 1 - t_i (z_i + a xd_i))^2``.

    The decrease ``phi(a) - phi(0)`` is summed from per-sample differences, not taken
    between the two (large) totals, so it stays accurate in float32.

    Args:
        v, d: (P, k) weights and direction. z, xd: (n, k) their scores. t: (n, k) targets.
            m: (n, k) the hinges ``max(0, 1 - t z)``.

    Returns:
        (k,) steps and (k,) whether one was found (else the step is 0: no decrease left at
        the working precision).
    """
    vd, dd = (v * d).sum(0), d.square().sum(0)
    slope = vd - 2 * c * (t * xd * m).sum(0)  # phi'(0) < 0
    a = torch.ones_like(vd)
    ok = torch.zeros_like(vd, dtype=torch.bool)
    for _ in range(40):
        ma = (1 - t * (z + a * xd)).clamp_min(0)
        decrease = a * vd + 0.5 * a.square() * dd + c * ((ma - m) * (ma + m)).sum(0)
        ok = ok | (decrease <= 1e-4 * a * slope)
        if bool(ok.all()):
            break
        a = torch.where(ok, a, 0.5 * a)
    return torch.where(ok, a, 0.0), ok


def _newton_cg(
    x: torch.Tensor,
    t: torch.Tensor,
    c: float,
    v: torch.Tensor,
    bias: bool,
    tol: float,
    max_iter: int,
    max_cg: int,
) -> float:
    """Minimise the L2-SVM objective of every column of ``v`` in place (see
    :func:`fit_l2_svm_path`); return the largest relative gradient norm reached.

    Args:
        x: (n, P) features. t: (n, K') targets. v: (P + 1, K') if ``bias`` (the last row
            the weight of a constant-1 feature, not stored in x) else (P, K').
    """

    def lin(u: torch.Tensor) -> torch.Tensor:  # weights (., k) -> scores (n, k)
        return torch.addmm(u[-1:], x, u[:-1]) if bias else x @ u

    def lin_t(r: torch.Tensor) -> torch.Tensor:  # (n, k) -> (., k): x^T r
        return torch.cat([x.T @ r, r.sum(0, keepdim=True)]) if bias else x.T @ r

    z = lin(v)
    m = (1 - t * z).clamp_min(0)
    g = v - 2 * c * lin_t(t * m)
    gn, vn = g.norm(dim=0), v.norm(dim=0)
    done = gn <= tol * vn
    for _ in range(max_iter):
        if bool(done.all()):
            break
        cols = (~done).nonzero().squeeze(1)
        gc, tc, mc = g[:, cols], t[:, cols], m[:, cols]
        act = (mc > 0).to(x.dtype)
        # Conjugate gradients on H d = -g, H = I + 2c x_A^T x_A, one system per column,
        # to the relative residual min(0.1, sqrt(|g| / |v|)) (inexact Newton).
        target = (gn[cols] / vn[cols]).sqrt().nan_to_num(1.0).clamp(max=0.1) * gn[cols]
        d = torch.zeros_like(gc)
        r = -gc
        p = r.clone()
        rr = r.square().sum(0)
        for _ in range(max_cg):
            run = rr.sqrt() > target
            if not bool(run.any()):
                break
            hp = p + 2 * c * lin_t(act * lin(p))
            alpha = torch.where(run, rr / (p * hp).sum(0), 0.0)
            d += alpha * p
            r -= alpha * hp
            rr_new = r.square().sum(0)
            p = r + torch.where(run, rr_new / rr, 0.0) * p
            rr = torch.where(run, rr_new, rr)
        xd = lin(d)
        step, ok = _line_search(v[:, cols], d, z[:, cols], xd, tc, mc, c)
        v[:, cols] += step * d
        z[:, cols] += step * xd
        m[:, cols] = (1 - tc * z[:, cols]).clamp_min(0)
        g[:, cols] = v[:, cols] - 2 * c * lin_t(tc * m[:, cols])
        gn[cols], vn[cols] = g[:, cols].norm(dim=0), v[:, cols].norm(dim=0)
        done[cols] = (gn[cols] <= tol * vn[cols]) | ~ok
    return float((gn / vn).nan_to_num(0.0, posinf=float("inf")).max())


def fit_l2_svm_path(
    x: np.ndarray | torch.Tensor,
    y: np.ndarray,
    cs: Sequence[float],
    *,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    tol: float | None = None,
    max_iter: int = 200,
    max_cg: int = 1000,
    reduce: bool | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The one-vs-rest linear L2-SVM (liblinear's L2-loss SVC primal) for each C of ``cs``.

    Minimises, for every class column k at once (the classes do not interact),
    ``0.5 * (|w_k|^2 + b_k^2) + C * sum_i max(0, 1 - t_ik (x_i . w_k + b_k))^2`` with
    ``t_ik = +1`` if ``y_i`` is class k else -1, the classes being ``np.unique(y)``. As in
    scikit-learn's ``LinearSVC`` (intercept_scaling=1) the intercept is the weight of a
    constant-1 feature and is penalised; with 2 classes there is one column, +1 for the
    second class, as in scikit-learn.

    Newton-CG: each step solves ``H d = -g`` (the generalised Hessian
    ``H = I + 2C X_A^T X_A``, X with the constant feature, A the samples with a positive
    hinge) by conjugate gradients, all columns as one batch with per-column step sizes;
    then a backtracking line search per column. A column is done when its gradient
    ``|g_k| <= tol * |v_k|``, ``v_k = (w_k, b_k)``: as the objective is 1-strongly convex,
    then ``|v_k - v_k*| <= tol |v_k|`` and the objective is within ``tol^2`` (relative) of
    its minimum. The Cs are solved in increasing order, each from the last solution (the
    first from ``init`` or zero).

    With fewer samples than features (``reduce``, default when 2n <= F + 1) the problem is
    solved exactly in the n-dimensional span of the samples: ``X^T = Q R`` (thin QR), the
    solution is ``Q u`` with ``u`` the L2-SVM solution for the features ``R^T`` (n, n) and
    no separate intercept, so each conjugate-gradient step costs n^2 instead of n F.

    Args:
        x: (n, F) features (float; moved to ``device`` as ``dtype``, held whole there).
        y: (n,) labels, at least 2 distinct.
        cs: the loss weights C (> 0).
        init: warm start (w (F, K'), b (K',)), e.g. the solution for a nearby C.
        tol: relative gradient tolerance (default 1e-5 in float64; 1e-2 otherwise, where
            rounding in the gradient sum over samples limits it).
        max_iter: Newton steps at most per C (a RuntimeWarning if some column is not
            done). max_cg: conjugate-gradient steps at most per Newton step.
        device, dtype: where and in what precision to solve.

    Returns:
        for each C of ``cs`` (in its order), ``(w, b)``: (F, K') and (K',) on ``device``
        in ``dtype``; K' = 1 for 2 classes, else the number of classes K. The decision
        function is ``x @ w + b``.
    """
    if not cs or min(cs) <= 0:
        raise ValueError(f"every C must be positive, got {list(cs)}.")
    if tol is None:
        tol = 1e-5 if dtype == torch.float64 else 1e-2
    x = torch.as_tensor(x).to(device=device, dtype=dtype)
    y = np.asarray(y)
    if x.dim() != 2 or len(y) != len(x):
        raise ValueError(f"x must be (n, F) with n = len(y), got {tuple(x.shape)}, {len(y)}.")
    t = torch.as_tensor(_svm_targets(y, np.unique(y)), device=device, dtype=dtype)
    n, nf = x.shape
    kk = t.shape[1]
    v = torch.zeros(nf + 1, kk, device=device, dtype=dtype)
    if init is not None:
        v[:-1] = torch.as_tensor(init[0]).to(device=device, dtype=dtype).reshape(nf, kk)
        v[-1] = torch.as_tensor(init[1]).to(device=device, dtype=dtype).reshape(kk)
    if reduce is None:
        reduce = 2 * n <= nf + 1
    q = None
    if reduce:
        q, r = torch.linalg.qr(torch.cat([x, x.new_ones(n, 1)], dim=1).T)  # (F+1, n), (n, n)
        x, v = r.T, q.T @ v  # the projection of init keeps its scores, lowers its norm
    out: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for i in sorted(range(len(cs)), key=lambda i: cs[i]):
        worst = _newton_cg(x, t, cs[i], v, not reduce, tol, max_iter, max_cg)
        if worst > tol:
            warnings.warn(
                f"the L2-SVM (C={cs[i]}) stopped at a relative gradient norm {worst:.1e} > "
                f"tol={tol:.0e} (max_iter={max_iter}, {dtype}).",
                RuntimeWarning,
                stacklevel=2,
            )
        full = v if q is None else q @ v
        out[i] = (full[:-1].clone(), full[-1].clone())
    return [out[i] for i in range(len(cs))]


def fit_l2_svm(
    x: np.ndarray | torch.Tensor,
    y: np.ndarray,
    c: float,
    *,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    tol: float | None = None,
    max_iter: int = 200,
    max_cg: int = 1000,
    reduce: bool | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The one-vs-rest linear L2-SVM for one C (:func:`fit_l2_svm_path` with ``[c]``).

    Returns:
        ``(w, b)``: (F, K') and (K',), K' = 1 for 2 classes, else the number of classes;
        the decision function is ``x @ w + b``.
    """
    return fit_l2_svm_path(
        x, y, [c], init=init, tol=tol, max_iter=max_iter, max_cg=max_cg, reduce=reduce,
        device=device, dtype=dtype,
    )[0]  # fmt: skip


def svm_predict(
    x: np.ndarray | torch.Tensor, w: torch.Tensor, b: torch.Tensor, classes: np.ndarray
) -> np.ndarray:
    """(m,) labels from ``classes`` for (m, F) features: the largest decision
    ``x @ w + b``, or with one column classes[1] where it is positive (as scikit-learn)."""
    s = torch.as_tensor(x).to(device=w.device, dtype=w.dtype) @ w + b
    idx = (s[:, 0] > 0).long() if s.shape[1] == 1 else s.argmax(1)
    return np.asarray(classes)[idx.cpu().numpy()]


def l2_svm_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    cs: Sequence[float] = C_GRID,
    val_fraction: float = 0.1,
    seed: int = 0,
    solver: str = "torch",
    device: str | torch.device = "cpu",
    advance: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Fit a linear L2-SVM, C chosen on a validation split; return test accuracy and C.

    The features are standardised with the fitting set's mean and deviation. The Cs of
    ``cs`` are fit in increasing order on the training set less a random ``val_fraction``
    and scored on that held-out part, until two in a row score below the best so far
    (:func:`_choose_c`); the best C (ties: the smaller) is refit on the whole training set.

    Args:
        x_train, x_test: (n, F), (m, F) features. y_train, y_test: (n,), (m,) labels.
        solver: ``"torch"`` (:func:`fit_l2_svm`, Newton-CG to ``PROBE_TOL``; each C
            starts from the last one's solution, the refit from the chosen C's
            validation fit) or ``"liblinear"`` (scikit-learn's ``LinearSVC``, the same
            objective).
        device: where the torch solver runs (ignored by liblinear).
        advance: called with 1 after each fit (each C tried, then the refit).

    Returns:
        ``accuracy`` (test), ``C`` (the chosen one), ``val_scores`` ({C: validation
        accuracy} of the Cs tried, in increasing C).
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}.")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(x_train))
    n_val = max(1, round(val_fraction * len(x_train)))
    val, fit = perm[:n_val], perm[n_val:]
    if len(fit) == 0:
        raise ValueError("too few training examples to hold out a validation split.")
    xf, xv = _standardise(x_train[fit], x_train[val])
    xt, xs = _standardise(x_train, x_test)
    tick = advance or (lambda k: None)
    if solver == "liblinear":
        from sklearn.svm import LinearSVC

        def liblinear_score(c: float) -> float:
            clf = LinearSVC(C=c, max_iter=5000).fit(xf, y_train[fit])
            tick(1)
            return float(clf.score(xv, y_train[val]))

        best, scores = _choose_c(cs, liblinear_score)
        clf = LinearSVC(C=best, max_iter=5000).fit(xt, y_train)
        tick(1)
        return {"accuracy": float(clf.score(xs, y_test)), "C": best, "val_scores": scores}
    classes = np.unique(y_train[fit])
    sols: dict[float, tuple[torch.Tensor, torch.Tensor]] = {}

    def torch_score(c: float) -> float:
        # warm start from the previous (smaller) C of the path
        init = sols[max(sols)] if sols else None
        sols[c] = fit_l2_svm(xf, y_train[fit], c, init=init, tol=PROBE_TOL, device=device)
        tick(1)
        return float(np.mean(svm_predict(xv, *sols[c], classes) == y_train[val]))

    best, scores = _choose_c(cs, torch_score)
    # refit on everything, from the validation fit of that C (if it saw every class)
    classes = np.unique(y_train)
    columns = 1 if len(classes) == 2 else len(classes)
    init = sols[best] if sols[best][0].shape[1] == columns else None
    w, b = fit_l2_svm(xt, y_train, best, init=init, tol=PROBE_TOL, device=device)
    tick(1)
    accuracy = float(np.mean(svm_predict(xs, w, b, classes) == y_test))
    return {"accuracy": accuracy, "C": best, "val_scores": scores}


def _choose_c(
    cs: Sequence[float], score: Callable[[float], float], patience: int = 2
) -> tuple[float, dict[float, float]]:
    """Walk the C grid upwards, scoring each C on the validation split, and stop once
    ``patience`` C values in a row score below the best so far.

    The validation accuracy of a regularisation path rises and then falls as C grows; the
    large-C fits are also the slow ones (tens of thousands of CIFAR-10 images: hours), so
    they are skipped once the curve has turned. Ties go to the smaller C (stronger
    regularisation). Returns the chosen C and {C: validation accuracy} of the Cs tried.
    """
    if not cs:
        raise ValueError("the C grid is empty: give at least one C > 0.")
    scores: dict[float, float] = {}
    best, worse = min(cs), 0
    for c in sorted(cs):
        scores[c] = score(c)
        best = max(scores, key=lambda k: (scores[k], -k))
        worse = worse + 1 if scores[c] < scores[best] else 0
        if worse >= patience:
            break
    return best, scores


def label_draws(y: np.ndarray, per_class: int, draws: int, seed: int = 0) -> list[np.ndarray]:
    """``draws`` labelled subsets of indices into ``y``, ``per_class`` of each class each
    (without replacement within a draw), from one seeded generator."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    return [
        np.concatenate(
            [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in classes]
        )
        for _ in range(draws)
    ]


def few_label_error(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    per_class: int = 100,
    draws: int = 10,
    seed: int = 0,
    picks: Sequence[np.ndarray] | None = None,
    solver: str = "torch",
    device: str | torch.device = "cpu",
    advance: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Test error of the L2-SVM probe with ``per_class`` labels per class, over ``draws``
    random draws of the labelled set: mean and standard deviation.

    ``picks``: the draws as indices into ``x_train`` (default :func:`label_draws` of
    ``y_train``; given when ``x_train`` holds only the features of the drawn images).
    ``solver``, ``device``: as :func:`l2_svm_probe`; ``advance`` is called with 1 after
    each draw."""
    if picks is None:
        picks = label_draws(y_train, per_class, draws, seed)
    errors = []
    for d, pick in enumerate(picks):
        res = l2_svm_probe(
            x_train[pick], y_train[pick], x_test, y_test, seed=seed + d, solver=solver,
            device=device,
        )  # fmt: skip
        errors.append(1.0 - res["accuracy"])
        if advance is not None:
            advance(1)
    e = np.asarray(errors)
    return {"error": float(e.mean()), "std": float(e.std(ddof=1)) if draws > 1 else 0.0,
            "per_class": per_class, "draws": draws}  # fmt: skip


def probe_run(
    run_dir: Any,
    *,
    dataset: str | None = None,
    root: str | None = None,
    labels: int | None = None,
    draws: int = 10,
    n_train: int | None = None,
    n_test: int | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Probe a run's critic (latest checkpoint) on a labelled dataset's train/test splits.

    Args:
        dataset: registry name (default: the run's dataset, at the run's resolution).
        root: a local copy of the dataset.
        labels: None: every training image labelled (the CIFAR-10 protocol); else the
            total number of labels (a multiple of the class count), averaged over
            ``draws`` label draws (the 1000-label protocol).
        n_train, n_test: use only the first images of each split.
        device: where the critic and the L2-SVM solver run.
        progress: progress bars (on a terminal) for the features and the SVM fits.

    Returns:
        ``dataset``, ``dims`` and the probe's results (``accuracy``/``C`` or
        ``error``/``std``).
    """
    from ganforge import registry
    from ganforge.data.download import progress_bar
    from ganforge.engine.run import load_trained
    from ganforge.errors import ConfigError

    algo, cfg = load_trained(run_dir, device)
    critic = algo.nets.get("d")
    if critic is None:
        raise ConfigError(f"{run_dir} has no critic network 'd' to probe.")
    spec = dict(cfg.data)
    if dataset is not None:
        spec = {"name": dataset, "resolution": spec.get("resolution")}
    if root is not None:
        spec["root"] = root
    params = registry.DATASETS.parameters(spec["name"])
    if "split" not in params:
        raise ConfigError(f"dataset {spec['name']!r} has no train/test splits to probe on.")
    spec = {k: v for k, v in spec.items() if (k == "name" or k in params) and v is not None}

    def split(name: str) -> Any:
        return registry.DATASETS.build({**spec, "split": name}, "data")

    def feats(
        ds: Any, n: int | None, which: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels of the first ``n`` images of ``ds`` (or of ``which``)."""
        total = len(ds) if n is None else min(n, len(ds))
        idx = torch.arange(total) if which is None else torch.as_tensor(which)
        with progress_bar("critic features", len(idx), enabled=progress) as adv:
            x = critic_features(
                critic, lambda i, j: ds.batch(idx[i:j])["real"], len(idx), advance=adv
            )
        return x.numpy(), ds.tensors["label"][idx.to(ds.tensors["label"].device)].cpu().numpy()

    x_te, y_te = feats(split("test"), n_test)
    if labels is None:
        x_tr, y_tr = feats(split("train"), n_train)
        # the C search stops early (see _choose_c): the bar's total is its most fits
        with progress_bar("L2-SVM fits", len(C_GRID) + 1, enabled=progress) as adv:
            res = l2_svm_probe(x_tr, y_tr, x_te, y_te, device=device, advance=adv)
        return {"dataset": spec["name"], "dims": int(x_tr.shape[1]), "accuracy": res["accuracy"],
                "C": res["C"], "val_scores": res["val_scores"], "n_train": len(y_tr)}  # fmt: skip
    train = split("train")
    total = len(train) if n_train is None else min(n_train, len(train))
    y_all = train.tensors["label"][:total].cpu().numpy()
    k = len(np.unique(y_all))
    if labels % k:
        raise ConfigError(f"labels must be a multiple of the {k} classes, got {labels}.")
    # Only the drawn images need features (10 draws of 1000 labels: <= 10,000 of 60,000).
    picks = label_draws(y_all, labels // k, draws)
    union = np.unique(np.concatenate(picks))
    x_tr, y_tr = feats(train, None, union)
    local = [np.searchsorted(union, p) for p in picks]
    result: dict[str, Any] = {"dataset": spec["name"], "dims": int(x_tr.shape[1])}
    with progress_bar("label draws", draws, enabled=progress) as adv:
        result.update(
            few_label_error(
                x_tr, y_tr, x_te, y_te, per_class=labels // k, draws=draws, picks=local,
                device=device, advance=adv,
            )
        )  # fmt: skip
    return result
