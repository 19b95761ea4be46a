"""fp16 loss scaling inside losses (gradient penalties) and the trainer's fp16 protocol.

CUDA is where ganforge uses fp16; CPU autocast supports float16 too, so the same code
paths (autocast + a GradScaler on the trainer's device) run here. The GPU check of the
precisions is ``benchmarks/precision_check.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from ganforge.algorithms.unconditional import Unconditional
from ganforge.config import load_config
from ganforge.engine.run import _trainer, build
from ganforge.errors import TrainingDiverged
from ganforge.nn.precision import active_loss_scale, current_loss_scale, loss_scaled_grad
from ganforge.penalties import input_gradient
from ganforge.penalties.gradient import gradient_norm_penalty


def test_no_scale_is_plain_autograd_grad() -> None:
    x = torch.randn(5, 3, requires_grad=True)
    y = (x**3).sum()
    (g,) = loss_scaled_grad(y, [x], create_graph=False)
    torch.testing.assert_close(g, 3 * x.detach() ** 2, rtol=0, atol=0)
    assert current_loss_scale() is None


def test_scaled_grad_equals_unscaled_in_fp32_and_scope_ends() -> None:
    x = torch.randn(5, 3, requires_grad=True)
    with active_loss_scale(torch.tensor(2.0**16)):
        assert current_loss_scale() is not None
        (g,) = loss_scaled_grad((x**3).sum(), [x], create_graph=True)
    assert current_loss_scale() is None
    torch.testing.assert_close(g, 3 * x.detach() ** 2, rtol=1e-6, atol=0)
    # the graph was kept: d/dx sum(g) = 6 x
    (gg,) = torch.autograd.grad(g.sum(), x)
    torch.testing.assert_close(gg, 6 * x.detach(), rtol=1e-6, atol=0)


def _tiny_fp16_chain(x: torch.Tensor) -> torch.Tensor:
    # dy/dx = 1e-4 * 1e-4 = 1e-8: in half precision the backward multiplies the incoming
    # gradient 1e-4 by 1e-4, below fp16's smallest subnormal (6e-8), so it flushes to 0
    h = x.half() * torch.tensor(1e-4, dtype=torch.float16)
    return (h * torch.tensor(1e-4, dtype=torch.float16)).sum()


def test_fp16_input_gradient_underflows_unscaled_and_survives_scaled() -> None:
    x = torch.ones(4, requires_grad=True)
    (plain,) = torch.autograd.grad(_tiny_fp16_chain(x), x)
    assert torch.count_nonzero(plain) == 0  # the failure the scaling prevents
    # 2^12, not GradScaler's initial 2^16: 65536 itself overflows fp16 (max 65504), which
    # the scaler answers by skipping the step and halving the scale
    with active_loss_scale(torch.tensor(2.0**12)):
        (scaled,) = loss_scaled_grad(_tiny_fp16_chain(x), [x], create_graph=False)
    torch.testing.assert_close(scaled, torch.full((4,), 1e-8), rtol=2e-3, atol=0)


def test_overflow_under_a_too_large_scale_gives_inf_for_the_scaler_to_skip() -> None:
    x = torch.ones(3, requires_grad=True)
    with active_loss_scale(torch.tensor(2.0**16)):
        (g,) = loss_scaled_grad((x.half() * 1000.0).sum(), [x], create_graph=False)
    assert torch.isinf(g).all()  # 1000 * 2^16 > 65504 in fp16


def test_gradient_penalty_under_fp16_autocast_matches_fp32() -> None:
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(8, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
    x = torch.randn(32, 8)
    ref = gradient_norm_penalty(input_gradient(critic, x))
    with torch.autocast("cpu", dtype=torch.float16), active_loss_scale(torch.tensor(2.0**12)):
        half = gradient_norm_penalty(input_gradient(critic, x))
    assert half.dtype == torch.float32
    assert abs(float(half.detach()) - float(ref.detach())) <= 2e-2 * abs(float(ref.detach()))
    assert float(ref) > 0


def _fp16_trainer(cfg: dict[str, Any]) -> Any:
    built = build(load_config(cfg))
    trainer = _trainer(built, [])
    # CUDA-only in production; CPU autocast and GradScaler run the same protocol here
    trainer.precision = "fp16"
    trainer.scaler = torch.amp.GradScaler("cpu")
    return trainer


def _gp_cfg(tiny_ring8: dict[str, Any]) -> dict[str, Any]:
    cfg = dict(tiny_ring8)
    cfg["objective"] = {"name": "wgan-gp", "weight": 10.0}
    cfg["train"] = {**cfg["train"], "log_every": 5, "ema": None}
    return cfg


def test_trainer_fp16_with_gradient_penalty_trains_and_logs_the_scale(
    tiny_ring8: dict[str, Any],
) -> None:
    trainer = _fp16_trainer(_gp_cfg(tiny_ring8))
    before = {k: v.detach().clone() for k, v in trainer.algorithm.nets["g"].state_dict().items()}
    trainer.run(20)
    s = trainer.last_scalars
    assert s["perf/loss_scale"] >= 1.0
    assert all(torch.isfinite(torch.tensor(v)) for v in s.values())
    after = trainer.algorithm.nets["g"].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert trainer.state_dict()["scaler"]["scale"] == s["perf/loss_scale"]


def test_fp16_overflowing_steps_are_skipped_then_reported_as_divergence(
    tiny_ring8: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_loss = Unconditional.loss
    poisoned_from = 6

    def poisoned(self: Unconditional, phase: str, batch: dict, step: int):  # type: ignore[no-untyped-def]
        out = real_loss(self, phase, batch, step)
        if phase == "d" and step >= poisoned_from:
            out.loss = out.loss * float("inf")
        return out

    monkeypatch.setattr(Unconditional, "loss", poisoned)
    trainer = _fp16_trainer(_gp_cfg(tiny_ring8))
    trainer.run(poisoned_from)
    d_before = {k: v.clone() for k, v in trainer.algorithm.nets["d"].state_dict().items()}
    scale0 = trainer.scaler.get_scale()
    # a few overflowing steps: skipped (critic untouched), scale halved, no error yet
    trainer.run(poisoned_from + 4)
    assert trainer.scaler.get_scale() == scale0 / 2**4
    for k, v in trainer.algorithm.nets["d"].state_dict().items():
        assert torch.equal(v, d_before[k]), k
    # ... but a scale that keeps falling is a divergence, named as an fp16 problem
    with pytest.raises(TrainingDiverged, match=r"fp16.*loss scale fell"):
        trainer.run(200)
    assert trainer.step < 60
