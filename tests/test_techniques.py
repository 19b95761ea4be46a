"""Registered techniques wired into training: instance noise, DiffAugment."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.engine.run import build, train
from ganforge.errors import ConfigError, UnknownNameError


def _critic_inputs(cfg: dict[str, Any], step: int) -> list[torch.Tensor]:
    built = build(load_config(cfg))
    seen: list[torch.Tensor] = []
    built.algorithm.nets["d"].register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    batch = built.dataset.batch(torch.arange(16))
    built.algorithm.loss("d", batch, step=step)
    return [batch["real"], *seen]


def test_instance_noise_reaches_the_critic_and_anneals(tiny_ring8: dict[str, Any]) -> None:
    cfg = copy.deepcopy(tiny_ring8)
    cfg["techniques"] = [{"name": "instance-noise", "std": 0.5, "anneal_steps": 100}]
    raw, real_in, _ = _critic_inputs(cfg, step=0)
    assert (real_in - raw).std().item() == pytest.approx(0.5, rel=0.35)
    raw, real_in, _ = _critic_inputs(cfg, step=50)
    assert (real_in - raw).std().item() == pytest.approx(0.25, rel=0.35)
    raw, real_in, _ = _critic_inputs(cfg, step=100)
    assert torch.equal(real_in, raw)  # annealed away: the critic sees the data itself


def test_diffaugment_reaches_the_critic_for_images_only(
    tiny_digits: dict[str, Any], tiny_ring8: dict[str, Any], tmp_path: Path
) -> None:
    cfg = copy.deepcopy(tiny_digits)
    cfg["techniques"] = [{"name": "diffaugment", "policy": "translation,cutout"}]
    raw, real_in, fake_in = _critic_inputs(cfg, step=0)
    assert real_in.shape == raw.shape and not torch.equal(real_in, raw)
    assert fake_in.shape == raw.shape
    bad = copy.deepcopy(tiny_digits)
    bad["techniques"] = [{"name": "diffaugment", "policy": "colour"}]
    with pytest.raises(ConfigError, match=r"techniques\[0\] \(diffaugment\).*'colour'"):
        build(load_config(bad))
    points = copy.deepcopy(tiny_ring8)
    points["techniques"] = [{"name": "diffaugment"}]
    with pytest.raises(ConfigError, match="augments images"):
        train(points, out=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()
    with pytest.raises(UnknownNameError, match="Did you mean 'instance-noise'"):
        bad = copy.deepcopy(tiny_ring8)
        bad["techniques"] = [{"name": "instance-nosie"}]
        load_config(bad)


def test_training_with_techniques_resumes_exactly(
    tiny_ring8: dict[str, Any], exact_resume: Callable[..., Path]
) -> None:
    cfg = copy.deepcopy(tiny_ring8)
    cfg["algorithm"]["pack"] = 2
    cfg["techniques"] = [{"name": "instance-noise", "std": 0.2, "anneal_steps": 30}]
    cfg["train"]["lr_schedule"] = "constant"  # a 20-step run must not decay the lr sooner
    exact_resume(cfg, 20)


def test_zoo_lists_techniques_with_the_failure_they_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    assert "techniques" in out and "instance-noise" in out and "diffaugment" in out
    assert "vanishing gradients" in out
    from ganforge.registry import TECHNIQUES
    from ganforge.techniques.base import OPTIONS

    for name in TECHNIQUES.names():
        assert name in out
        assert TECHNIQUES.get(name).targets, f"{name} states no failure it targets"
        assert TECHNIQUES.entry(name).paper, f"{name} cites no paper"
    for name, how, paper, targets in OPTIONS:
        assert name in out and paper and targets and how
    for name in ("packing", "unrolled", "spectral-norm", "ttur", "ema", "label-smoothing"):
        assert name in out
