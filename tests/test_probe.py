"""Feature-learning probe: pooled critic activations, L2-SVM with C on validation, CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.engine.run import load_trained, train
from ganforge.metrics.probe import (
    critic_features,
    few_label_error,
    fit_l2_svm,
    fit_l2_svm_path,
    l2_svm_probe,
    probe_run,
    svm_predict,
)
from ganforge.nets.dcgan import DCGANDiscriminator
from ganforge.nets.mlp import MLPDiscriminator
from ganforge.registry import DATASETS


def test_critic_features_pool_every_activation_to_4x4() -> None:
    torch.manual_seed(0)
    d = DCGANDiscriminator((1, 32, 32), base_channels=4)  # maps 4@16, 8@8, 16@4
    x = torch.randn(10, 1, 32, 32)
    done: list[int] = []
    f = critic_features(d, lambda i, j: x[i:j], 10, batch_size=4, advance=done.append)
    assert f.shape == (10, (4 + 8 + 16) * 16)
    assert done == [4, 4, 2]  # the progress callback sees each batch's images
    # the first block of features is the first activation map, max-pooled to 4x4
    first = torch.nn.functional.leaky_relu(d.body[0](x[:2]), 0.2)
    assert torch.allclose(f[:2, :64], torch.nn.functional.adaptive_max_pool2d(first, 4).flatten(1))
    m = MLPDiscriminator((2,), hidden=(5, 3))
    assert critic_features(m, lambda i, j: torch.randn(j - i, 2), 7).shape == (7, 8)


def test_l2_svm_probe_and_few_labels_on_separable_data() -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 20)) * 5
    y = np.repeat(np.arange(3), 100)
    x = centers[y] + rng.normal(size=(300, 20))
    fits: list[int] = []
    res = l2_svm_probe(x[::2], y[::2], x[1::2], y[1::2], advance=fits.append)
    assert res["accuracy"] == 1.0 and res["C"] in res["val_scores"]
    assert len(fits) == len(res["val_scores"]) + 1  # every C tried, then the refit
    draws: list[int] = []
    few = few_label_error(
        x[::2], y[::2], x[1::2], y[1::2], per_class=5, draws=3, advance=draws.append
    )
    assert few["error"] < 0.05 and few["draws"] == 3 and draws == [1, 1, 1]
    noise = rng.normal(size=(300, 20))  # no signal: chance accuracy, about 1/3
    chance = l2_svm_probe(noise[::2], y[::2], noise[1::2], y[1::2])
    assert 0.15 < chance["accuracy"] < 0.55


def _svm_problem(k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """300 x 20 overlapping classes (not separable: many active hinges)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, 300)
    x = rng.normal(size=(300, 20)) + 0.8 * rng.normal(size=(k, 20))[y]
    return x, y


def _primal(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, c: float) -> float:
    """liblinear's L2-loss SVC primal, summed over the one-vs-rest columns (numpy)."""
    classes = np.unique(y)
    pos = classes[1:] if len(classes) == 2 else classes
    t = np.where(y[:, None] == pos[None, :], 1.0, -1.0)
    hinge = np.maximum(0.0, 1.0 - t * (x @ w.reshape(x.shape[1], -1) + b))
    return float(0.5 * (np.sum(w**2) + np.sum(b**2)) + c * np.sum(hinge**2))


