"""Critic options against mode collapse: maxout, minibatch stddev, minibatch discrimination.

``mlp-d`` (maxout hidden layers, ``minibatch_std``, ``minibatch_discrimination``) and
``dcgan-d`` (``minibatch_std``, ``minibatch_discrimination``): shapes, dependence of a
sample's score on the rest of its batch, parameter counts, unchanged construction when
the options are off, validation, and short training runs.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torch import nn
from torch.nn.utils import parametrize

import ganforge.nets  # noqa: F401  (registers the networks)
from ganforge.engine.run import train
from ganforge.errors import ConfigError
from ganforge.nets import CriticOutput, DCGANDiscriminator, MLPDiscriminator
from ganforge.nn.layers import LEAKY_SLOPE, apply_spectral_norm, init_weights
from ganforge.nn.layers import activation as make_activation
from ganforge.nn.minibatch import Maxout, MinibatchDiscrimination, MinibatchStdDev
from ganforge.registry import NETS

POINTS, IMG8, IMG16, IMG32 = (2,), (1, 8, 8), (1, 16, 16), (3, 32, 32)
B = 6  # minibatch-discrimination kernels used below


def _build(name: str, shape: tuple[int, ...], seed: int = 0, **kw: Any) -> nn.Module:
    torch.manual_seed(seed)
    return NETS.build({"name": name, "in_shape": shape, **kw}, f"nets.{name}")


def _x(shape: tuple[int, ...], n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _dcgan_k(shape: tuple[int, ...], base: int) -> int:
    """Channels K of the last 4x4 map."""
    return base * 2 ** (int(math.log2(shape[1])) - 3)


# -- shapes --------------------------------------------------------------------------------------
MLP_OPTIONS: list[tuple[dict[str, Any], int]] = [  # kwargs, extra head inputs
    ({"activation": "maxout"}, 0),
    ({"activation": "maxout", "pieces": 2, "dropout": 0.2}, 0),
    ({"minibatch_std": 4}, 1),
    ({"minibatch_discrimination": B, "minibatch_kernel_dim": 3}, B),
    ({"minibatch_std": 2, "minibatch_discrimination": B}, 1 + B),
    ({"activation": "maxout", "minibatch_std": 4, "minibatch_discrimination": B}, 1 + B),
]


@pytest.mark.parametrize("shape", [POINTS, IMG8])
@pytest.mark.parametrize(("kw", "extra"), MLP_OPTIONS)
def test_mlp_d_shapes(shape: tuple, kw: dict, extra: int) -> None:
    net = _build("mlp-d", shape, hidden=(16, 12), **kw)
    for mode in (net.train, net.eval):
        mode()
        out = net(_x(shape, 8))
        assert isinstance(out, CriticOutput)
        assert out.score.shape == (8,)
        assert out.features.shape == (8, 12)  # the per-sample hidden features
        assert out.aux is None
        assert torch.isfinite(out.score).all()
    assert net.feature_dim == 12
    assert net.head.in_features == 12 + extra
    assert (net.mbstd is not None) == ("minibatch_std" in kw)
    assert (net.mbdisc is not None) == ("minibatch_discrimination" in kw)
    maxouts = [m for m in net.modules() if isinstance(m, Maxout)]
    assert len(maxouts) == (2 if kw.get("activation") == "maxout" else 0)


@pytest.mark.parametrize("shape", [IMG16, IMG32])
@pytest.mark.parametrize(
    "kw",
    [
        {"minibatch_std": 4},
        {"minibatch_discrimination": B},
        {"minibatch_std": 4, "minibatch_discrimination": B, "minibatch_kernel_dim": 3},
    ],
)
def test_dcgan_d_shapes(shape: tuple, kw: dict) -> None:
    net = _build("dcgan-d", shape, base_channels=4, **kw)
    k = _dcgan_k(shape, 4)
    for mode in (net.train, net.eval):
        mode()
        out = net(_x(shape, 8))
        assert out.score.shape == (8,)
        assert out.features.shape == (8, 16 * k)  # the flattened 4x4 map, per sample
        assert torch.isfinite(out.score).all()
    head_ch = k + (1 if "minibatch_std" in kw else 0)
    if "minibatch_discrimination" in kw:  # a Linear on [flattened map, B closeness values]
        assert isinstance(net.head, nn.Linear)
        assert net.head.in_features == 16 * head_ch + B
        assert net.mbdisc.in_features == 16 * k
    else:  # the 4x4 convolution, reading the std channel too
        assert isinstance(net.head, nn.Conv2d)
        assert net.head.in_channels == head_ch


# -- dependence on the batch -------------------------------------------------------------------
CASES_BATCH = [
    ("mlp-d", POINTS, {"hidden": (16, 16)}),
    ("mlp-d", IMG8, {"hidden": (16,), "activation": "maxout"}),
    ("dcgan-d", IMG16, {"base_channels": 4}),
]


@pytest.mark.parametrize(("name", "shape", "base"), CASES_BATCH)
@pytest.mark.parametrize(
    "option",
    [{}, {"minibatch_std": 4}, {"minibatch_discrimination": B}],
    ids=["off", "std", "disc"],
)
def test_score_of_a_sample_depends_on_the_others_only_with_a_batch_option(
    name: str, shape: tuple, base: dict, option: dict
) -> None:
    net = _build(name, shape, **base, **option).eval()
    diverse = _x(shape, 4)
    collapsed = diverse[:1].expand(4, *shape).clone()  # four copies of sample 0
    seen: list[torch.Tensor] = []
    for layer in (getattr(net, "mbstd", None), getattr(net, "mbdisc", None)):
        if layer is not None:
            # what the layer appends to its input: (N, 1), (N, 16) for a 4x4 map, or (N, B)
            layer.register_forward_hook(
                lambda m, i, o: seen.append(o[:, i[0].shape[1] :].flatten(1))
            )
    with torch.no_grad():
        s_div, s_col = net(diverse), net(collapsed)
    assert torch.equal(s_div.features[0], s_col.features[0])  # features stay per-sample
    if not option:
        assert torch.equal(s_div.score[0], s_col.score[0])
        assert not seen
        return
    # (small with dcgan-d's N(0, 0.02) head weights, but far above rounding)
    assert (s_div.score[0] - s_col.score[0]).abs() > 1e-6
    stat_div, stat_col = seen
    if "minibatch_std" in option:  # the std over the group: sqrt(0 + 1e-8) when collapsed
        assert torch.allclose(stat_col, torch.full_like(stat_col, 1e-4))
        assert (stat_div > 1e-3).all()
    else:  # closeness to the 3 others: exactly 3 for identical samples, less otherwise
        assert torch.allclose(stat_col, torch.full_like(stat_col, 3.0))
        assert (stat_div < 3.0).all()


def test_minibatch_std_needs_a_multiple_of_the_group_size() -> None:
    for name, shape, base in CASES_BATCH:
        net = _build(name, shape, **base, minibatch_std=4).eval()
        for n in (1, 3, 4, 8):  # smaller than G: one group
            assert net(_x(shape, n)).score.shape == (n,)
        with pytest.raises(ValueError, match=rf"{name}: minibatch_std=4 .* multiple of 4 .* 6"):
            net(_x(shape, 6))


# -- parameters and initialisation -------------------------------------------------------------
def test_pacgan_maxout_critic_parameter_count() -> None:
    net = _build("mlp-d", POINTS, hidden=(200, 200, 200), activation="maxout", pieces=5)
    # Maxout(a, 200, 5) is Linear(a, 1000): 1000 * a weights + 1000 biases.
    first = 2 * 1000 + 1000  # 3_000
    middle = 200 * 1000 + 1000  # 201_000, twice
    head = 200 + 1  # Linear(200, 1)
    assert sum(p.numel() for p in net.parameters()) == first + 2 * middle + head == 405_201


def test_minibatch_layers_parameter_counts() -> None:
    plain = _build("mlp-d", POINTS, hidden=(16, 16))
    n_plain = sum(p.numel() for p in plain.parameters())
    std = _build("mlp-d", POINTS, hidden=(16, 16), minibatch_std=4)
    assert sum(p.numel() for p in std.parameters()) == n_plain + 1  # one more head weight
    disc = _build("mlp-d", POINTS, hidden=(16, 16), minibatch_discrimination=B)
    # T (16, B * 5) plus B head weights
    assert sum(p.numel() for p in disc.parameters()) == n_plain + 16 * B * 5 + B


def test_maxout_init_and_spectral_norm() -> None:
    net = _build("mlp-d", POINTS, hidden=(64, 64), activation="maxout", init="dcgan")
    w = torch.cat(
        [m.linear.weight.detach().flatten() for m in net.modules() if isinstance(m, Maxout)]
    )
    assert 0.018 < w.std().item() < 0.022  # init reaches the Linear inside the maxout
    sn = _build("mlp-d", POINTS, hidden=(16,), activation="maxout", spectral_norm=True)
    maxout = next(m for m in sn.modules() if isinstance(m, Maxout))
    assert parametrize.is_parametrized(maxout.linear, "weight")


def test_minibatch_discrimination_keeps_its_own_init() -> None:
    for init in ("default", "dcgan"):
        net = _build("mlp-d", POINTS, hidden=(64,), minibatch_discrimination=50, init=init)
        std = net.mbdisc.T.std().item()
        expected = 1 / (5 * math.sqrt(64))  # 1 / (C sqrt(A))
        assert abs(std / expected - 1) < 0.05


@pytest.mark.parametrize(
    ("name", "shape", "kw"),
    [
        ("mlp-d", POINTS, {"hidden": (8,), "activation": "maxout", "minibatch_std": 2}),
        ("mlp-d", IMG8, {"hidden": (8,), "minibatch_discrimination": B, "minibatch_std": 2}),
        ("dcgan-d", IMG16, {"base_channels": 4, "minibatch_std": 2}),
        ("dcgan-d", IMG16, {"base_channels": 4, "minibatch_discrimination": B, "norm": "none"}),
    ],
)
def test_gradients_reach_every_parameter(name: str, shape: tuple, kw: dict) -> None:
    net = _build(name, shape, **kw).train()
    y = net(_x(shape, 4)).score
    (y * torch.tensor([1.0, -2.0, 0.5, 3.0])).sum().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} gets a zero gradient"


# -- options off: the network of before, bit for bit --------------------------------------------
class _Critic(nn.Module):
    def __init__(self, body: list[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(*body)
        self.head = head


def _old_mlp_d(seed: int, in_dim: int, hidden: tuple, activation: str, dropout: float,
               init: str, spectral_norm: bool) -> nn.Module:  # fmt: skip
    """mlp-d as it was built before the options, module by module."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), make_activation(activation)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    net = _Critic(layers, nn.Linear(width, 1))
    init_weights(net, init)
    return apply_spectral_norm(net) if spectral_norm else net


