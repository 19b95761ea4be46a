"""StarGAN, SRGAN, SegAN: losses by hand on tiny hand-made networks, phases, refusals,
content networks, the multi-scale L1 loss and the sampling panels."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.algorithms.segan import SegAN, multiscale_l1, soft_dice
from ganforge.algorithms.srgan import (
    SRGAN,
    InceptionContent,
    LeNetContent,
    content_loss,
    parse_content,
)
from ganforge.algorithms.stargan import StarGAN
from ganforge.data.base import TensorDataset
from ganforge.errors import ConfigError
from ganforge.metrics.classifier import LeNet
from ganforge.nets.base import CriticOutput
from ganforge.registry import ALGORITHMS, OBJECTIVES, PENALTIES


def _obj(name: str) -> Any:
    return OBJECTIVES.build({"name": name})


def _lse(*v: float) -> float:
    return math.log(sum(math.exp(x) for x in v))


def _u8(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)


def test_registered_with_their_papers() -> None:
    for name, cls in (("stargan", StarGAN), ("srgan", SRGAN), ("segan", SegAN)):
        assert ALGORITHMS.get(name) is cls
        assert ALGORITHMS.entry(name).paper


# -- StarGAN --------------------------------------------------------------------------------
class DomainShift(nn.Module):
    """G(x, y) = w x + e_y: one scale, one offset per domain."""

    def __init__(self, w: float, offsets: list[float]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.e = nn.Parameter(torch.tensor(offsets))
        self.num_domains = len(offsets)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.w * x + self.e[y][:, None, None, None]


class DomainCritic(nn.Module):
    """score (N, H, W) = v * channel mean; aux (N, K) = mean(x) * u."""

    def __init__(self, v: float, u: list[float], aux: bool = True) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.tensor(v))
        self.u = nn.Parameter(torch.tensor(u, dtype=torch.float32))
        self.aux = aux

    def forward(self, x: torch.Tensor) -> CriticOutput:
        aux = x.mean((1, 2, 3))[:, None] * self.u if self.aux else None
        return CriticOutput(self.v * x.mean(1), aux=aux)


def _stargan(**kw: Any) -> StarGAN:
    nets = {"g": DomainShift(2.0, [0.0, 0.1, -0.2]), "d": DomainCritic(1.5, [0.0, 1.0, 2.0])}
    return StarGAN(nets, _obj("wgan"), **kw)


def _domains(n: int = 6, k: int = 3, c: int = 1) -> TensorDataset:
    return TensorDataset(
        "toy-domains",
        "images",
        {"real": _u8(n, c, 4, 4, seed=0), "label": torch.arange(n) % k},
        num_classes=k,
    )


def test_stargan_losses_by_hand() -> None:
    algo = _stargan()
    assert [(p.name, p.every) for p in algo.phases()] == [("d", 1), ("g", 5)]
    x = torch.tensor([0.5, -0.5])[:, None, None, None].expand(2, 1, 2, 2).clone()
    c_org, c_trg = torch.tensor([0, 2]), torch.tensor([1, 0])
    algo.draw_targets = lambda labels: c_trg  # type: ignore[method-assign]
    batch = {"real": x, "label": c_org}
    # fake = 2 x + e[c_trg] = 1.1 and -1.0; scores 1.5 * those: real 0.75, -0.75.
    adv_d = 1.5 * (1.1 - 1.0) / 2 - 0.0  # WGAN: E[D(fake)] - E[D(real)]
    cls_r = ((_lse(0, 0.5, 1.0) - 0.0) + (_lse(0, -0.5, -1.0) + 1.0)) / 2  # aux = m * (0, 1, 2)
    out = algo.loss("d", batch, 0)
    assert out.loss.item() == pytest.approx(adv_d + cls_r, rel=1e-6)
    assert out.logs["d/cls"].item() == pytest.approx(cls_r, rel=1e-6)
    assert out.logs["d/acc"].item() == pytest.approx(0.0)  # argmax 2 and 0: both wrong
    # G: -E[D(fake)] + CE(aux(fake), c_trg) + 10 |x - G(G(x, c), c_org)| (both errors 1.7).
    cls_f = ((_lse(0, 1.1, 2.2) - 1.1) + (_lse(0, -1.0, -2.0) - 0.0)) / 2
    want_g = -1.5 * 0.05 + cls_f + 10.0 * 1.7
    out = algo.loss("g", batch, 0)
    assert out.loss.item() == pytest.approx(want_g, rel=1e-6)
    assert out.logs["g/rec"].item() == pytest.approx(1.7, rel=1e-6)
    weighted = _stargan(cls_weight=0.0, rec_weight=1.0)
    weighted.draw_targets = lambda labels: c_trg  # type: ignore[method-assign]
    assert weighted.loss("g", batch, 0).loss.item() == pytest.approx(-0.075 + 1.7, rel=1e-6)


def test_stargan_target_draws() -> None:
    algo = _stargan()
    labels = torch.tensor([0, 0, 1, 2, 2, 2, 1, 0])
    torch.manual_seed(5)
    got = algo.draw_targets(labels)
    torch.manual_seed(5)
    assert torch.equal(got, torch.randint(3, (8,)))  # uniform over the K = 3 domains
    shuffled = _stargan(targets="shuffle").draw_targets(labels)
    assert torch.equal(shuffled.sort().values, labels.sort().values)  # a permutation


def test_stargan_refusals_teach() -> None:
    algo = _stargan()
    flat = TensorDataset("plain", "images", {"real": _u8(4, 1, 4, 4, seed=1)})
    with pytest.raises(ConfigError, match="domain index"):
        algo.attach_data(flat)
    with pytest.raises(ConfigError, match="domain index"):
        StarGAN.net_defaults({}, flat)
    with pytest.raises(ConfigError, match="num_domains=4"):
        algo.attach_data(_domains(8, k=4))
    no_aux = StarGAN(
        {"g": DomainShift(1.0, [0.0, 0.0, 0.0]), "d": DomainCritic(1.0, [0, 0, 0], aux=False)},
        _obj("wgan"),
    )
    batch = {"real": torch.zeros(2, 1, 2, 2), "label": torch.tensor([0, 1])}
    with pytest.raises(ConfigError, match="aux"):
        no_aux.loss("d", batch, 0)
    with pytest.raises(ConfigError, match="techniques"):
        _stargan(techniques=[object()])


def test_stargan_net_defaults_sampling_and_export() -> None:
    data = _domains(6, k=3, c=1)
    assert StarGAN.net_defaults({}, data) == {
        "g": {"in_channels": 1, "out_channels": 1, "num_domains": 3, "in_shape": (1, 4, 4)},
        "d": {"in_channels": 1, "in_shape": (1, 4, 4), "num_domains": 3},
    }
    algo = StarGAN(
        {"g": DomainShift(1.0, [0.0, 0.1, 0.2]), "d": DomainCritic(1.0, [0, 0, 0])}, _obj("wgan")
    )
    algo.attach_data(data)
    x, labels = torch.zeros(3, 1, 4, 4), torch.tensor([0, 1, 2])
    # Default target: the next domain, (label + 1) mod K; offsets 0.1, 0.2, 0.0.
    out = algo.translate({"real": x, "label": labels})
    assert out[:, 0, 0, 0].tolist() == pytest.approx([0.1, 0.2, 0.0])
    out = algo.translate({"real": x, "label": labels, "target_label": torch.tensor([2, 2, 0])})
    assert out[:, 0, 0, 0].tolist() == pytest.approx([0.2, 0.2, 0.0])
    gen = torch.Generator().manual_seed(3)
    s1 = algo.sample(5, generator=gen)
    assert s1.shape == (5, 1, 4, 4)
    assert torch.equal(s1, algo.sample(5, generator=torch.Generator().manual_seed(3)))
    # Targets are the drawn labels permuted: the offsets used are those labels' offsets.
    batch = algo.draw(5, torch.Generator().manual_seed(3))
    offsets = (s1 - batch["real"])[:, 0, 0, 0]
    want = torch.tensor([0.0, 0.1, 0.2])[batch["label"]]
    assert torch.allclose(offsets.sort().values, want.sort().values, atol=1e-6)
    cols = algo.panel(2, generator=torch.Generator().manual_seed(0))
    assert len(cols) == 1 + 3 and all(c.shape == (2, 1, 4, 4) for c in cols)
    assert torch.allclose(cols[3] - cols[0], torch.full((2, 1, 4, 4), 0.2))  # G(x, 2)
    assert algo.export_spec() == {
        "translate": {"source": "real", "in_shape": [1, 4, 4], "out_shape": [1, 4, 4], "domains": 3}
    }


# -- SRGAN ----------------------------------------------------------------------------------
class Upsample(nn.Module):
    """G(x) = w * nearest x2 upsampling of x."""

    scale = 2

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * F.interpolate(x, scale_factor=2, mode="nearest")


class MeanCritic(nn.Module):
    """score (N,) = v * mean over the image."""

    def __init__(self, v: float) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.tensor(v))

    def forward(self, x: torch.Tensor) -> CriticOutput:
        return CriticOutput(self.v * x.mean((1, 2, 3)))


def _sr_data(scale: int = 2, c: int = 1, n: int = 5) -> TensorDataset:
    return TensorDataset(
        "toy-sr",
        "images",
        {"real": _u8(n, c, 4 * scale, 4 * scale, seed=2), "low": _u8(n, c, 4, 4, seed=3)},
        aliases={"high": "real"},
    )


def _sr_batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    low = torch.rand(2, 1, 2, 2, generator=g) * 2 - 1
    high = torch.rand(2, 1, 4, 4, generator=g) * 2 - 1
    return {"low": low, "real": high, "high": high}


def test_srgan_phases_pretraining_then_gan() -> None:
    nets = {"g": Upsample(1.0), "d": MeanCritic(1.0)}
    algo = SRGAN(dict(nets), _obj("ns"), pretrain_steps=3)
    phases = algo.phases()
    assert [(p.name, p.optimizer, p.start, p.stop) for p in phases] == [
        ("pre", "g", 0, 3),
        ("d", "d", 3, None),
        ("g", "g", 3, None),
    ]
    due = [[p.name for p in phases if p.due(s)] for s in range(5)]
    assert due == [["pre"], ["pre"], ["pre"], ["d", "g"], ["d", "g"]]
    assert [p.name for p in SRGAN(dict(nets), _obj("ns")).phases()] == ["d", "g"]
    srresnet = SRGAN(dict(nets), _obj("ns"), adv_weight=0.0)  # no critic to train
    assert [p.name for p in srresnet.phases()] == ["g"]


def test_srgan_losses_by_hand() -> None:
    algo = SRGAN({"g": Upsample(0.5), "d": MeanCritic(2.0)}, _obj("ns"))
    assert algo.content_net is None
    batch = _sr_batch()
    low, high = batch["low"], batch["real"]
    fake = 0.5 * low.repeat_interleave(2, 2).repeat_interleave(2, 3)
    mse = ((fake - high) ** 2).mean()
    assert algo.loss("pre", batch, 0).loss.item() == pytest.approx(mse.item(), rel=1e-6)
    s_real, s_fake = 2.0 * high.mean((1, 2, 3)), 2.0 * fake.mean((1, 2, 3))
    want_d = F.softplus(-s_real).mean() + F.softplus(s_fake).mean()
    assert algo.loss("d", batch, 0).loss.item() == pytest.approx(want_d.item(), rel=1e-6)
    adv = F.softplus(-s_fake).mean()  # -log sigmoid(D(G(low))), eq. 6
    out = algo.loss("g", batch, 0)
    assert out.loss.item() == pytest.approx((mse + 1e-3 * adv).item(), rel=1e-6)
    assert out.logs["g/content"].item() == pytest.approx(mse.item(), rel=1e-6)


def test_srgan_feature_content_loss_with_a_frozen_network() -> None:
    g = Upsample(0.5)
    algo = SRGAN({"g": g, "d": MeanCritic(2.0)}, _obj("ns"), pixel_weight=0.5, content_weight=3.0)
    phi = nn.Conv2d(1, 2, 2, stride=2, bias=False)
    with torch.no_grad():
        phi.weight.copy_(torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.25, 0.25], [0.25, 0.25]]]]))
    algo.set_content_network(phi)
    assert not phi.training and not any(p.requires_grad for p in phi.parameters())
    assert phi not in algo.nets.values()
    batch = _sr_batch()
    low, high = batch["low"], batch["real"]
    fake = 0.5 * low.repeat_interleave(2, 2).repeat_interleave(2, 3)
    # phi: channel 0 = the top-left pixel of each 2x2 block, channel 1 = the block mean.
    f_fake = torch.cat([fake[:, :, ::2, ::2], F.avg_pool2d(fake, 2)], 1)
    f_real = torch.cat([high[:, :, ::2, ::2], F.avg_pool2d(high, 2)], 1)
    content = ((f_fake - f_real) ** 2).mean()
    mse = ((fake - high) ** 2).mean()
    adv = F.softplus(-2.0 * fake.mean((1, 2, 3))).mean()
    out = algo.loss("g", batch, 0)
    want = 3.0 * content + 0.5 * mse + 1e-3 * adv
    assert out.loss.item() == pytest.approx(want.item(), rel=1e-6)
    assert out.logs["g/content"].item() == pytest.approx(content.item(), rel=1e-6)
    out.loss.backward()
    assert g.w.grad is not None and g.w.grad.abs().item() > 0  # through phi
    assert phi.weight.grad is None  # frozen: never trained


def test_content_loss_is_pixel_or_feature_mse() -> None:
    fake = torch.tensor([[1.0, -1.0]], requires_grad=True)
    real = torch.tensor([[0.0, 1.0]], requires_grad=True)
    assert content_loss(None, fake, real).item() == pytest.approx(2.5)  # (1 + 4) / 2
    loss = content_loss(lambda x: 2 * x, fake, real)
    assert loss.item() == pytest.approx(10.0)  # (4 + 16) / 2
    loss.backward()
    assert real.grad is None  # the real side is a constant
    assert fake.grad is not None and fake.grad[0].tolist() == pytest.approx([4.0, -8.0])


def test_content_specs_and_their_refusals() -> None:
    assert parse_content("mse") == ("mse", "", None)
    assert parse_content("classifier:mnist") == ("classifier", "mnist", "conv2")
    assert parse_content("classifier:digits", "fc1") == ("classifier", "digits", "fc1")
    assert parse_content("inception-fid", "pool") == ("inception", "", "pool")
    assert parse_content("inception") == ("inception", "", "e2")
    with pytest.raises(ConfigError, match="VGG19"):
        parse_content("vgg54")
    with pytest.raises(ConfigError, match="for other data use 'inception'"):
        parse_content("classifier:svhn")
    with pytest.raises(ConfigError, match="content_layer"):
        parse_content("mse", "conv2")
    with pytest.raises(ConfigError, match="a3"):
        parse_content("inception", "conv2")
    with pytest.raises(ConfigError, match="must be 'mse'"):
        parse_content("resnet")
    nets = {"g": Upsample(1.0), "d": MeanCritic(1.0)}
    with pytest.raises(ConfigError, match="VGG19"):  # refused before anything is loaded
        SRGAN(dict(nets), _obj("ns"), content="vgg")
    with pytest.raises(ConfigError, match=r"algorithm\.content"):  # and at config load
        ALGORITHMS.validate({"name": "srgan", "content": "vgg54"}, "algorithm")


def test_lenet_content_layers_are_differentiable() -> None:
    torch.manual_seed(0)
    lenet = LeNet(1, 8, 10, width=4).eval()
    x = (torch.rand(2, 1, 8, 8) * 2 - 1).requires_grad_()
    assert LeNetContent(lenet, "conv1")(x).shape == (2, 4, 8, 8)
    assert LeNetContent(lenet, "conv2")(x).shape == (2, 8, 4, 4)
    fc1 = LeNetContent(lenet, "fc1")(x)
    assert torch.allclose(fc1, lenet.features(x), atol=1e-6)
    fc1.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.slow  # two 299 x 299 Inception passes (~10 s on a busy CPU)
def test_inception_content_matches_the_metric_path_without_quantisation() -> None:
    from ganforge.data.base import uint8_to_float
    from ganforge.metrics.inception import InceptionV3FID

    torch.manual_seed(0)
    net = InceptionV3FID(with_logits=False).eval().requires_grad_(False)
    pixels = _u8(1, 1, 8, 8, seed=5)
    x = uint8_to_float(pixels).requires_grad_()
    got = InceptionContent(net, "pool")(x)
    with torch.no_grad():
        want = net.forward_normalized(net.preprocess(pixels))["pool"]
    assert got.shape == (1, 2048) and got.grad_fn is not None  # differentiable in x
    assert torch.allclose(got, want, rtol=1e-3, atol=1e-4)


def test_srgan_data_checks_sampling_and_export() -> None:
    nets = {"g": Upsample(1.0), "d": MeanCritic(1.0)}
    data = _sr_data(scale=2)
    assert SRGAN.net_defaults({}, data) == {
        "g": {
            "in_channels": 1,
            "out_channels": 1,
            "in_shape": (1, 4, 4),
            "out_shape": (1, 8, 8),
            "scale": 2,
        },
        "d": {"in_channels": 1, "in_shape": (1, 8, 8)},
    }
    algo = SRGAN(dict(nets), _obj("ns"))
    with pytest.raises(ConfigError, match="sr-cifar10"):
        algo.attach_data(TensorDataset("plain", "images", {"real": _u8(4, 1, 4, 4, seed=1)}))
    with pytest.raises(ConfigError, match="low"):
        SRGAN.net_defaults({}, TensorDataset("plain", "images", {"real": _u8(4, 1, 4, 4, seed=1)}))
    with pytest.raises(ConfigError, match="scale=4"):
        algo.attach_data(_sr_data(scale=4))
    odd = TensorDataset(
        "odd", "images", {"real": _u8(2, 1, 6, 6, seed=1), "low": _u8(2, 1, 4, 4, seed=1)}
    )
    with pytest.raises(ConfigError, match="integer scale"):
        algo.attach_data(odd)
    grey_phi = SRGAN(dict(nets), _obj("ns"))
    grey_phi.set_content_network(LeNetContent(LeNet(1, 8, 10, width=4)))
    with pytest.raises(ConfigError, match="1-channel"):
        grey_phi.attach_data(_sr_data(scale=2, c=3))
    algo.attach_data(data)
    s = algo.sample(3, generator=torch.Generator().manual_seed(1))
    assert s.shape == (3, 1, 8, 8)
    cols = algo.panel(3, generator=torch.Generator().manual_seed(1))
    assert [tuple(c.shape) for c in cols] == [(3, 1, 8, 8)] * 3
    assert torch.equal(cols[0], cols[1])  # w = 1: nearest upsampling is the enlarged input
    assert algo.export_spec() == {
        "translate": {"source": "low", "in_shape": [1, 4, 4], "out_shape": [1, 8, 8], "scale": 2}
    }


# -- SegAN ----------------------------------------------------------------------------------
def test_multiscale_l1_by_hand() -> None:
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    b = torch.zeros(2, 5)
    # layers of widths 2 and 3: means (1 + 2 + 1 + 1) / 4 = 1.25 and (3 + 4 + 5 + 3) / 6 = 2.5
    assert multiscale_l1(a, b, (2, 3)).item() == pytest.approx((1.25 + 2.5) / 2)
    assert multiscale_l1(a, b).item() == pytest.approx(20 / 10)  # one block
    assert multiscale_l1(b, a, ()).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="sum to 4"):
        multiscale_l1(a, b, (2, 2))
    with pytest.raises(ValueError, match="one shape"):
        multiscale_l1(a, b[:, :4])


def test_soft_dice_by_hand() -> None:
    p = torch.tensor([[[[0.5, 1.0], [0.0, 0.0]]]])
    y = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    # 1 - 2 (0.5 + 1) / ((0.25 + 1) + 2)
    assert soft_dice(p, y).item() == pytest.approx(1 - 3 / 3.25, rel=1e-6)
    assert soft_dice(y, y).item() == pytest.approx(0.0, abs=1e-6)


class Prob(nn.Module):
    """S(x) = sigmoid(w * channel mean): (N, 1, H, W) in [0, 1]."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.w * x.mean(1, keepdim=True))


