"""BiGAN / ALI: joint critic on (x, z) pairs, inverted roles for G and E, contract."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.algorithms.bigan import joint
from ganforge.config import load_config
from ganforge.engine.run import build
from ganforge.errors import ConfigError
from ganforge.objectives.original import gan_d_loss


def _cfg(tiny_digits: dict[str, Any]) -> dict[str, Any]:
    cfg = copy.deepcopy(tiny_digits)
    cfg["nets"] = {
        "g": {"name": "mlp-g", "hidden": [32], "out_activation": "tanh"},
        "e": {"name": "mlp-e", "hidden": [32]},
        "d": {"name": "mlp-d", "hidden": [32]},
    }
    cfg["algorithm"] = {"name": "bigan", "latent_dim": 4}
    cfg["objective"] = {"name": "ns"}
    cfg["train"].update(steps=8, ckpt_every=4, sample_every=4, log_every=2, ema=None)
    return cfg


def test_joint_pairs() -> None:
    x, z = torch.arange(8.0).view(2, 1, 2, 2), torch.tensor([[10.0], [20.0]])
    assert joint(x, z).tolist() == [[0, 1, 2, 3, 10], [4, 5, 6, 7, 20]]


def test_bigan_losses_by_hand(tiny_digits: dict[str, Any]) -> None:
    built = build(load_config(_cfg(tiny_digits)))
    algo = built.algorithm
    assert algo.nets["d"].in_shape == (16 * 16 + 4,) and algo.nets["e"].latent_dim == 4
    seen: list[tuple[torch.Tensor, Any]] = []
    algo.nets["d"].register_forward_hook(lambda m, i, o: seen.append((i[0], o)))
    batch = built.dataset.batch(torch.arange(16))
    x = batch["real"]
    loss = algo.loss("d", batch, step=0).loss
    (in_r, out_r), (_, out_f) = seen
    assert torch.allclose(in_r[:, :256], x.flatten(1))  # data pair: (x, E(x))
    assert torch.allclose(in_r[:, 256:], algo.encode(x))
    assert torch.allclose(loss, gan_d_loss(out_r.score, out_f.score))
    seen.clear()
    loss_g = algo.loss("g", batch, step=0).loss
    (_, out_f), (_, out_r) = seen  # the model pair first, then the data pair
    # inverted roles: softplus(score on data pairs) + softplus(-score on model pairs)
    assert torch.allclose(loss_g, gan_d_loss(out_f.score, out_r.score))
    grads = torch.autograd.grad(loss_g, list(algo.nets["e"].parameters()))
    assert all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_bigan_refuses_critic_input_techniques(tiny_digits: dict[str, Any]) -> None:
    cfg = _cfg(tiny_digits)
    cfg["techniques"] = [{"name": "instance-noise"}]
    with pytest.raises(ConfigError, match=r"\(x, z\) pairs"):
        build(load_config(cfg))


def test_bigan_contract_and_exact_resume(
    tiny_digits: dict[str, Any], exact_resume: Callable[..., Path]
) -> None:
    cfg = _cfg(tiny_digits)
    exact_resume(cfg, 4)