def _old_dcgan_d(seed: int, shape: tuple, base: int, norm: str, init: str,
                 spectral_norm: bool) -> nn.Module:  # fmt: skip
    """dcgan-d as it was built before the options, module by module."""
    torch.manual_seed(seed)
    ch = base
    layers: list[nn.Module] = [nn.Conv2d(shape[0], ch, 4, 2, 1), nn.LeakyReLU(LEAKY_SLOPE)]
    for _ in range(int(math.log2(shape[1])) - 3):
        layers.append(nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=norm != "batch"))
        if norm == "batch":
            layers.append(nn.BatchNorm2d(2 * ch))
        elif norm == "layer":
            layers.append(nn.GroupNorm(1, 2 * ch))
        layers.append(nn.LeakyReLU(LEAKY_SLOPE))
        ch *= 2
    net = _Critic(layers, nn.Conv2d(ch, 1, 4, 1, 0))
    init_weights(net, init)
    return apply_spectral_norm(net) if spectral_norm else net


def _assert_same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


OFF = {"pieces": 5, "minibatch_std": 0, "minibatch_discrimination": 0, "minibatch_kernel_dim": 5}


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"activation": "relu", "dropout": 0.3, "init": "dcgan"},
        {"spectral_norm": True, "hidden": (8, 8, 8)},
    ],
)
def test_mlp_d_with_options_off_is_unchanged(kw: dict) -> None:
    # the constructor defaults, overridden by kw
    full = {"hidden": (128, 128), "activation": "leaky_relu", "dropout": 0.0, "init": "default",
            "spectral_norm": False, **kw}  # fmt: skip
    old = _old_mlp_d(5, 2, full["hidden"], full["activation"], full["dropout"], full["init"],
                     full["spectral_norm"])  # fmt: skip
    new = _build("mlp-d", POINTS, seed=5, **kw)
    explicit = _build("mlp-d", POINTS, seed=5, **kw, **OFF)
    _assert_same_state(new, old)
    _assert_same_state(explicit, old)
    assert new.mbstd is None and new.mbdisc is None
    x = _x(POINTS, 5)
    new.eval(), old.eval()
    with torch.no_grad():
        h = old.body(x)
        assert torch.equal(new(x).features, h)
        assert torch.equal(new(x).score, old.head(h).squeeze(1))