class TwoScales(nn.Module):
    """features = cat(input pixels, v * spatial means): two layers (C H W, C)."""

    def __init__(self, v: float, shape: tuple[int, int, int], splits: bool = True) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.tensor(v))
        c, h, w = shape
        if splits:
            self.feature_splits = (c * h * w, c)

    def forward(self, x: torch.Tensor) -> CriticOutput:
        feats = torch.cat([x.flatten(1), self.v * x.mean((2, 3))], 1)
        return CriticOutput(x.mean((1, 2, 3)), features=feats)


def _seg_batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(6)
    x = torch.rand(2, 3, 2, 2, generator=g) * 2 - 1
    y = (torch.rand(2, 1, 2, 2, generator=g) > 0.5).float() * 2 - 1  # masks in {-1, 1}
    return {"source": x, "real": y, "target": y}


def test_segan_losses_by_hand() -> None:
    algo = SegAN({"s": Prob(1.5), "c": TwoScales(2.0, (3, 2, 2))}, _obj("ns"), dice_weight=0.5)
    assert [(p.name, p.optimizer, p.every) for p in algo.phases()] == [("c", "c", 1), ("s", "s", 1)]
    batch = _seg_batch()
    x, y01 = batch["source"], (batch["real"] + 1) / 2
    p = torch.sigmoid(1.5 * x.mean(1, keepdim=True))
    xp, xy = x * p, x * y01  # the mask on every channel
    pixels = (xp - xy).abs().mean()
    means = (2.0 * (xp.mean((2, 3)) - xy.mean((2, 3)))).abs().mean()
    l1 = (pixels + means) / 2  # eq. 2 with L = 2 layers
    out = algo.loss("c", batch, 0)
    assert out.loss.item() == pytest.approx(-l1.item(), rel=1e-6)  # C maximises
    dice = (1 - 2 * (p * y01).sum((2, 3)) / ((p * p).sum((2, 3)) + (y01 * y01).sum((2, 3)))).mean()
    out = algo.loss("s", batch, 0)
    assert out.loss.item() == pytest.approx((l1 + 0.5 * dice).item(), rel=1e-5)
    assert out.logs["s/l1"].item() == pytest.approx(l1.item(), rel=1e-6)
    # A critic without feature_splits: one block over all 12 + 3 features.
    flat = SegAN({"s": Prob(1.5), "c": TwoScales(2.0, (3, 2, 2), splits=False)}, _obj("ns"))
    one_block = torch.cat([(xp - xy).abs().flatten(1), (2.0 * (xp - xy).mean((2, 3))).abs()], 1)
    assert flat.loss("s", batch, 0).loss.item() == pytest.approx(one_block.mean().item(), rel=1e-6)


