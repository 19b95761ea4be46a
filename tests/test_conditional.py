"""Conditional algorithms: cgan (with the matching-aware critic) and acgan."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from ganforge.algorithms.acgan import class_loss
from ganforge.algorithms.cgan import (
    CGAN,
    balanced_labels,
    cat_outputs,
    mismatched_labels,
)
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.engine.run import build, load, train
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.objectives.original import gan_d_loss


def _cfg(tiny_digits: dict[str, Any], algo: str, **kw: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(tiny_digits)
    cfg["algorithm"] = {"name": algo, "latent_dim": 8, **kw}
    cfg["train"].update(steps=8, ckpt_every=4, sample_every=4, log_every=2, ema=None)
    return cfg


# -- pure parts ------------------------------------------------------------------------------
def test_mismatched_labels_are_never_the_true_ones_and_cover_the_rest() -> None:
    torch.manual_seed(0)
    y = torch.full((20000,), 3)
    y_hat = mismatched_labels(y, 10)
    assert not torch.any(y_hat == y)
    counts = torch.bincount(y_hat, minlength=10).float() / len(y)
    assert counts[3] == 0 and torch.allclose(counts[counts > 0], torch.full((9,), 1 / 9), atol=0.01)


def test_balanced_labels_and_cat_outputs() -> None:
    assert balanced_labels(6, 3, "cpu").tolist() == [0, 0, 1, 1, 2, 2]
    assert balanced_labels(5, 2, "cpu").tolist() == [0, 0, 0, 1, 1]
    a = CriticOutput(torch.zeros(2), torch.zeros(2, 3), None)
    b = CriticOutput(torch.ones(3), torch.ones(3, 3), None)
    c = cat_outputs(a, b)
    assert c.score.tolist() == [0, 0, 1, 1, 1] and c.features.shape == (5, 3) and c.aux is None


def test_class_loss_by_hand() -> None:
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    y = torch.tensor([0, 1])
    # -log(1/2) and -log(1 / (1 + e^2))
    expect = (torch.log(torch.tensor(2.0)) + torch.log1p(torch.exp(torch.tensor(2.0)))) / 2
    assert class_loss(logits, y).item() == pytest.approx(expect.item(), rel=1e-6)
    with pytest.raises(ValueError, match="aux_dim"):
        class_loss(None, y)


# -- losses through the algorithms -----------------------------------------------------------
def _hooked(cfg: dict[str, Any]) -> tuple[Any, list[tuple[torch.Tensor, ...]], dict[str, Any]]:
    built = build(load_config(cfg))
    calls: list[tuple[torch.Tensor, ...]] = []
    d = built.algorithm.nets["d"]
    d.register_forward_hook(lambda m, i, o: calls.append((*i, o)))
    batch = built.dataset.batch(torch.arange(16))
    return built.algorithm, calls, batch


def test_cgan_critic_sees_the_batch_labels_for_real_and_fake(tiny_digits: dict[str, Any]) -> None:
    algo, calls, batch = _hooked(_cfg(tiny_digits, "cgan"))
    loss = algo.loss("d", batch, step=0).loss
    (_, y_r, out_r), (_, y_f, out_f) = calls
    assert torch.equal(y_r, batch["label"]) and torch.equal(y_f, batch["label"])
    assert torch.allclose(loss, gan_d_loss(out_r.score, out_f.score))


def test_matching_aware_critic_is_gan_cls(tiny_digits: dict[str, Any]) -> None:
    algo, calls, batch = _hooked(_cfg(tiny_digits, "cgan", matching_aware=True))
    loss = algo.loss("d", batch, step=0).loss
    (x_r, y_r, out_r), (_, _, out_f), (x_m, y_m, out_m) = calls
    assert torch.equal(x_m, x_r) and not torch.any(y_m == y_r)  # real images, wrong labels
    # -E log D(x, y) - 1/2 E log(1 - D(x, y_hat)) - 1/2 E log(1 - D(G(z, y), y))
    expect = (
        F.softplus(-out_r.score).mean()
        + 0.5 * F.softplus(out_m.score).mean()
        + 0.5 * F.softplus(out_f.score).mean()
    )
    assert torch.allclose(loss, expect)


def test_acgan_losses_by_hand(tiny_digits: dict[str, Any]) -> None:
    algo, calls, batch = _hooked(_cfg(tiny_digits, "acgan", class_weight=0.5))
    y = batch["label"]
    loss = algo.loss("d", batch, step=0).loss
    (_, out_r), (_, out_f) = calls
    assert out_r.aux.shape == (16, 10)
    expect = gan_d_loss(out_r.score, out_f.score) + 0.5 * (
        F.cross_entropy(out_r.aux, y) + F.cross_entropy(out_f.aux, y)
    )
    assert torch.allclose(loss, expect)
    calls.clear()
    out = algo.loss("g", batch, step=0)
    ((_, out_g),) = calls
    expect_g = -F.softplus(out_g.score).mean() + 0.5 * F.cross_entropy(out_g.aux, y)  # minimax
    assert torch.allclose(out.loss, expect_g)
    assert "g/class_loss" in out.logs


def test_conditional_needs_labels(tiny_ring8: dict[str, Any]) -> None:
    class NoLabels:
        num_classes = None
        name = "image-folder"

    with pytest.raises(ConfigError, match="needs class labels"):
        CGAN.net_defaults({}, NoLabels())


# -- contract: train, checkpoint round trip, exact resume, sampling ---------------------------
@pytest.mark.parametrize("algo", ["cgan", "acgan"])
def test_contract_and_exact_resume(
    algo: str, tiny_digits: dict[str, Any], exact_resume: Callable[..., Path]
) -> None:
    cfg = _cfg(tiny_digits, algo)
    full = exact_resume(cfg, 4)
    gen = load(full)
    assert gen.num_classes == 10
    x = gen.sample(12, seed=0)
    assert x.shape == (12, 1, 16, 16)
    sevens = gen.sample(4, seed=0, labels=torch.full((4,), 7))
    assert not torch.equal(sevens, gen.sample(4, seed=0, labels=torch.full((4,), 1)))
    with pytest.raises(ConfigError, match=r"0\.\.9"):
        gen.sample(2, labels=torch.tensor([0, 10]))


def test_cli_sample_label(
    tiny_digits: dict[str, Any], tiny_ring8: dict[str, Any], tmp_path: Path
) -> None:
    run = train(_cfg(tiny_digits, "cgan"), out=tmp_path / "c", progress=False)
    assert (
        main(["sample", str(run), "--label", "3", "--n", "8", "--out", str(tmp_path / "a.png")])
        == 0
    )
    assert (tmp_path / "a.png").is_file()
    assert main(["sample", str(run), "--n", "20", "--out", str(tmp_path / "b.png")]) == 0
    assert main(["sample", str(run), "--label", "12", "--out", str(tmp_path / "x.png")]) != 0
    plain = copy.deepcopy(tiny_ring8)
    plain["train"].update(steps=2, ckpt_every=2, sample_every=2)
    urun = train(plain, out=tmp_path / "u", progress=False)
    assert main(["sample", str(urun), "--label", "1", "--out", str(tmp_path / "y.png")]) != 0


def test_conditional_accuracy_metric(tiny_digits: dict[str, Any], tmp_path: Path) -> None:
    from ganforge.metrics.evaluate import GeneratorSource, evaluate_run

    src = GeneratorSource(lambda n, seed: torch.zeros(n, 2), "points", num_classes=3)
    assert src.labels(6, 0).tolist() == [0, 0, 1, 1, 2, 2]
    assert len(src.labels(600, 0)) == 600  # chunks of 256: blocks per chunk
    assert src.labels(600, 0)[256:262].tolist() == [0, 0, 0, 0, 0, 0]
    run = train(_cfg(tiny_digits, "cgan"), out=tmp_path / "c", progress=False)
    (card,) = evaluate_run(run, ["conditional-accuracy"], n=60, progress=False)
    assert card.metric == "conditional-accuracy" and card.extractor.startswith("classifier")
    assert 0.0 <= card.value <= 1.0 and len(card.values["per_class"]) == 10
    assert (run / "cards").is_dir()


def test_intra_fid_sees_classes_that_fid_does_not() -> None:
    from ganforge.data.base import TensorDataset
    from ganforge.metrics.evaluate import DatasetSource, GeneratorSource, evaluate

    k, n = 4, 2000
    centers = torch.tensor([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
    y = torch.arange(n) * k // n
    g = torch.Generator().manual_seed(0)
    real = TensorDataset(
        name="blobs",
        kind="points",
        tensors={"real": centers[y] + torch.randn(n, 2, generator=g), "label": y},
        num_classes=k,
    )

    def right(m: int, seed: int) -> torch.Tensor:  # class c where it is asked for
        lab = torch.arange(m) * k // m
        return centers[lab] + torch.randn(m, 2, generator=torch.Generator().manual_seed(seed))

    def shifted(m: int, seed: int) -> torch.Tensor:  # every class drawn as the next one
        lab = (torch.arange(m) * k // m + 1) % k
        return centers[lab] + torch.randn(m, 2, generator=torch.Generator().manual_seed(seed))

    ref = DatasetSource(real)
    scores = {}
    for name, fn in (("right", right), ("shifted", shifted)):
        cards = evaluate(
            GeneratorSource(fn, "points", num_classes=k), ref, ["fid", "intra-fid"],
            n=n, extractor="identity", progress=False, cache=False,
        )  # fmt: skip
        scores[name] = {c.metric: c.value for c in cards}
    assert scores["right"]["intra-fid"] < 0.1 and scores["shifted"]["intra-fid"] > 30
    # the overall FID cannot tell: both generators cover the four blobs equally
    assert scores["shifted"]["fid"] < 0.1 and scores["right"]["fid"] < 0.1


def test_acgan_critic_can_learn_classes_from_real_data_only(tiny_digits: dict[str, Any]) -> None:
    algo, calls, batch = _hooked(_cfg(tiny_digits, "acgan", critic_fake_class=False))
    loss = algo.loss("d", batch, step=0).loss
    (_, out_r), (_, out_f) = calls
    expect = gan_d_loss(out_r.score, out_f.score) + F.cross_entropy(out_r.aux, batch["label"])
    assert torch.allclose(loss, expect)
