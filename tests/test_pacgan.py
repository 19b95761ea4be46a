"""PacGAN packing in the unconditional algorithm (Lin et al. 2018)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.config import load_config
from ganforge.engine.run import build, train
from ganforge.errors import ConfigError


def test_critic_sees_packed_inputs(tiny_ring8: dict[str, Any]) -> None:
    cfg = copy.deepcopy(tiny_ring8)
    cfg["algorithm"]["pack"] = 4
    built = build(load_config(cfg))
    d = built.algorithm.nets["d"]
    assert tuple(d.in_shape) == (8,)  # 4 points of 2 coordinates
    seen: list[tuple[int, ...]] = []
    d.register_forward_hook(lambda m, inp, out: seen.append(tuple(inp[0].shape)))
    batch = built.dataset.batch(torch.arange(32))
    for phase in ("d", "g"):
        out = built.algorithm.loss(phase, batch, step=0)
        assert torch.isfinite(out.loss)
    assert seen and all(s == (8, 8) for s in seen)  # 32 samples -> 8 packed inputs


def test_packed_training_runs_for_points_and_images(
    tmp_path: Path, tiny_ring8: dict[str, Any], tiny_digits: dict[str, Any]
) -> None:
    for name, base in (("ring8", tiny_ring8), ("digits", tiny_digits)):
        cfg = copy.deepcopy(base)
        cfg["algorithm"]["pack"] = 2
        run = train(cfg, out=tmp_path / name, progress=False)
        assert (run / "generator.safetensors").is_file()


def test_batch_size_must_be_a_multiple_of_the_packing(
    tmp_path: Path, tiny_ring8: dict[str, Any]
) -> None:
    cfg = copy.deepcopy(tiny_ring8)
    cfg["algorithm"]["pack"] = 3
    cfg["train"]["batch_size"] = 32
    with pytest.raises(ConfigError, match="multiple of it"):
        train(cfg, out=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()
