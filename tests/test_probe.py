"""Feature-learning probe: pooled critic activations, L2-SVM with C on validation, CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.cli import main
from ganforge.engine.run import load_trained, train
from ganforge.metrics.probe import critic_features, few_label_error, l2_svm_probe, probe_run
from ganforge.nets.dcgan import DCGANDiscriminator
from ganforge.nets.mlp import MLPDiscriminator
from ganforge.registry import DATASETS


def test_critic_features_pool_every_activation_to_4x4() -> None:
    torch.manual_seed(0)
    d = DCGANDiscriminator((1, 32, 32), base_channels=4)  # maps 4@16, 8@8, 16@4
    x = torch.randn(10, 1, 32, 32)
    f = critic_features(d, lambda i, j: x[i:j], 10, batch_size=4)
    assert f.shape == (10, (4 + 8 + 16) * 16)
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
    res = l2_svm_probe(x[::2], y[::2], x[1::2], y[1::2])
    assert res["accuracy"] == 1.0 and res["C"] in res["val_scores"]
    few = few_label_error(x[::2], y[::2], x[1::2], y[1::2], per_class=5, draws=3)
    assert few["error"] < 0.05 and few["draws"] == 3
    noise = rng.normal(size=(300, 20))  # no signal: chance accuracy, about 1/3
    chance = l2_svm_probe(noise[::2], y[::2], noise[1::2], y[1::2])
    assert 0.15 < chance["accuracy"] < 0.55


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