def _primal_grad(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, c: float
) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of :func:`_primal` in (w, b)."""
    classes = np.unique(y)
    pos = classes[1:] if len(classes) == 2 else classes
    t = np.where(y[:, None] == pos[None, :], 1.0, -1.0)
    th = t * np.maximum(0.0, 1.0 - t * (x @ w + b))
    return w - 2 * c * x.T @ th, b - 2 * c * th.sum(0)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("k", [3, 2])
@pytest.mark.parametrize("c", [0.01, 1.0])
def test_torch_l2_svm_matches_liblinear(k: int, c: float) -> None:
    from sklearn.svm import LinearSVC

    x, y = _svm_problem(k)
    w, b = fit_l2_svm(x, y, c, tol=1e-9)
    w, b = w.numpy(), b.numpy()
    assert w.shape == (20, 1 if k == 2 else k) and b.shape == (w.shape[1],)
    ref = LinearSVC(C=c, tol=1e-8, max_iter=100000).fit(x, y)
    f_torch = _primal(x, y, w, b, c)
    f_ref = _primal(x, y, ref.coef_.T, ref.intercept_, c)
    assert abs(f_torch - f_ref) <= 1e-4 * f_ref and f_torch <= f_ref * (1 + 1e-10)
    pred = svm_predict(x, torch.as_tensor(w), torch.as_tensor(b), np.unique(y))
    assert np.mean(pred == ref.predict(x)) >= 0.99
    # optimality: the gradient vanishes (the objective is smooth and 1-strongly convex)
    gw, gb = _primal_grad(x, y, w, b, c)
    assert np.sqrt(np.sum(gw**2) + np.sum(gb**2)) <= 1e-7 * np.sqrt(np.sum(w**2) + np.sum(b**2))
    # the same solution through the span of the samples (fewer samples than features)
    xs, ys = x[:8], np.arange(8) % k  # 8 samples x 20 features
    wr, br = fit_l2_svm(xs, ys, c, tol=1e-9)  # reduced by default
    wp, bp = fit_l2_svm(xs, ys, c, tol=1e-9, reduce=False)
    assert torch.allclose(wr, wp, atol=1e-7) and torch.allclose(br, bp, atol=1e-7)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_torch_l2_svm_path_warm_start_and_separable_data() -> None:
    rng = np.random.default_rng(1)
    y = np.repeat(np.array([3, 7, 9, 11]), 50)  # any labels
    x = 4 * rng.normal(size=(4, 30))[np.searchsorted([3, 7, 9, 11], y)] + rng.normal(size=(200, 30))
    cs = (1.0, 1e-2, 0.1)
    path = fit_l2_svm_path(x, y, cs, tol=1e-9)
    for c, (w, b) in zip(cs, path):
        assert np.mean(svm_predict(x, w, b, np.unique(y)) == y) == 1.0
        cold = fit_l2_svm(x, y, c, tol=1e-9)
        assert torch.allclose(w, cold[0], atol=1e-6) and torch.allclose(b, cold[1], atol=1e-6)
    w, b = fit_l2_svm(x.astype(np.float32), y, 0.1, dtype=torch.float32)
    assert w.dtype == torch.float32 and np.mean(svm_predict(x, w, b, np.unique(y)) == y) == 1.0
    with pytest.raises(ValueError, match="2 classes"):
        fit_l2_svm(x, np.zeros(200), 1.0)
    with pytest.raises(ValueError, match="positive"):
        fit_l2_svm(x, y, 0.0)


def test_l2_svm_probe_solvers_agree() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 240)
    x = rng.normal(size=(240, 15)) + 0.7 * rng.normal(size=(3, 15))[y]
    ours = l2_svm_probe(x[:160], y[:160], x[160:], y[160:])
    ref = l2_svm_probe(x[:160], y[:160], x[160:], y[160:], solver="liblinear")
    assert ours["C"] == ref["C"] and ours["val_scores"] == ref["val_scores"]
    assert abs(ours["accuracy"] - ref["accuracy"]) <= 1 / 80
    with pytest.raises(ValueError, match="torch, liblinear"):
        l2_svm_probe(x[:160], y[:160], x[160:], y[160:], solver="sgd")


def test_features_cli_on_mnist(
    tiny_digits: dict[str, Any], shared_datasets: Path, tmp_path: Path
) -> None:
    cfg = copy.deepcopy(tiny_digits)
    cfg["data"] = {"name": "mnist", "resolution": 32, "root": str(shared_datasets / "mnist")}
    cfg["train"].update(steps=2, ckpt_every=2, sample_every=2, log_every=1, ema=None)
    run = train(cfg, out=tmp_path / "r", progress=False)
    args = ["features", str(run), "--n-train", "400", "--n-test", "200"]
    assert main(args) == 0
    res = json.loads((run / "probe-mnist.json").read_text())
    assert res["dims"] == (8 + 16 + 32) * 16 and 0.3 < res["accuracy"] <= 1.0
    assert main([*args, "--labels", "50", "--draws", "2"]) == 0
    res = json.loads((run / "probe-mnist.json").read_text())
    assert 0.0 <= res["error"] < 0.7 and res["per_class"] == 5
    assert main([*args, "--labels", "55"]) != 0  # not a multiple of 10 classes
    # only the drawn images' features are computed: the same errors as probing the
    # features of every image of the split
    fast = probe_run(run, labels=50, draws=2, n_train=400, n_test=200)
    algo, _ = load_trained(run)
    mnist = {"name": "mnist", "resolution": 32, "root": str(shared_datasets / "mnist")}
    tr = DATASETS.build({**mnist, "split": "train"}, "data")
    te = DATASETS.build({**mnist, "split": "test"}, "data")

    def every(ds: Any, n: int) -> np.ndarray:
        return critic_features(
            algo.nets["d"], lambda i, j: ds.batch(torch.arange(i, j))["real"], n
        ).numpy()

    ref = few_label_error(every(tr, 400), tr.tensors["label"][:400].numpy(), every(te, 200),
                          te.tensors["label"][:200].numpy(), per_class=5, draws=2)  # fmt: skip
    assert fast["error"] == ref["error"] and fast["std"] == ref["std"]


def test_c_search_stops_once_validation_turns_down() -> None:
    from ganforge.metrics.probe import _choose_c

    curve = {1e-4: 0.5, 1e-3: 0.7, 1e-2: 0.8, 1e-1: 0.75, 1.0: 0.74, 10.0: 0.9}
    tried: list[float] = []

    def score(c: float) -> float:
        tried.append(c)
        return curve[c]

    best, scores = _choose_c(list(reversed(curve)), score)
    # increasing C; two in a row below the best (0.1, 1) end the walk before 10
    assert tried == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert best == 1e-2 and list(scores) == tried
    # a tie goes to the smaller C, and a flat curve ends after `patience` worse values only
    best, _ = _choose_c([1.0, 2.0, 3.0], lambda c: 0.5)
    assert best == 1.0
