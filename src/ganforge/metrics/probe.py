"""GANs as feature learners: the critic's features under a linear probe.

Radford et al. 2016 (DCGAN), sec. 5.1, and the applications survey's Tables 1-2: train a
GAN without labels, then use its critic as a feature extractor. Every convolutional
layer's activations are max-pooled to a 4 x 4 grid, flattened and concatenated, and a
regularised linear L2-SVM is fit on the features of labelled images (the paper: 82.8%
on CIFAR-10 with a critic trained on ImageNet-1k; 22.48% error on SVHN with 1000 labels).

- :func:`critic_features`: the pooled, concatenated activations (N, F) of any critic;
  the activations are the outputs of its ReLU / LeakyReLU modules (after each layer's
  norm), 4-D maps pooled to ``grid`` x ``grid``, vectors (MLP critics) taken as they are.
- :func:`l2_svm_probe`: scikit-learn's LinearSVC (squared hinge = L2-SVM, L2 penalty) on
  standardised features, C chosen on a held-out validation split of the training set.
- :func:`few_label_error`: the error with ``per_class`` labels per class, averaged over
  ``draws`` random label draws (mean and standard deviation).
- :func:`probe_run`: all of it for a run dir's critic (``ganforge features``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: the regularisation constants tried for the L2-SVM (chosen on the validation split)
C_GRID = (1e-3, 1e-2, 1e-1, 1.0)


@torch.no_grad()
def critic_features(
    critic: nn.Module,
    images: Callable[[int, int], torch.Tensor],
    n: int,
    grid: int = 4,
    batch_size: int = 500,
) -> torch.Tensor:
    """Max-pooled activations of every ReLU / LeakyReLU of ``critic``, concatenated.

    Args:
        critic: the trained critic (put in eval mode here; called with images only).
        images: ``images(start, stop)`` -> float (m, C, H, W) in [-1, 1].
        n: number of images.
        grid: each 4-D activation map is adaptively max-pooled to grid x grid.

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
    finally:
        for h in handles:
            h.remove()
    return torch.cat(out)


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu, sd = train.mean(0), train.std(0) + 1e-6
    return [(a - mu) / sd for a in (train, *others)]


def l2_svm_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    cs: Sequence[float] = C_GRID,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit a linear L2-SVM, C chosen on a validation split; return test accuracy and C.

    The chosen C is refit on the whole training set before testing.
    """
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(x_train))
    n_val = max(1, round(val_fraction * len(x_train)))
    val, fit = perm[:n_val], perm[n_val:]
    if len(fit) == 0:
        raise ValueError("too few training examples to hold out a validation split.")
    xf, xv = _standardise(x_train[fit], x_train[val])
    scores = {}
    for c in cs:
        clf = LinearSVC(C=c, max_iter=5000).fit(xf, y_train[fit])
        scores[c] = float(clf.score(xv, y_train[val]))
    best = max(cs, key=lambda c: (scores[c], -c))  # ties: the stronger regularisation
    xt, xs = _standardise(x_train, x_test)
    clf = LinearSVC(C=best, max_iter=5000).fit(xt, y_train)
    return {"accuracy": float(clf.score(xs, y_test)), "C": best, "val_scores": scores}


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
) -> dict[str, Any]:
    """Test error of the L2-SVM probe with ``per_class`` labels per class, over ``draws``
    random draws of the labelled set: mean and standard deviation.

    ``picks``: the draws as indices into ``x_train`` (default :func:`label_draws` of
    ``y_train``; given when ``x_train`` holds only the features of the drawn images)."""
    if picks is None:
        picks = label_draws(y_train, per_class, draws, seed)
    errors = []
    for d, pick in enumerate(picks):
        res = l2_svm_probe(x_train[pick], y_train[pick], x_test, y_test, seed=seed + d)
        errors.append(1.0 - res["accuracy"])
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
) -> dict[str, Any]:
    """Probe a run's critic (latest checkpoint) on a labelled dataset's train/test splits.

    Args:
        dataset: registry name (default: the run's dataset, at the run's resolution).
        root: a local copy of the dataset.
        labels: None: every training image labelled (the CIFAR-10 protocol); else the
            total number of labels (a multiple of the class count), averaged over
            ``draws`` label draws (the 1000-label protocol).
        n_train, n_test: use only the first images of each split.

    Returns:
        ``dataset``, ``dims`` and the probe's results (``accuracy``/``C`` or
        ``error``/``std``).
    """
    from ganforge import registry
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
        x = critic_features(critic, lambda i, j: ds.batch(idx[i:j])["real"], len(idx))
        return x.numpy(), ds.tensors["label"][idx.to(ds.tensors["label"].device)].cpu().numpy()

    x_te, y_te = feats(split("test"), n_test)
    if labels is None:
        x_tr, y_tr = feats(split("train"), n_train)
        res = l2_svm_probe(x_tr, y_tr, x_te, y_te)
        return {"dataset": spec["name"], "dims": int(x_tr.shape[1]), "accuracy": res["accuracy"],
                "C": res["C"], "n_train": len(y_tr)}  # fmt: skip
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
    result.update(
        few_label_error(x_tr, y_tr, x_te, y_te, per_class=labels // k, draws=draws, picks=local)
    )
    return result
