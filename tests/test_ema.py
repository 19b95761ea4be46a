"""EMA copies of the generator: averaging, and batch-norm statistics of their own weights."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganforge.config import validate
from ganforge.engine.ema import EMA, standing_statistics
from ganforge.engine.run import _trainer, build
from ganforge.nn.parallel import Shard, active_shard, convert_sync_batchnorm


def bn_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2))


def test_standing_statistics_are_the_average_batch_statistics() -> None:
    net = bn_net().eval()
    net[1].momentum = 0.3
    batches = [torch.randn(16, 3, generator=torch.Generator().manual_seed(i)) for i in range(5)]
    it = iter(batches)
    standing_statistics(net, lambda: net(next(it)), len(batches))
    with torch.no_grad():
        h = [net[0](x) for x in batches]
    mean = torch.stack([x.mean(0) for x in h]).mean(0)
    var = torch.stack([x.var(0, unbiased=True) for x in h]).mean(0)
    torch.testing.assert_close(net[1].running_mean, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(net[1].running_var, var, rtol=1e-5, atol=1e-6)
    # modes and momentum restored; dropout never ran in training mode
    assert not net.training and not net[1].training and not net[2].training
    assert net[1].momentum == 0.3
    assert int(net[1].num_batches_tracked) == len(batches)


def test_standing_statistics_draw_no_random_numbers_of_their_own() -> None:
    net = bn_net().eval()
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(1))
    state = torch.get_rng_state()
    standing_statistics(net, lambda: net(x), 3)  # dropout stays off: no global draws
    assert torch.equal(state, torch.get_rng_state())


def test_a_net_without_batch_norm_is_left_alone() -> None:
    net = nn.Sequential(nn.Linear(3, 2))
    calls: list[int] = []
    standing_statistics(net, lambda: calls.append(1), 4)
    assert calls == []


def test_ema_is_stale_only_after_averaging_a_net_with_batch_norm() -> None:
    live = bn_net()
    ema = EMA({"g": live}, decay=0.9, start=2)
    ema.update({"g": live}, step=1)  # before start: a plain copy, statistics match
    assert not ema.stale
    ema.update({"g": live}, step=2)
    assert ema.stale
    ema.recalibrate(lambda: ema.copies["g"](torch.randn(8, 3)), 2)
    assert not ema.stale
    plain = nn.Linear(3, 2)
    ema2 = EMA({"g": plain}, decay=0.9)
    ema2.update({"g": plain}, step=5)
    assert not ema2.stale


@pytest.fixture
def bn_ring8(tiny_ring8: dict[str, Any]) -> dict[str, Any]:
    cfg = copy.deepcopy(tiny_ring8)
    cfg["nets"]["g"]["norm"] = "batch"
    return cfg


def _trained(cfg: dict[str, Any], steps: int) -> Any:
    trainer = _trainer(build(validate(cfg)), [])
    trainer.run(steps)
    return trainer


def test_sampling_nets_give_the_ema_copy_its_own_statistics(bn_ring8: dict[str, Any]) -> None:
    trainer = _trained(bn_ring8, 12)
    ema = trainer.ema
    live_bn = next(
        m for m in trainer.algorithm.nets["g"].modules() if isinstance(m, nn.BatchNorm1d)
    )
    live_mean = live_bn.running_mean.clone()
    assert ema.stale
    twin_bn = next(m for m in ema.copies["g"].modules() if isinstance(m, nn.BatchNorm1d))
    rng = torch.get_rng_state()
    nets = trainer.sampling_nets()
    assert torch.equal(rng, torch.get_rng_state())  # the training RNG is untouched
    assert nets["g"] is ema.copies["g"] and not ema.stale
    assert not torch.allclose(twin_bn.running_mean, live_mean)
    # the statistics are what the averaged weights produce on training-sized batches
    expected = copy.deepcopy(ema.copies["g"])
    g = torch.Generator().manual_seed(1234)
    standing_statistics(
        expected,
        lambda: expected(trainer.algorithm.noise(trainer.sampler.batch_size, g)),
        200,
    )
    exp_bn = next(m for m in expected.modules() if isinstance(m, nn.BatchNorm1d))
    # two estimates of the same mean from different noise: agree to sampling error
    scale = exp_bn.running_var.sqrt() / (32 * trainer.sampler.batch_size) ** 0.5
    assert ((twin_bn.running_mean - exp_bn.running_mean).abs() < 6 * scale + 1e-4).all()
    # not recomputed while the weights stay the same
    before = twin_bn.running_mean.clone()
    trainer.sampling_nets()
    assert torch.equal(before, twin_bn.running_mean)


def test_standing_statistics_are_local_under_data_parallelism(bn_ring8: dict[str, Any]) -> None:
    """Sampling may run on rank 0 alone: a synchronised batch norm must not all-reduce
    (there is no process group here, so an all-reduce would raise)."""
    trainer = _trained(bn_ring8, 8)
    trainer.ema.copies["g"] = convert_sync_batchnorm(trainer.ema.copies["g"])
    trainer.ema.stale = True
    with active_shard(Shard(rank=0, world=2)):
        trainer.sampling_nets()
    assert not trainer.ema.stale


def test_exact_resume_with_a_batch_norm_generator_and_ema(
    bn_ring8: dict[str, Any], exact_resume: Callable[[dict[str, Any], int], Path]
) -> None:
    # (the fixture trains the cut run with steps = cut: a constant schedule keeps the two
    # runs' learning rates the same)
    exact_resume({**bn_ring8, "train": {**bn_ring8["train"], "lr_schedule": "constant"}}, 20)
