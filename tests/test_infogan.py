"""InfoGAN: the mutual-information bound by hand, training contract, codes at sampling."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from ganforge.algorithms.infogan import info_loss
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.engine.run import build, load
from ganforge.errors import ConfigError
from ganforge.objectives.original import gan_d_loss


def _cfg(tiny_digits: dict[str, Any], **kw: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(tiny_digits)
    cfg["algorithm"] = {"name": "infogan", "latent_dim": 6, "categorical": 4, "continuous": 2, **kw}
    cfg["train"].update(steps=8, ckpt_every=4, sample_every=4, log_every=2, ema=None)
    return cfg


def test_info_loss_by_hand() -> None:
    # K = 2 logits (0, 0): CE = log 2; one continuous code, mu 0.5, log std 0, c = 1.5:
    # NLL = (1.5 - 0.5)^2 / 2 + 0 + log(2 pi) / 2
    aux = torch.tensor([[0.0, 0.0, 0.5, 0.0]])
    cat, cont = info_loss(aux, torch.tensor([1]), torch.tensor([[1.5]]), 1.0, 0.1)
    assert cat.item() == pytest.approx(math.log(2))
    assert cont.item() == pytest.approx(0.1 * (0.5 + 0.5 * math.log(2 * math.pi)))
    # a sharper Q (log std -1) on the exact mean scores lower than a broad one
    sharp = info_loss(
        torch.tensor([[5.0, 0.0, 1.5, -1.0]]), torch.tensor([0]), torch.tensor([[1.5]])
    )
    assert sharp[0] < cat and sharp[1] < cont
    with pytest.raises(ValueError, match="aux_dim"):
        info_loss(None, torch.tensor([0]), torch.zeros(1, 1))


def test_infogan_losses_through_the_algorithm(tiny_digits: dict[str, Any]) -> None:
    built = build(load_config(_cfg(tiny_digits)))
    algo = built.algorithm
    assert algo.nets["d"].aux_dim == 4 + 2 * 2
    assert algo.nets["g"].latent_dim == 6 + 4 + 2
    outs: list[Any] = []
    algo.nets["d"].register_forward_hook(lambda m, i, o: outs.append(o))
    batch = built.dataset.batch(torch.arange(16))
    loss = algo.loss("d", batch, step=0).loss
    c_cat, c_cont = algo._codes
    assert c_cat.shape == (16,) and c_cont.shape == (16, 2) and c_cont.abs().max() <= 1
    out_r, out_f = outs
    cat, cont = info_loss(out_f.aux, c_cat, c_cont, 1.0, 0.1)
    assert torch.allclose(loss, gan_d_loss(out_r.score, out_f.score) + cat + cont)
    outs.clear()
    out = algo.loss("g", batch, step=0)
    (out_g,) = outs
    c_cat, c_cont = algo._codes
    expect = -F.softplus(out_g.score).mean() + sum(info_loss(out_g.aux, c_cat, c_cont, 1.0, 0.1))
    assert torch.allclose(out.loss, expect) and "info/cat" in out.logs


def test_info_loss_fixed_std_by_hand() -> None:
    # learn_std=False: aux holds K logits and C means only, sigma = 1 (log std 0). K = 2
    # logits (0, 0), mu 0.5, c = 1.5: CE = log 2, NLL = (1.5 - 0.5)^2 / 2 + log(2 pi) / 2,
    # the same as a learned log std of exactly 0.
    aux = torch.tensor([[0.0, 0.0, 0.5]])
    cat, cont = info_loss(aux, torch.tensor([1]), torch.tensor([[1.5]]), 1.0, 0.1, False)
    assert cat.item() == pytest.approx(math.log(2))
    assert cont.item() == pytest.approx(0.1 * (0.5 + 0.5 * math.log(2 * math.pi)))
    # two codes, no categorical part (K = 0): the sum over codes of (c - mu)^2 / 2 + const
    aux = torch.tensor([[1.0, -1.0]])
    _, cont = info_loss(aux, torch.tensor([0]), torch.tensor([[0.0, 0.0]]), 1.0, 1.0, False)
    assert cont.item() == pytest.approx(2 * 0.5 + math.log(2 * math.pi))


def test_infogan_fixed_std_through_the_algorithm(tiny_digits: dict[str, Any]) -> None:
    built = build(load_config(_cfg(tiny_digits, learn_std=False)))
    algo = built.algorithm
    assert algo.nets["d"].aux_dim == 4 + 2  # 4 logits, 2 means
    outs: list[Any] = []
    algo.nets["d"].register_forward_hook(lambda m, i, o: outs.append(o))
    batch = built.dataset.batch(torch.arange(16))
    out = algo.loss("g", batch, step=0)
    (out_g,) = outs
    c_cat, c_cont = algo._codes
    info = sum(info_loss(out_g.aux, c_cat, c_cont, 1.0, 0.1, learn_std=False))
    assert torch.allclose(out.loss, -F.softplus(out_g.score).mean() + info)
    # the MI term reaches the generator through the critic's input
    algo.nets["g"].zero_grad()
    info.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in algo.nets["g"].parameters())


def test_infogan_paper_nets_and_q_width_check(tiny_digits: dict[str, Any]) -> None:
    cfg = _cfg(tiny_digits, learn_std=False)
    cfg["nets"] = {
        "g": {"name": "infogan-g", "base_channels": 4, "hidden": 16},
        "d": {"name": "infogan-d", "base_channels": 4, "hidden": 16, "aux_hidden": 8},
    }
    built = build(load_config(cfg))
    d = built.algorithm.nets["d"]
    out = d(built.dataset.batch(torch.arange(6))["real"])
    assert out.aux.shape == (6, 6) and out.features.shape == (6, 16)
    assert isinstance(d.aux_head, torch.nn.Sequential)  # Q: FC 8 - BN - lReLU - FC 6
    assert built.algorithm.loss("d", built.dataset.batch(torch.arange(16)), 0).loss.isfinite()
    slopes = {m.negative_slope for m in d.modules() if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.2}  # DCGAN's slope unless asked
    cfg["nets"]["d"]["negative_slope"] = 0.01  # the authors' code
    d = build(load_config(cfg)).algorithm.nets["d"]
    leaky = [m for m in d.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert len(leaky) == 4 and {m.negative_slope for m in leaky} == {0.01}  # trunk 3 + Q 1
    del cfg["nets"]["d"]["negative_slope"]
    cfg["nets"]["d"]["aux_dim"] = 8  # the learned-std layout, but learn_std is False
    with pytest.raises(ConfigError, match="aux_dim"):
        build(load_config(cfg))


def test_infogan_uniform_noise_trains_and_exports(
    tiny_digits: dict[str, Any], tmp_path: Path
) -> None:
    from ganforge.engine.run import train

    cfg = _cfg(tiny_digits, noise="uniform")
    cfg["train"].update(steps=2, ckpt_every=2, sample_every=2)
    algo = build(load_config(copy.deepcopy(cfg))).algorithm
    z = algo.noise(4000)
    assert z.min() >= -1 and z.max() <= 1 and abs(z.var().item() - 1 / 3) < 0.02
    run = train(cfg, out=tmp_path / "run", progress=False)
    gen = load(run)
    assert gen.latent_distribution == "uniform"
    assert gen.sample(3, seed=0).shape == (3, 1, 16, 16)
    assert gen.traverse(0, steps=2).shape == (4 * 2, 1, 16, 16)


def test_infogan_refuses_no_code_and_replay(tiny_digits: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="needs a code"):
        build(load_config(_cfg(tiny_digits, categorical=0, continuous=0)))
    cfg = _cfg(tiny_digits)
    cfg["techniques"] = [{"name": "replay"}]
    with pytest.raises(ConfigError, match="replay"):
        build(load_config(cfg))


def test_infogan_contract_resume_and_codes(
    tiny_digits: dict[str, Any], tmp_path: Path, exact_resume: Callable[..., Path]
) -> None:
    cfg = _cfg(tiny_digits)
    full = exact_resume(cfg, 4)
    gen = load(full)
    assert gen.codes == (4, 2)
    assert gen.sample(5, seed=1).shape == (5, 1, 16, 16)
    grid = gen.traverse(1, steps=6)
    assert grid.shape == (4 * 6, 1, 16, 16)
    assert not torch.equal(grid[0], grid[5])  # the code moves along the row
    assert gen.traverse(None, steps=3).shape == (12, 1, 16, 16)
    with pytest.raises(ConfigError, match=r"0\.\.1"):
        gen.traverse(2)
    out = tmp_path / "codes.png"
    assert main(["sample", str(full), "--code", "0", "--out", str(out)]) == 0 and out.is_file()
    assert main(["sample", str(full), "--code", "cat", "--out", str(out)]) == 0
    assert main(["sample", str(full), "--code", "x", "--out", str(out)]) != 0


def test_cluster_accuracy_finds_the_best_mapping() -> None:
    from ganforge.metrics.clustering import cluster_accuracy

    labels = [0, 0, 1, 1, 2, 2]
    acc, mapping = cluster_accuracy([2, 2, 0, 0, 1, 1], labels)  # a relabelling: all right
    assert acc == 1.0 and mapping == {2: 0, 0: 1, 1: 2}
    acc, _ = cluster_accuracy([0, 0, 0, 0, 1, 1], labels)  # one cluster for two labels
    assert acc == pytest.approx(4 / 6)
    acc, _ = cluster_accuracy([0, 1, 2, 3, 4, 5], labels)  # more clusters than labels
    assert acc == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="length"):
        cluster_accuracy([0], [0, 1])