@pytest.mark.parametrize(
    ("shape", "kw"),
    [
        (IMG16, {}),
        (IMG32, {"norm": "layer", "init": "default"}),
        (IMG16, {"norm": "none", "spectral_norm": True}),
    ],
)
def test_dcgan_d_with_options_off_is_unchanged(shape: tuple, kw: dict) -> None:
    full = {"norm": "batch", "init": "dcgan", "spectral_norm": False, **kw}
    old = _old_dcgan_d(5, shape, 4, full["norm"], full["init"], full["spectral_norm"])
    off = {k: v for k, v in OFF.items() if k != "pieces"}
    new = _build("dcgan-d", shape, seed=5, base_channels=4, **kw)
    explicit = _build("dcgan-d", shape, seed=5, base_channels=4, **kw, **off)
    _assert_same_state(new, old)
    _assert_same_state(explicit, old)
    x = _x(shape, 4)
    new.eval(), old.eval()
    with torch.no_grad():
        h = old.body(x)
        assert torch.equal(new(x).features, h.flatten(1))
        assert torch.equal(new(x).score, old.head(h).reshape(4))


# -- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    [
        {"name": "mlp-d", "activation": "maxout", "pieces": 1},
        {"name": "mlp-d", "pieces": 17},
        {"name": "mlp-d", "activation": "max_out"},
        {"name": "mlp-d", "minibatch_discrimination": -1},
        {"name": "mlp-d", "minibatch_std": -4},
        {"name": "mlp-d", "minibatch_std": 2.5},
        {"name": "mlp-d", "minibatch_kernel_dim": 0},
        {"name": "dcgan-d", "minibatch_discrimination": -1},
        {"name": "dcgan-d", "minibatch_std": -1},
        {"name": "dcgan-d", "minibatch_kernel_dim": 0},
        {"name": "dcgan-d", "pieces": 5},  # maxout is an mlp-d option only
    ],
)
def test_validation_rejects_bad_values(spec: dict) -> None:
    with pytest.raises(ConfigError):
        NETS.validate(spec, "nets.d")


