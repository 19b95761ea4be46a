"""Techniques wired through the algorithm hooks: targets, feature matching, replay,
historical averaging and the unrolled GAN (hand-computed values, smoke trains on ring8,
exact resume)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.func import functional_call

from ganforge.algorithms.unrolled import adam_lookahead
from ganforge.config import load_config
from ganforge.engine.run import build, train
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.objectives.original import gan_d_loss, gan_d_loss_targets
from ganforge.techniques.feature_matching import FeatureMatching, feature_matching_loss
from ganforge.techniques.history import HistoricalAveraging
from ganforge.techniques.labels import LabelFlip, LabelSmoothing
from ganforge.techniques.replay import ReplayBuffer


def _with(cfg: dict[str, Any], *techniques: dict[str, Any], **algo: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    cfg["techniques"] = list(techniques)
    cfg["algorithm"].update(algo)
    cfg["nets"]["d"]["dropout"] = 0.0  # deterministic critic for value checks
    return cfg


# -- label smoothing / flipping ------------------------------------------------------------
def test_bce_with_targets_one_and_zero_is_the_gan_critic_loss() -> None:
    r, f = torch.randn(7), torch.randn(7)
    assert torch.allclose(gan_d_loss_targets(r, f, torch.ones(7), torch.zeros(7)), gan_d_loss(r, f))
    # hand value: logit 0 with target 0.9 -> log 2; logit 0 with target 0 -> log 2
    z = torch.zeros(3)
    expect = 2 * torch.log(torch.tensor(2.0))
    assert torch.allclose(gan_d_loss_targets(z, z, torch.full((3,), 0.9), torch.zeros(3)), expect)


def test_label_smoothing_targets() -> None:
    ones, zeros = torch.ones(4000), torch.zeros(4000)
    r, f = LabelSmoothing(real=0.1).critic_targets(ones, zeros, 0)
    assert torch.all(r == 0.9) and torch.all(f == 0.0)
    r, f = LabelSmoothing(real=0.1, fake=0.2).critic_targets(ones, zeros, 0)
    assert torch.allclose(r, torch.full_like(r, 0.9)) and torch.allclose(f, torch.full_like(f, 0.2))
    r, f = LabelSmoothing(real_range=(0.7, 1.0), fake_range=(0.0, 0.3)).critic_targets(
        ones, zeros, 0
    )
    assert r.min() >= 0.7 and r.max() <= 1.0 and r.mean().item() == pytest.approx(0.85, abs=0.01)
    assert f.min() >= 0.0 and f.max() <= 0.3 and f.mean().item() == pytest.approx(0.15, abs=0.01)
    with pytest.raises(ValueError, match="real_range"):
        LabelSmoothing(real_range=(0.9, 0.7))


def test_label_flip_flips_about_p() -> None:
    torch.manual_seed(0)
    r, f = LabelFlip(p=0.2).critic_targets(torch.ones(20000), torch.zeros(20000), 0)
    assert (r == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert (f == 1).float().mean().item() == pytest.approx(0.2, abs=0.01)
    r, f = LabelFlip(p=0.2, fake=False).critic_targets(torch.ones(10), torch.zeros(10), 0)
    assert torch.all(f == 0)


def test_smoothing_reaches_the_critic_loss(tiny_ring8: dict[str, Any]) -> None:
    cfg = _with(tiny_ring8, {"name": "label-smoothing", "real": 0.1})
    built = build(load_config(cfg))
    outs: list[torch.Tensor] = []
    built.algorithm.nets["d"].register_forward_hook(lambda m, i, o: outs.append(o.score))
    torch.manual_seed(0)
    loss = built.algorithm.loss("d", built.dataset.batch(torch.arange(16)), step=0).loss
    expect = gan_d_loss_targets(outs[0], outs[1], torch.full((16,), 0.9), torch.zeros(16))
    assert torch.allclose(loss, expect)
    assert not torch.allclose(loss, gan_d_loss(outs[0], outs[1]))


def test_target_techniques_are_refused_where_they_cannot_work(tiny_ring8: dict[str, Any]) -> None:
    cfg = _with(tiny_ring8, {"name": "label-smoothing"})
    cfg["objective"] = {"name": "wgan"}
    with pytest.raises(ConfigError, match=r"label-smoothing.*'wgan'.*minimax, ns, ml"):
        build(load_config(cfg))
    cfg = _with(tiny_ring8, {"name": "label-flip"}, {"name": "label-smoothing"})
    with pytest.raises(ConfigError, match="list it first"):
        build(load_config(cfg))


# -- feature matching ----------------------------------------------------------------------
def test_feature_matching_loss_by_hand() -> None:
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0], [1.0, 1.0]])  # mean (1, 1)
    assert feature_matching_loss(real, fake).item() == pytest.approx(1.0 + 4.0)
    out_r, out_f = CriticOutput(torch.zeros(2), real), CriticOutput(torch.zeros(3), fake)
    g = torch.tensor(0.5)
    assert FeatureMatching(weight=2.0).generator_loss(g, out_r, out_f).item() == pytest.approx(10)
    added = FeatureMatching(replace=False).generator_loss(g, out_r, out_f)
    assert added.item() == pytest.approx(5.5)
    with pytest.raises(ValueError, match=r"CriticOutput\.features"):
        FeatureMatching().generator_loss(g, CriticOutput(torch.zeros(2)), out_f)


def test_feature_matching_is_the_generator_loss(tiny_ring8: dict[str, Any]) -> None:
    built = build(load_config(_with(tiny_ring8, {"name": "feature-matching"})))
    feats: list[torch.Tensor] = []
    built.algorithm.nets["d"].register_forward_hook(lambda m, i, o: feats.append(o.features))
    loss = built.algorithm.loss("g", built.dataset.batch(torch.arange(16)), step=0).loss
    fake_f, real_f = feats
    assert torch.allclose(loss, (real_f.mean(0) - fake_f.mean(0)).pow(2).sum())


# -- experience replay ---------------------------------------------------------------------
def test_replay_buffer_fills_then_swaps() -> None:
    torch.manual_seed(0)
    pool = ReplayBuffer(size=6, p=1.0)
    a = torch.arange(4.0)[:, None]
    assert torch.equal(pool(a), a) and len(pool) == 4  # filling: used as is
    b = 10 + torch.arange(4.0)[:, None]
    out = pool(b)
    # two fill the pool and are used as is; with p = 1 the other two are swapped for
    # stored samples (which they replace)
    assert torch.equal(out[:2], b[:2]) and len(pool) == 6
    stored_before = {0.0, 1.0, 2.0, 3.0, 10.0, 11.0}
    assert set(out[2:, 0].tolist()) <= stored_before
    assert {12.0, 13.0} <= set(pool.items[:, 0].tolist())
    keep = ReplayBuffer(size=6, p=0.0)
    keep(a)
    keep(b)
    assert torch.equal(keep(b + 100), b + 100)  # p = 0: never swapped
    clone = ReplayBuffer(size=6, p=1.0)
    clone.load_state_dict(pool.state_dict())
    assert torch.equal(clone.items, pool.items)
    with pytest.raises(ValueError, match="more than size"):
        ReplayBuffer(size=2).load_state_dict(pool.state_dict())


def test_replay_feeds_old_fakes_to_the_critic(tiny_ring8: dict[str, Any]) -> None:
    cfg = _with(tiny_ring8, {"name": "replay", "size": 16, "p": 1.0})
    built = build(load_config(cfg))
    seen: list[torch.Tensor] = []
    built.algorithm.nets["d"].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    batch = built.dataset.batch(torch.arange(16))
    built.algorithm.loss("d", batch, step=0)
    first_fakes = seen[1].clone()
    built.algorithm.loss("d", batch, step=1)
    # pool full after the first batch: with p = 1 every fake of the second is swapped for
    # a stored one: an old fake, or a new one stored by an earlier swap into the same slot
    stored = {tuple(r) for r in first_fakes.tolist()}
    old = sum(tuple(r) in stored for r in seen[3].tolist())
    assert 6 <= old <= 16


# -- historical averaging ------------------------------------------------------------------
def test_historical_average_is_the_mean_of_past_weights() -> None:
    net = torch.nn.Linear(2, 1)
    ha = HistoricalAveraging(weight=0.5, players=["d"])
    snaps = []
    for _ in range(3):
        snaps.append(net.weight.detach().clone())
        assert ha.parameter_loss("d", net) is not None
        with torch.no_grad():
            net.weight.add_(torch.randn_like(net.weight))
        ha.after_step("d", net)
    snaps.append(net.weight.detach().clone())
    mean = torch.stack(snaps).mean(0)
    assert torch.allclose(ha.average["d"]["weight"], mean)
    loss = ha.parameter_loss("d", net)
    assert loss is not None
    assert loss.item() == pytest.approx(0.5 * (net.weight - mean).pow(2).sum().item(), rel=1e-5)
    assert ha.parameter_loss("g", net) is None  # not a player
    ema = HistoricalAveraging(players=["d"], decay=0.9)
    ema.parameter_loss("d", net)
    before = ema.average["d"]["weight"].clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.after_step("d", net)
    assert torch.allclose(ema.average["d"]["weight"], 0.9 * before + 0.1 * net.weight)


# -- unrolled GAN --------------------------------------------------------------------------
def test_adam_lookahead_matches_torch_adam() -> None:
    torch.manual_seed(0)
    p = torch.randn(5, requires_grad=True)
    grads = [torch.randn(5) for _ in range(3)]
    opt = torch.optim.Adam([p], lr=0.01, betas=(0.5, 0.999))
    params = {"w": p.detach().clone()}
    moments = {"w": (torch.zeros(5), torch.zeros(5))}
    for t, g in enumerate(grads, start=1):
        p.grad = g.clone()
        opt.step()
        params, moments = adam_lookahead(params, {"w": g}, moments, t, 0.01, (0.5, 0.999))
    assert torch.allclose(params["w"], p.detach(), atol=1e-6)


def test_adam_lookahead_backward_equals_autograd_of_the_formula() -> None:
    # the hand-written backward of the fused step against autograd through the plain
    # expression, for two look-ahead steps in float64 (the second one's moments carry
    # graph from the first); then torch's numerical gradient check
    torch.manual_seed(0)
    b1, b2, lr, eps = 0.8, 0.999, 0.01, 1e-8

    def plain(p: torch.Tensor, gs: list[torch.Tensor]) -> torch.Tensor:
        m = v = torch.zeros_like(p)
        for t, g in enumerate(gs, start=1):
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            p = p - lr * (m / (1 - b1**t)) / (v / (1 - b2**t) + eps * eps).sqrt()
        return p

    def fused(p: torch.Tensor, gs: list[torch.Tensor]) -> torch.Tensor:
        params, moments = {"w": p}, {"w": (torch.zeros_like(p), torch.zeros_like(p))}
        for t, g in enumerate(gs, start=1):
            params, moments = adam_lookahead(params, {"w": g}, moments, t, lr, (b1, b2), eps)
        return params["w"]

    p = torch.randn(7, dtype=torch.float64, requires_grad=True)
    gs = [torch.randn(7, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    w = torch.randn(7, dtype=torch.float64)
    assert torch.allclose(fused(p, gs), plain(p, gs), rtol=0, atol=1e-14)
    ref = torch.autograd.grad((plain(p, gs) * w).sum(), [p, *gs])
    got = torch.autograd.grad((fused(p, gs) * w).sum(), [p, *gs])
    for a, b in zip(got, ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda p, g1, g2: fused(p, [g1, g2]), (p, *gs))


def _unrolled(tiny_ring8: dict[str, Any], **kw: Any) -> Any:
    cfg = _with(tiny_ring8, name="unrolled", n_critic=1, **kw)
    return build(load_config(cfg)).algorithm


def test_unrolled_step_leaves_the_critic_untouched_and_looks_ahead(
    tiny_ring8: dict[str, Any],
) -> None:
    algo = _unrolled(tiny_ring8, unroll_steps=1, unroll_optimizer="sgd", unroll_lr=0.5)
    d = algo.nets["d"]
    before = {k: v.clone() for k, v in d.state_dict().items()}
    torch.manual_seed(0)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    critic = algo.generator_critic(real, fake, step=0)
    assert all(torch.equal(before[k], v) for k, v in d.state_dict().items())  # restored
    # by hand: one SGD step on the critic loss, theta - lr * grad
    params = {n: p.detach().requires_grad_(True) for n, p in d.named_parameters()}
    loss = gan_d_loss(
        functional_call(d, params, (real,)).score, functional_call(d, params, (fake,)).score
    )
    grads = torch.autograd.grad(loss, list(params.values()))
    ahead = {n: p - 0.5 * g for (n, p), g in zip(params.items(), grads, strict=True)}
    x = torch.randn(5, 2)
    assert torch.allclose(critic(x).score, functional_call(d, ahead, (x,)).score, atol=1e-6)
    assert not torch.allclose(critic(x).score, d(x).score)


def test_unrolled_generator_gradient_goes_through_the_updates(tiny_ring8: dict[str, Any]) -> None:
    grads = {}
    for second in (True, False):
        algo = _unrolled(tiny_ring8, unroll_steps=3, second_order=second, unroll_lr=0.05)
        batch = {"real": torch.randn(16, 2)}
        torch.manual_seed(1)
        algo.nets["d"].requires_grad_(False)  # as the engine does in the g phase
        loss = algo.loss("g", batch, step=0).loss
        g_params = list(algo.nets["g"].parameters())
        grads[second] = torch.cat([g.flatten() for g in torch.autograd.grad(loss, g_params)])
        assert all(p.grad is None for p in algo.nets["d"].parameters())
    assert torch.isfinite(grads[True]).all()
    # the second-order term is real: the two gradients differ, but not wildly
    rel = (grads[True] - grads[False]).norm() / grads[False].norm()
    assert 1e-4 < rel.item() < 10


def test_unrolled_look_ahead_sees_packed_real_inputs(tiny_ring8: dict[str, Any]) -> None:
    # PacGAN + unrolled: the look-ahead critic trains on packed (real, fake) pairs, so the
    # generator's phase must pack the real batch too (it once passed it unpacked).
    algo = _unrolled(tiny_ring8, unroll_steps=1, pack=2)
    seen = []
    look = algo.generator_critic

    def spy(real: torch.Tensor, fake: torch.Tensor, step: int, batch: Any = None) -> Any:
        seen.append((real.shape, fake.shape))
        return look(real, fake, step, batch)

    algo.generator_critic = spy
    algo.nets["d"].requires_grad_(False)
    loss = algo.loss("g", {"real": torch.randn(16, 2)}, step=0).loss
    assert seen == [((8, 4), (8, 4))]
    assert torch.isfinite(loss)


# -- smoke trains on ring8 and exact resume ------------------------------------------------
SMOKE: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    "label-smoothing": ([{"name": "label-smoothing", "real_range": [0.7, 1.0]}], {}),
    "label-flip": ([{"name": "label-smoothing"}, {"name": "label-flip", "p": 0.1}], {}),
    "feature-matching": ([{"name": "feature-matching"}], {}),
    "replay": ([{"name": "replay", "size": 64}], {}),
    "historical-averaging": ([{"name": "historical-averaging", "weight": 0.01}], {}),
    "instance-noise": ([{"name": "instance-noise", "std": 0.1, "anneal_steps": 10}], {}),
    "unrolled": ([], {"name": "unrolled", "unroll_steps": 2}),
    "pack": ([], {"pack": 2}),
    "unrolled-pack": ([], {"name": "unrolled", "unroll_steps": 2, "pack": 2}),
    # option-style techniques: set on the networks / optimizers (see ``NET_OPTIONS``)
    "spectral-norm": ([], {}),
    "ttur": ([], {}),
    "ema": ([], {}),
}
NET_OPTIONS: dict[str, dict[str, Any]] = {
    "spectral-norm": {"nets": {"d": {"spectral_norm": True}}},
    "ttur": {"optim": {"d": {"lr": 4e-4}, "g": {"lr": 1e-4}}},
    "ema": {"train": {"ema": 0.99, "ema_start": 0}},
}


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_smoke_train_on_ring8(name: str, tiny_ring8: dict[str, Any], tmp_path: Path) -> None:
    techniques, algo = SMOKE[name]
    cfg = _with(tiny_ring8, *techniques, **algo)
    cfg["train"].update(steps=12, ckpt_every=6, sample_every=6, log_every=3)
    for section, values in NET_OPTIONS.get(name, {}).items():
        for key, value in values.items():
            if isinstance(value, dict):
                cfg[section][key].update(value)
            else:
                cfg[section][key] = value
    run = train(cfg, out=tmp_path / name, progress=False)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [v for r in rows for k, v in r.items() if k.startswith("loss/")]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    assert (run / "generator.safetensors").is_file()


def test_stateful_techniques_resume_exactly(
    tiny_ring8: dict[str, Any], exact_resume: Callable[..., Path]
) -> None:
    cfg = _with(
        tiny_ring8,
        {"name": "label-smoothing", "real_range": [0.7, 1.0]},
        {"name": "label-flip", "p": 0.1},
        {"name": "replay", "size": 40, "p": 0.5},
        {"name": "historical-averaging", "weight": 0.01},
        name="unrolled",
        unroll_steps=2,
    )
    cfg["nets"]["d"]["dropout"] = 0.1  # randomness in the look-ahead passes too
    cfg["train"].update(steps=16, ckpt_every=8, lr_schedule="constant")
    exact_resume(cfg, 8)
