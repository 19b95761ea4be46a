"""pix2pix, CycleGAN, DualGAN, DiscoGAN: losses by hand on tiny hand-made networks,
phases, the image pools, refusals and the sampling panels."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.algorithms.cyclegan import CycleGAN
from ganforge.algorithms.discogan import DiscoGAN
from ganforge.algorithms.dualgan import DualGAN
from ganforge.algorithms.pix2pix import Pix2Pix
from ganforge.algorithms.translation import critic_terms, reconstruction
from ganforge.data.base import TensorDataset
from ganforge.errors import ConfigError
from ganforge.nets.base import CriticOutput
from ganforge.registry import OBJECTIVES, PENALTIES


class Scale(nn.Module):
    """G(x) = w x (+ channel change by repetition/mean): a translator with one weight."""

    def __init__(self, w: float, out_channels: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.out_channels:
            x = x.mean(1, keepdim=True).expand(-1, self.out_channels, -1, -1)
        return self.w * x


class PatchMean(nn.Module):
    """A patch critic: score (N, H, W) = v * channel mean; features (N, C) = spatial means."""

    def __init__(self, v: float) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.tensor(v))

    def forward(self, x: torch.Tensor) -> CriticOutput:
        return CriticOutput(self.v * x.mean(1), features=self.v * x.mean((2, 3)))


def _obj(name: str) -> Any:
    return OBJECTIVES.build({"name": name})


def _images(n: int, c: int, seed: int) -> torch.Tensor:
    return torch.rand(n, c, 4, 4, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _paired(n: int = 6) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    return TensorDataset(
        "toy-pairs",
        "images",
        {
            "real": torch.randint(0, 256, (n, 3, 4, 4), dtype=torch.uint8, generator=g),
            "source": torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=g),
        },
        aliases={"target": "real"},
    )


def _unpaired(n: int = 6, ca: int = 3) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(
        "toy-unpaired",
        "images",
        {
            "real": torch.randint(0, 256, (n, 3, 4, 4), dtype=torch.uint8, generator=g),
            "a": torch.randint(0, 256, (n, ca, 4, 4), dtype=torch.uint8, generator=g),
        },
        aliases={"b": "real"},
    )


def test_reconstruction_distances_and_unknown_name() -> None:
    x, y = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0, 1.0]])
    assert reconstruction("l1")(x, y).item() == pytest.approx(1.5)  # (1 + 2) / 2
    assert reconstruction("mse")(x, y).item() == pytest.approx(2.5)  # (1 + 4) / 2
    with pytest.raises(ConfigError, match="l1"):
        reconstruction("l2")


def test_pix2pix_losses_by_hand() -> None:
    g, d = Scale(0.5, 3), PatchMean(2.0)
    algo = Pix2Pix({"g": g, "d": d}, _obj("ns"), l1_weight=100.0)
    assert [p.name for p in algo.phases()] == ["d", "g"]
    src, tgt = _images(2, 1, 0), _images(2, 3, 1)
    batch = {"source": src, "real": tgt, "target": tgt}
    fake = 0.5 * src.expand(-1, 3, -1, -1)
    # The critic sees cat(source, image): score = 2 * mean over the 4 channels.
    s_real = 2.0 * torch.cat([src, tgt], 1).mean(1)
    s_fake = 2.0 * torch.cat([src, fake], 1).mean(1)
    want_d = 0.5 * (F.softplus(-s_real).mean() + F.softplus(s_fake).mean())  # d_scale 1/2
    assert algo.loss("d", batch, 0).loss.item() == pytest.approx(want_d.item(), rel=1e-6)
    want_g = F.softplus(-s_fake).mean() + 100.0 * (fake - tgt).abs().mean()
    out = algo.loss("g", batch, 0)
    assert out.loss.item() == pytest.approx(want_g.item(), rel=1e-6)
    assert out.logs["g/l1"].item() == pytest.approx((fake - tgt).abs().mean().item(), rel=1e-6)


def test_pix2pix_unconditional_critic_and_l1_only_baseline() -> None:
    g, d = Scale(0.5, 3), PatchMean(2.0)
    src, tgt = _images(2, 1, 0), _images(2, 3, 1)
    batch = {"source": src, "real": tgt}
    algo = Pix2Pix({"g": g, "d": d}, _obj("lsgan"), conditional=False, d_scale=1.0)
    fake = 0.5 * src.expand(-1, 3, -1, -1)
    s_real, s_fake = 2.0 * tgt.mean(1), 2.0 * fake.mean(1)
    want = 0.5 * ((s_real - 1) ** 2).mean() + 0.5 * (s_fake**2).mean()  # LSGAN a=0, b=1
    assert algo.loss("d", batch, 0).loss.item() == pytest.approx(want.item(), rel=1e-6)
    base = Pix2Pix({"g": g, "d": d}, _obj("ns"), adv_weight=0.0, l1_weight=1.0)
    assert [p.name for p in base.phases()] == ["g"]
    assert base.loss("g", batch, 0).loss.item() == pytest.approx((fake - tgt).abs().mean().item())


def test_cyclegan_generator_loss_by_hand() -> None:
    g, f = Scale(0.5, 3), Scale(2.0, 3)
    d_b, d_a = PatchMean(1.0), PatchMean(-1.0)
    algo = CycleGAN({"g": g, "f": f, "d_b": d_b, "d_a": d_a}, _obj("lsgan"), identity_weight=0.5)
    a, b = _images(3, 3, 2), _images(3, 3, 3)
    batch = {"a": a, "real": b, "b": b}
    ga, fb = 0.5 * a, 2.0 * b
    adv = 0.5 * ((ga.mean(1) - 1) ** 2).mean() + 0.5 * ((-fb.mean(1) - 1) ** 2).mean()
    cyc = (2.0 * ga - a).abs().mean() + (0.5 * fb - b).abs().mean()  # F(G(a)) = a exactly
    idt = (0.5 * b - b).abs().mean() + (2.0 * a - a).abs().mean()
    want = adv + 10.0 * cyc + 0.5 * 10.0 * idt
    out = algo.loss("g", batch, step=0)
    assert out.loss.item() == pytest.approx(want.item(), rel=1e-6)
    assert out.logs["g/cycle"].item() == pytest.approx(0.0, abs=1e-7)


def test_cyclegan_cycle_noise_by_hand() -> None:
    # Exact inverses g, f: without noise the cycle is 0; with noise sigma the cycle reads
    # G(a) + e, so F(G(a) + e) - a = 2 e and G(F(b) + e') - b = e' / 2: the cycle loss is
    # |2 e|_1 + |e' / 2|_1, whose mean is (2 + 1/2) sigma sqrt(2 / pi) (E|N(0, 1)| = sqrt(2/pi)).
    g, f = Scale(0.5, 3), Scale(2.0, 3)
    nets = {"g": g, "f": f, "d_b": PatchMean(1.0), "d_a": PatchMean(-1.0)}
    a, b = _images(3, 3, 2), _images(3, 3, 3)
    batch = {"a": a, "real": b, "b": b}
    algo = CycleGAN(nets, _obj("lsgan"), cycle_noise=0.1)
    torch.manual_seed(5)
    out = algo.loss("g", batch, step=0)
    torch.manual_seed(5)
    e1, e2 = torch.randn(a.shape), torch.randn(b.shape)  # the same draws, in the same order
    want = (2.0 * 0.1 * e1).abs().mean() + (0.5 * 0.1 * e2).abs().mean()
    assert out.logs["g/cycle"].item() == pytest.approx(want.item(), rel=1e-6)
    big = torch.stack([algo.loss("g", batch, step=0).logs["g/cycle"] for _ in range(200)])
    assert big.mean().item() == pytest.approx(2.5 * 0.1 * (2 / torch.pi) ** 0.5, rel=0.02)
    # the adversarial terms see the clean translations: the loss less the cycle term is
    # the noiseless algorithm's
    clean = CycleGAN(nets, _obj("lsgan")).loss("g", batch, step=0)
    adv = out.loss - 10.0 * out.logs["g/cycle"]
    assert adv.item() == pytest.approx(clean.loss.item(), rel=1e-6)


def test_cyclegan_critics_use_this_steps_fakes_through_the_pool() -> None:
    g, f = Scale(0.5, 3), Scale(2.0, 3)
    d_b, d_a = PatchMean(1.0), PatchMean(-1.0)
    algo = CycleGAN({"g": g, "f": f, "d_b": d_b, "d_a": d_a}, _obj("lsgan"), pool_size=50)
    assert [p.name for p in algo.phases()] == ["g", "d"]  # generators first
    a, b = _images(3, 3, 2), _images(3, 3, 3)
    batch = {"a": a, "real": b}
    algo.loss("g", batch, step=7)
    with torch.no_grad():
        g.w.fill_(-3.0)  # were the critics to translate afresh, they would see -3 a
    loss = algo.loss("d", batch, step=7).loss
    ga, fb = 0.5 * a, 2.0 * b  # the pool is filling: the newest fakes are used as they are

    def ls(real: torch.Tensor, fake: torch.Tensor, v: float) -> torch.Tensor:
        return 0.5 * ((v * real.mean(1) - 1) ** 2).mean() + 0.5 * ((v * fake.mean(1)) ** 2).mean()

    want = 0.5 * (ls(b, ga, 1.0) + ls(a, fb, -1.0))
    assert loss.item() == pytest.approx(want.item(), rel=1e-6)
    assert len(algo.pools["b"]) == 3 and torch.equal(algo.pools["b"].items, ga)
    # A critic-only step (no generator phase at this step) translates afresh.
    algo.loss("d", batch, step=8)
    assert torch.equal(algo.pools["b"].items[3:], -3.0 * a)


def test_cyclegan_pool_state_round_trips() -> None:
    nets = {"g": Scale(0.5, 3), "f": Scale(2.0, 3), "d_b": PatchMean(1.0), "d_a": PatchMean(1.0)}
    algo = CycleGAN(nets, _obj("lsgan"), pool_size=4)
    assert algo.state_dict() == {}
    batch = {"a": _images(3, 3, 2), "real": _images(3, 3, 3)}
    algo.loss("g", batch, 0)
    algo.loss("d", batch, 0)
    state = algo.state_dict()
    other = CycleGAN(dict(nets), _obj("lsgan"), pool_size=4)
    other.load_state_dict(state)
    assert torch.equal(other.pools["a"].items, algo.pools["a"].items)
    with pytest.raises(ValueError, match="pool_size=0"):
        CycleGAN(dict(nets), _obj("lsgan"), pool_size=0).load_state_dict(state)


def test_dualgan_and_discogan_defaults() -> None:
    nets = {"g": Scale(0.5, 3), "f": Scale(2.0, 3), "d_b": PatchMean(1.0), "d_a": PatchMean(1.0)}
    dual = DualGAN(
        dict(nets), _obj("wgan"), [PENALTIES.build({"name": "weight-clip", "bound": 0.01})]
    )
    assert (dual.cycle_weight, dual.pools, dual.d_scale, dual.n_critic) == (100.0, {}, 1.0, 2)
    assert [(p.name, p.every) for p in dual.phases()] == [("g", 2), ("d", 1)]
    a, b = _images(2, 3, 4), _images(2, 3, 5)
    # WGAN critic loss, both critics, not halved: E[D(fake)] - E[D(real)]
    want = (0.5 * a).mean() - b.mean() + (2.0 * b).mean() - a.mean()
    assert dual.loss("d", {"a": a, "real": b}, 1).loss.item() == pytest.approx(
        want.item(), rel=1e-5
    )
    # Clipping projects both critics after their step.
    with torch.no_grad():
        nets["d_b"].v.fill_(1.0)
        nets["d_a"].v.fill_(-1.0)
    dual.after_step("d", 1)
    assert nets["d_b"].v.item() == pytest.approx(0.01) and nets["d_a"].v.item() == pytest.approx(
        -0.01
    )
    disco = DiscoGAN(dict(nets), _obj("ns"))
    assert (disco.cycle_kind, disco.cycle_weight, disco.pools) == ("mse", 1.0, {})


@pytest.mark.parametrize("variant", [DualGAN, DiscoGAN])
def test_variants_take_every_cyclegan_option(variant: type) -> None:
    # The variants only change defaults: an option added to CycleGAN must reach them too.
    options = set(inspect.signature(CycleGAN.__init__).parameters)
    assert set(inspect.signature(variant.__init__).parameters) == options
    nets = {"g": Scale(0.5, 3), "f": Scale(2.0, 3), "d_b": PatchMean(1.0), "d_a": PatchMean(1.0)}
    assert variant(nets, _obj("ns"), cycle_noise=0.25).cycle_noise == 0.25


def test_refusals_teach() -> None:
    nets = {"g": Scale(0.5, 3), "d": PatchMean(1.0)}
    with pytest.raises(ConfigError, match="stateful"):
        Pix2Pix(dict(nets), _obj("fisher"))
    with pytest.raises(ConfigError, match="techniques"):
        Pix2Pix(dict(nets), _obj("ns"), techniques=[object()])
    algo = Pix2Pix(dict(nets), _obj("ns"))
    toy = TensorDataset("ring", "points", {"real": torch.zeros(4, 2)})
    with pytest.raises(ConfigError, match="translation dataset"):
        algo.attach_data(toy)
    cyc = {"g": Scale(1.0, 3), "f": Scale(1.0, 1), "d_b": PatchMean(1.0), "d_a": PatchMean(1.0)}
    with pytest.raises(ConfigError, match="identity_weight"):
        CycleGAN(cyc, _obj("lsgan"), identity_weight=0.5).attach_data(_unpaired(ca=1))


def test_sampling_draws_seeded_examples_and_panels() -> None:
    algo = Pix2Pix({"g": Scale(0.5, 3), "d": PatchMean(1.0)}, _obj("ns"))
    algo.attach_data(_paired())
    x1 = algo.sample(4, generator=torch.Generator().manual_seed(3))
    x2 = algo.sample(4, generator=torch.Generator().manual_seed(3))
    assert x1.shape == (4, 3, 4, 4) and torch.equal(x1, x2)
    cols = algo.panel(4, generator=torch.Generator().manual_seed(3))
    assert [tuple(c.shape) for c in cols] == [(4, 3, 4, 4)] * 3
    assert torch.equal(cols[1], x1)
    assert algo.export_spec() == {
        "translate": {"source": "source", "in_shape": [1, 4, 4], "out_shape": [3, 4, 4]}
    }
    cyc = CycleGAN(
        {"g": Scale(0.5, 3), "f": Scale(2.0, 3), "d_b": PatchMean(1.0), "d_a": PatchMean(1.0)},
        _obj("lsgan"),
    )
    cyc.attach_data(_unpaired())
    assert len(cyc.panel(2, generator=torch.Generator().manual_seed(0))) == 6


def test_critic_terms_adds_penalties() -> None:
    d = PatchMean(1.0)
    real, fake = _images(2, 3, 6), _images(2, 3, 7)
    gp = PENALTIES.build({"name": "gradient-penalty", "weight": 10.0})
    base, _, _ = critic_terms(_obj("wgan"), [], d, real, fake)
    with_gp, _, _ = critic_terms(_obj("wgan"), [gp], d, real, fake)
    # Patch scores s_hw = mean_c x_chw: the penalty differentiates the sum of a sample's
    # patch scores (as StarGAN's implementation does, grad_outputs = ones), whose gradient
    # is 1/3 at each of the 48 inputs: 10 (|grad| - 1)^2 with |grad| = sqrt(48 / 9).
    want = 10.0 * ((48 / 9) ** 0.5 - 1) ** 2
    assert (with_gp - base).item() == pytest.approx(want, rel=1e-4)