def test_validation_accepts_the_options() -> None:
    spec = {"name": "mlp-d", "activation": "maxout", "pieces": 5, "minibatch_std": 4,
            "minibatch_discrimination": 8, "minibatch_kernel_dim": 3}  # fmt: skip
    assert NETS.validate(spec, "nets.d") == {**spec, "hidden": (128, 128), "dropout": 0.0,
                                             "spectral_norm": False, "init": "default",
                                             "condition": "projection",
                                             "embed_dim": None}  # fmt: skip


@pytest.mark.parametrize(
    ("cls", "shape", "kw", "match"),
    [
        (MLPDiscriminator, POINTS, {"activation": "maxout", "pieces": 1}, "pieces"),
        (MLPDiscriminator, POINTS, {"minibatch_discrimination": -3}, "minibatch_discrimination"),
        (MLPDiscriminator, POINTS, {"minibatch_std": -1}, "minibatch_std"),
        (DCGANDiscriminator, IMG16, {"minibatch_kernel_dim": 0}, "minibatch_kernel_dim"),
        (DCGANDiscriminator, IMG16, {"minibatch_discrimination": -1}, "minibatch_discrimination"),
    ],
)
def test_direct_construction_rejects_bad_values(
    cls: type, shape: tuple, kw: dict, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        cls(shape, **kw)


def test_layers_are_the_minibatch_module_ones() -> None:
    net = _build("dcgan-d", IMG16, base_channels=4, minibatch_std=2, minibatch_discrimination=B)
    assert isinstance(net.mbstd, MinibatchStdDev) and net.mbstd.group_size == 2
    assert isinstance(net.mbdisc, MinibatchDiscrimination) and net.mbdisc.num_kernels == B


# -- training ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides",
    [
        ["nets.d.activation=maxout"],
        ["nets.d.minibatch_discrimination=8"],
        ["nets.d.minibatch_std=4"],
    ],
    ids=["maxout", "minibatch-discrimination", "minibatch-std"],
)
def test_short_training_runs(tmp_path: Path, tiny_ring8: dict[str, Any], overrides: list) -> None:
    cfg = copy.deepcopy(tiny_ring8)
    cfg["train"]["steps"] = 3
    run = train(cfg, overrides, out=tmp_path / "run", progress=False)
    assert (run / "generator.safetensors").is_file()
    key, value = overrides[0].removeprefix("nets.d.").split("=")
    saved = yaml.safe_load((run / "config.yaml").read_text())["nets"]["d"]
    assert str(saved[key]) == value


def test_dcgan_critic_dropout_is_an_option() -> None:
    from ganforge.nets.dcgan import DCGANDiscriminator

    torch.manual_seed(0)
    plain = DCGANDiscriminator((1, 16, 16), base_channels=4)
    torch.manual_seed(0)
    drop = DCGANDiscriminator((1, 16, 16), base_channels=4, dropout=0.5)
    assert sum(isinstance(m, torch.nn.Dropout) for m in drop.modules()) == 2
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    x = torch.randn(8, 1, 16, 16)
    drop.train()
    assert not torch.equal(drop(x).score, drop(x).score)  # stochastic in training
    drop.eval()
    assert torch.equal(drop(x).score, drop(x).score)
