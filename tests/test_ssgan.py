"""Semi-supervised K+1 GAN: log Z logit, balanced labelled subset, losses, contract."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from ganforge.algorithms.ssgan import balanced_subset, kplus1
from ganforge.config import load_config
from ganforge.engine.run import build
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput


def _cfg(tiny_digits: dict[str, Any], **kw: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(tiny_digits)
    cfg["nets"]["d"]["norm"] = "none"  # per-sample critic: the labelled batch is separate
    cfg["algorithm"] = {
        "name": "ssgan-kplus1",
        "latent_dim": 8,
        "labels": 20,
        "labelled_batch": 6,
        **kw,
    }
    cfg["objective"] = {"name": "ns"}
    cfg["train"].update(steps=6, ckpt_every=3, sample_every=3, log_every=1, ema=None)
    return cfg


def test_kplus1_logit_is_logsumexp() -> None:
    out = kplus1(CriticOutput(torch.zeros(2), None, torch.tensor([[0.0, 0.0], [1.0, -20.0]])))
    # Z = 2 -> log 2; Z = e + e^-20 -> ~1
    assert out.score.tolist() == pytest.approx([0.693147, 1.0], abs=1e-6)
    # p(real) = Z / (Z + 1) = sigmoid(log Z)
    assert torch.sigmoid(out.score[0]).item() == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="aux_dim"):
        kplus1(CriticOutput(torch.zeros(1)))


def test_balanced_subset() -> None:
    labels = torch.arange(10).repeat(30)
    idx = balanced_subset(labels, 20, seed=0)
    assert torch.equal(torch.bincount(labels[idx], minlength=10), torch.full((10,), 2))
    assert torch.equal(idx, balanced_subset(labels, 20, seed=0))
    assert not torch.equal(idx, balanced_subset(labels, 20, seed=1))
    with pytest.raises(ConfigError, match="multiple"):
        balanced_subset(labels, 15, seed=0)


def test_ssgan_critic_loss_by_hand(tiny_digits: dict[str, Any]) -> None:
    built = build(load_config(_cfg(tiny_digits)))
    algo = built.algorithm
    assert algo.nets["d"].aux_dim == 10 and len(algo.x_labelled) == 20
    calls: list[tuple[torch.Tensor, CriticOutput]] = []
    algo.nets["d"].register_forward_hook(lambda m, i, o: calls.append((i[0], o)))
    loss = algo.loss("d", built.dataset.batch(torch.arange(16)), step=0).loss
    (_, o_r), (_, o_f), (x_l, o_l) = calls
    # the labelled rows' labels, found by matching them against the kept subset
    match = (x_l.flatten(1)[:, None, :] == algo.x_labelled.flatten(1)[None]).all(-1)
    y_l = algo.y_labelled[match.float().argmax(1)]
    lse_r, lse_f = torch.logsumexp(o_r.aux, 1), torch.logsumexp(o_f.aux, 1)
    expect = F.softplus(-lse_r).mean() + F.softplus(lse_f).mean() + F.cross_entropy(o_l.aux, y_l)
    assert torch.allclose(loss, expect, atol=1e-6)
    assert algo.classify(built.dataset.batch(torch.arange(5))["real"]).shape == (5,)


def test_ssgan_contract_and_exact_resume(
    tiny_digits: dict[str, Any], exact_resume: Callable[..., Path]
) -> None:
    cfg = _cfg(tiny_digits)
    cfg["techniques"] = [{"name": "feature-matching"}]
    exact_resume(cfg, 3)
