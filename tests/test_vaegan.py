"""VAE-GAN: KL and feature-space reconstruction by hand, phases, contract and resume."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from ganforge.algorithms.vaegan import feature_reconstruction, gaussian_kl
from ganforge.config import load_config
from ganforge.engine.run import build
from ganforge.nets.base import CriticOutput


def _cfg(tiny_digits: dict[str, Any], **optim: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(tiny_digits)
    cfg["nets"] = {
        "e": {"name": "mlp-e", "hidden": [32]},
        "g": {"name": "mlp-g", "hidden": [32], "out_activation": "tanh"},
        "d": {"name": "mlp-d", "hidden": [32]},
    }
    cfg["algorithm"] = {"name": "vaegan", "latent_dim": 4, "gamma": 0.5}
    cfg["objective"] = {"name": "ns"}
    cfg["optim"] = {k: {"name": "adam"} for k in ("e", "g", "d")}
    cfg["train"].update(steps=6, ckpt_every=3, sample_every=3, log_every=1, ema=None)
    return cfg


def test_kl_and_feature_reconstruction_by_hand() -> None:
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    # 1/2 [(1 + 1 - 1 - 0) + (0 + 4 - 1 - log 4)]
    assert gaussian_kl(mu, logvar).item() == pytest.approx(0.5 * (1 + 3 - math.log(4)))
    a = CriticOutput(torch.zeros(2), torch.tensor([[1.0, 2.0], [0.0, 0.0]]))
    b = CriticOutput(torch.zeros(2), torch.tensor([[0.0, 0.0], [0.0, 3.0]]))
    assert feature_reconstruction(a, b).item() == pytest.approx(0.5 * (5 + 9) / 2)
    with pytest.raises(ValueError, match="features"):
        feature_reconstruction(CriticOutput(torch.zeros(1)), b)


def test_vaegan_phases_and_losses(tiny_digits: dict[str, Any]) -> None:
    built = build(load_config(_cfg(tiny_digits)))
    algo = built.algorithm
    assert [p.name for p in algo.phases()] == ["d", "e", "g"]
    assert algo.nets["e"].latent_dim == 8  # [mu, log sigma^2] for d_z = 4
    outs: list[CriticOutput] = []
    algo.nets["d"].register_forward_hook(lambda m, i, o: outs.append(o))
    batch = built.dataset.batch(torch.arange(16))
    loss = algo.loss("d", batch, step=0).loss
    out_r, out_f = outs
    assert len(out_r.score) == 32 and len(out_f.score) == 32  # real twice; recon + prior
    expect = F.softplus(-out_r.score).mean() + F.softplus(out_f.score).mean()
    assert torch.allclose(loss, expect)
    outs.clear()
    torch.manual_seed(5)
    out = algo.loss("e", batch, step=0)
    assert set(out.logs) == {"vae/llike", "vae/kl"}
    assert torch.allclose(out.loss, out.logs["vae/kl"] + out.logs["vae/llike"])
    outs.clear()
    out = algo.loss("g", batch, step=0)
    o_real, o_recon, o_prior = outs
    adv = F.softplus(-torch.cat([o_recon.score, o_prior.score])).mean()
    assert torch.allclose(out.loss, 0.5 * feature_reconstruction(o_real, o_recon) + adv)


def test_vaegan_contract_and_exact_resume(
    tiny_digits: dict[str, Any], exact_resume: Callable[..., Path]
) -> None:
    cfg = _cfg(tiny_digits)
    exact_resume(cfg, 3)