def test_segan_objective_unused_penalties_and_clipping() -> None:
    nets = {"s": Prob(1.0), "c": TwoScales(1.0, (3, 2, 2))}
    stateful = SegAN(dict(nets), _obj("fisher"))  # accepted: the objective plays no part
    assert stateful.loss("c", _seg_batch(), 0).loss.item() < 0
    gp = PENALTIES.build({"name": "gradient-penalty", "weight": 10.0})
    with pytest.raises(ConfigError, match="weight-clip"):
        SegAN(dict(nets), _obj("ns"), [gp])
    clip = PENALTIES.build({"name": "weight-clip", "bound": 0.05})
    algo = SegAN(dict(nets), _obj("ns"), [clip])
    algo.after_step("s", 0)
    assert nets["c"].v.item() == pytest.approx(1.0)  # not after the segmentor's step
    algo.after_step("c", 0)
    assert nets["c"].v.item() == pytest.approx(0.05)

    class NoFeatures(nn.Module):
        def forward(self, x: torch.Tensor) -> CriticOutput:
            return CriticOutput(x.mean((1, 2, 3)))

    with pytest.raises(ConfigError, match="features"):
        SegAN({"s": Prob(1.0), "c": NoFeatures()}, _obj("ns")).loss("c", _seg_batch(), 0)


def _seg_data(mask_channels: int = 1) -> TensorDataset:
    masks = (_u8(5, mask_channels, 4, 4, seed=7) > 127).to(torch.uint8) * 255
    return TensorDataset(
        "toy-seg",
        "images",
        {"real": masks, "source": _u8(5, 3, 4, 4, seed=8)},
        aliases={"target": "real"},
    )


def test_segan_data_checks_sampling_and_export() -> None:
    data = _seg_data()
    assert SegAN.net_defaults({}, data) == {
        "s": {"in_channels": 3, "out_channels": 1, "in_shape": (3, 4, 4)},
        "c": {"in_channels": 3, "in_shape": (3, 4, 4)},
    }
    algo = SegAN({"s": Prob(1.0), "c": TwoScales(1.0, (3, 4, 4))}, _obj("ns"))
    with pytest.raises(ConfigError, match="mnist-seg"):
        algo.attach_data(TensorDataset("plain", "images", {"real": _u8(4, 1, 4, 4, seed=1)}))
    with pytest.raises(ConfigError, match="one-channel masks"):
        algo.attach_data(_seg_data(mask_channels=3))
    algo.attach_data(data)
    s = algo.sample(4, generator=torch.Generator().manual_seed(2))
    batch = algo.draw(4, torch.Generator().manual_seed(2))
    p = torch.sigmoid(batch["source"].mean(1, keepdim=True))
    assert s.shape == (4, 1, 4, 4) and torch.allclose(s, 2 * p - 1)  # mask as an image
    cols = algo.panel(4, generator=torch.Generator().manual_seed(2))
    assert [tuple(c.shape) for c in cols] == [(4, 3, 4, 4)] * 3
    assert torch.equal(cols[2][:, :1], batch["real"])
    assert algo.export_spec() == {
        "translate": {
            "source": "source",
            "in_shape": [3, 4, 4],
            "out_shape": [1, 4, 4],
            "output_range": [0.0, 1.0],
        }
    }
