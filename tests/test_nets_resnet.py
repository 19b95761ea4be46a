"""The SNGAN ResNet generator and critic (``resnet-g`` / ``resnet-d``) and their recipes.

Shapes at 16, 32 and 64; parameter counts at the paper's widths against the arithmetic
of the architecture; spectral norm on every critic layer; the paper's initialisation;
the shortcut rewrites (conv-then-upsample, pool-then-conv) against the paper's order;
the generic network checks (determinism, safetensors round trip, gradients to every
parameter, batch of one, wrong shapes); class conditioning; the ``sngan-cifar10`` and
``dcgan-cifar10`` recipes load and build; a 2-step training smoke run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.utils import parametrize

import ganforge.nets  # noqa: F401  (registers the networks)
from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.nets import CriticOutput, ResNetDiscriminator, ResNetGenerator
from ganforge.nets.resnet import DBlock, GBlock
from ganforge.registry import NETS

IMG16, IMG32, IMG64 = (1, 16, 16), (3, 32, 32), (3, 64, 64)
LATENT = 8


def _g(shape: tuple[int, ...], seed: int = 0, **kw: Any) -> ResNetGenerator:
    torch.manual_seed(seed)
    spec = {"name": "resnet-g", "latent_dim": kw.pop("latent_dim", LATENT), "out_shape": shape}
    return NETS.build({**spec, "channels": 8, **kw}, "nets.g")


def _d(shape: tuple[int, ...], seed: int = 0, **kw: Any) -> ResNetDiscriminator:
    torch.manual_seed(seed)
    return NETS.build({"name": "resnet-d", "in_shape": shape, "channels": 8, **kw}, "nets.d")


def _z(n: int, dim: int = LATENT, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def _x(shape: tuple[int, ...], n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# -- shapes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [IMG16, IMG32, IMG64])
def test_output_shapes(shape: tuple[int, ...]) -> None:
    g, d = _g(shape).eval(), _d(shape).eval()
    with torch.no_grad():
        x = g(5 * _z(3))  # large z: the tanh output must still stay in range
        out = d(x)
    assert x.shape == (3, *shape) and x.dtype == torch.float32
    assert 0.0 < x.abs().max() <= 1.0
    assert isinstance(out, CriticOutput)
    assert out.score.shape == (3,) and out.features.shape == (3, 8) and out.aux is None
    assert torch.isfinite(out.score).all() and torch.isfinite(out.features).all()


def test_paper_widths_at_32x32() -> None:
    torch.manual_seed(0)
    g = NETS.build({"name": "resnet-g", "latent_dim": 128, "out_shape": IMG32})
    d = NETS.build({"name": "resnet-d", "in_shape": IMG32})
    with torch.no_grad():
        x = g(torch.randn(2, 128))
        out = d(x)
    assert x.shape == (2, 3, 32, 32)
    assert out.score.shape == (2,) and out.features.shape == (2, 128)


@pytest.mark.parametrize(("shape", "maps"), [(IMG16, [8, 8, 8]), (IMG32, [16, 8, 8, 8]),
                                             (IMG64, [32, 16, 8, 8, 8])])  # fmt: skip
def test_block_schedule(shape: tuple[int, ...], maps: list[int]) -> None:
    """G: log2(H) - 2 up-blocks from 4x4; D: the optimized down-block, log2(H) - 4 more
    down-blocks, two blocks at 8x8 (the paper's 32x32 critic: down, down, -, -)."""
    g, d = _g(shape), _d(shape)
    assert len(g.blocks) == int(math.log2(shape[1])) - 2
    assert all(b.shortcut is not None for b in g.blocks)  # every up-block changes the shape
    sides = []
    h = _x(shape, 2)
    for block in d.blocks:
        h = block(h)
        sides.append(h.shape[-1])
    assert sides == maps
    # a 1x1 shortcut exactly where a block changes the shape; the identity elsewhere
    assert [b.shortcut is not None for b in d.blocks] == [b.down for b in d.blocks]
    assert d.blocks[0].optimized and not any(b.optimized for b in d.blocks[1:])


# -- parameter counts at the paper's widths ------------------------------------------------------
def test_parameter_counts_match_the_architecture() -> None:
    # Generator, z 128, channels 256, 32x32 (every conv and linear has a bias; BN has a
    # scale and a shift per channel):
    #   linear z -> 4*4*256:        128 * 4096 + 4096                    =   528,384
    #   one up-block (256 -> 256):
    #     BN 256                     2 * 256                              =       512
    #     conv3x3 256 -> 256         256 * 256 * 9 + 256                  =   590,080
    #     BN 256                                                          =       512
    #     conv3x3 256 -> 256                                              =   590,080
    #     shortcut conv1x1           256 * 256 + 256                      =    65,792
    #     block total                                                     = 1,246,976
    #   3 up-blocks                  3 * 1,246,976                        = 3,740,928
    #   final BN 256                                                      =       512
    #   conv3x3 256 -> 3             256 * 3 * 9 + 3                      =     6,915
    #   total                        528,384 + 3,740,928 + 512 + 6,915    = 4,276,739
    g = ResNetGenerator(latent_dim=128, out_shape=IMG32)
    assert _n_params(g) == 528_384 + 3 * 1_246_976 + 512 + 6_915 == 4_276_739
    # Critic, channels 128, 32x32 (spectral norm keeps one weight parameter per layer:
    # parametrizations.weight.original; u and v are buffers):
    #   optimized block 3 -> 128:
    #     conv3x3 3 -> 128           3 * 128 * 9 + 128                    =     3,584
    #     conv3x3 128 -> 128         128 * 128 * 9 + 128                  =   147,584
    #     shortcut conv1x1 3 -> 128  3 * 128 + 128                        =       512
    #     block total                                                     =   151,680
    #   down-block 128 -> 128:       2 * 147,584 + (128 * 128 + 128)      =   311,680
    #   2 plain blocks (identity shortcut): 2 * 2 * 147,584              =   590,336
    #   linear head 128 -> 1         128 + 1                              =       129
    #   total                        151,680 + 311,680 + 590,336 + 129    = 1,053,825
    d = ResNetDiscriminator(in_shape=IMG32)
    assert _n_params(d) == 151_680 + 311_680 + 590_336 + 129 == 1_053_825


# -- spectral norm and initialisation ------------------------------------------------------------
def _weight_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


@pytest.mark.parametrize("kw", [{}, {"num_classes": 3, "aux_dim": 3}])
def test_spectral_norm_on_every_critic_layer(kw: dict[str, Any]) -> None:
    d = ResNetDiscriminator(in_shape=IMG32, **kw)  # spectral_norm=True is the default
    layers = _weight_layers(d)
    assert len(layers) == 2 + 1 + 2 + 1 + 2 + 2 + 1 + (1 if kw else 0)  # convs, sc, heads
    for m in layers:
        assert parametrize.is_parametrized(m, "weight"), m
    if kw:
        assert parametrize.is_parametrized(d.proj.embed, "weight")  # SNEmbedID
    # after a few training-mode passes the power iteration has converged: sigma(W_sn) ~ 1
    # (checked at a narrow width: the same code path, a fraction of the time)
    d = _d(IMG16, **kw).train()
    layers = _weight_layers(d)
    with torch.no_grad():
        for _ in range(30):
            d(_x(IMG16, 2), *([torch.tensor([0, 2])] if kw else []))
    for m in layers:
        w = m.weight.detach().flatten(1)
        assert 0.9 < torch.linalg.matrix_norm(w, ord=2).item() < 1.05
    plain = ResNetDiscriminator(in_shape=IMG32, spectral_norm=False)
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())
    g = ResNetGenerator(latent_dim=128, out_shape=IMG32)  # the paper: no SN in G
    assert not any(parametrize.is_parametrized(m) for m in g.modules())
    g_sn = ResNetGenerator(latent_dim=16, out_shape=IMG16, channels=8, spectral_norm=True)
    assert all(parametrize.is_parametrized(m, "weight") for m in _weight_layers(g_sn))


def _xavier_bound(w: torch.Tensor, gain: float) -> float:
    fan_in = w.shape[1] * w[0, 0].numel()
    fan_out = w.shape[0] * w[0, 0].numel()
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


def test_sngan_initialisation() -> None:
    """Xavier uniform, gain sqrt(2) for the residual 3x3 convs, 1 for shortcuts, the
    linear layers and G's output conv; biases 0; BN scale 1, shift 0."""
    torch.manual_seed(0)
    g = ResNetGenerator(latent_dim=128, out_shape=IMG32)
    d = ResNetDiscriminator(in_shape=IMG32, spectral_norm=False)
    residual = [m for b in [*g.blocks, *d.blocks] for m in (b.conv1, b.conv2)]
    unit = [g.linear, g.conv_out, d.head] + [
        b.shortcut for b in [*g.blocks, *d.blocks] if b.shortcut is not None
    ]
    for layers, gain in ((residual, math.sqrt(2.0)), (unit, 1.0)):
        for m in layers:
            w = m.weight.detach()
            w2 = w if w.dim() > 2 else w[:, :, None, None]
            a = _xavier_bound(w2, gain)
            assert w.abs().max() <= a + 1e-7
            if w.numel() >= 10_000:  # U(-a, a) has std a / sqrt(3)
                assert w.std().item() == pytest.approx(a / math.sqrt(3), rel=0.05)
            assert torch.count_nonzero(m.bias) == 0
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    # init="default" keeps PyTorch's (non-zero) biases
    assert torch.count_nonzero(ResNetGenerator(8, IMG16, channels=8, init="default").linear.bias)


# -- the shortcut rewrites are the paper's functions -------------------------------------------
def test_cheaper_shortcut_order_is_the_same_function() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8, 8, dtype=torch.float64)
    g = GBlock(6, 5, 0, "sngan").double()
    up = F.interpolate(x, scale_factor=2.0, mode="nearest")
    assert torch.allclose(_shortcut_g(g, x), g.shortcut(up), atol=1e-12)  # paper: up, conv
    d = DBlock(6, 5, True, "sngan").double()
    assert torch.allclose(F.avg_pool2d(d.shortcut(x), 2), _shortcut_d(d, x), atol=1e-12)


def _shortcut_g(block: GBlock, x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(block.shortcut(x), scale_factor=2.0, mode="nearest")


def _shortcut_d(block: DBlock, x: torch.Tensor) -> torch.Tensor:
    return block.shortcut(F.avg_pool2d(x, 2))


def test_critic_features_are_the_pooled_vector_the_head_reads() -> None:
    d = _d(IMG32, spectral_norm=False).eval()
    x = _x(IMG32, 4)
    with torch.no_grad():
        out = d(x)
        h = F.relu(d.blocks(x)).sum(dim=(2, 3))  # ReLU + global sum pooling
        assert torch.allclose(out.features, h)
        assert torch.allclose(out.score, d.head(h).squeeze(1))


# -- the generic network checks (as tests/test_nets_contract.py does for every network) --------
CASES = [
    pytest.param("g", IMG16, {}, id="g16"),
    pytest.param("g", IMG32, {"spectral_norm": True}, id="g32-sn"),
    pytest.param("g", IMG16, {"num_classes": 3}, id="g16-cbn"),
    pytest.param("d", IMG16, {}, id="d16"),
    pytest.param("d", IMG32, {"spectral_norm": False, "init": "default"}, id="d32-plain"),
    pytest.param("d", IMG16, {"num_classes": 3, "aux_dim": 2}, id="d16-proj-aux"),
]


def _build(role: str, shape: tuple[int, ...], kw: dict[str, Any], seed: int = 0) -> nn.Module:
    return (_g if role == "g" else _d)(shape, seed=seed, **kw)


def _args(role: str, shape: tuple[int, ...], kw: dict[str, Any], n: int) -> tuple:
    first = _z(n) if role == "g" else _x(shape, n)
    return (first, torch.arange(n) % 3) if kw.get("num_classes") else (first,)


def _outs(net: nn.Module, args: tuple) -> list[torch.Tensor]:
    out = net(*args)
    return [t for t in out if t is not None] if isinstance(out, CriticOutput) else [out]


@pytest.mark.parametrize(("role", "shape", "kw"), CASES)
def test_deterministic_and_seeded(role: str, shape: tuple, kw: dict) -> None:
    a, b = _build(role, shape, kw, 7).eval(), _build(role, shape, kw, 7).eval()
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    args = _args(role, shape, kw, 3)
    with torch.no_grad():
        for ya, yb in zip(_outs(a, args), _outs(b, args), strict=True):
            assert torch.equal(ya, yb)
    c = _build(role, shape, kw, 8)
    assert any(not torch.equal(sa[k], v) for k, v in c.state_dict().items()), "seed ignored"


@pytest.mark.parametrize(("role", "shape", "kw"), CASES)
def test_safetensors_round_trip(role: str, shape: tuple, kw: dict, tmp_path: Path) -> None:
    a = _build(role, shape, kw, 0).train()
    with torch.no_grad():  # move BN statistics and spectral-norm vectors off their init
        _outs(a, _args(role, shape, kw, 4))
    a.eval()
    path = tmp_path / "net.safetensors"
    save_file({k: v.contiguous() for k, v in a.state_dict().items()}, str(path))
    b = _build(role, shape, kw, 1)
    b.load_state_dict(load_file(str(path)), strict=True)
    b.eval()
    args = _args(role, shape, kw, 3)
    with torch.no_grad():
        for ya, yb in zip(_outs(a, args), _outs(b, args), strict=True):
            assert torch.equal(ya, yb)


@pytest.mark.parametrize(("role", "shape", "kw"), CASES)
def test_gradients_reach_every_parameter(role: str, shape: tuple, kw: dict) -> None:
    net = _build(role, shape, kw).train()
    out = net(*_args(role, shape, kw, 6))
    ys = [out.score, out.aux] if isinstance(out, CriticOutput) else [out]
    gen = torch.Generator().manual_seed(0)
    sum((y * torch.randn(y.shape, generator=gen)).sum() for y in ys if y is not None).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} gets a zero gradient"


@pytest.mark.parametrize(("role", "shape", "kw"), CASES)
def test_batch_of_one_in_eval_mode(role: str, shape: tuple, kw: dict) -> None:
    net = _build(role, shape, kw).eval()
    with torch.no_grad():
        out = net(*_args(role, shape, kw, 1))
    if role == "g":
        assert out.shape == (1, *shape)
    else:
        assert out.score.shape == (1,) and out.features.shape == (1, 8)


def test_wrong_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="expects z"):
        _g(IMG16)(torch.randn(2, LATENT + 1))
    with pytest.raises(ValueError, match="expects images"):
        _d(IMG16)(torch.randn(2, 1, 16, 17))
    with pytest.raises(ValueError, match="unconditional"):
        _d(IMG16)(_x(IMG16, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="conditional"):
        _g(IMG16, num_classes=3)(_z(2))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 16), (32, 32), (3, 8, 8), (3, 128, 128)])
@pytest.mark.parametrize("name", ["resnet-g", "resnet-d"])
def test_unsupported_shapes_are_rejected(name: str, shape: tuple) -> None:
    build = _g if name == "resnet-g" else _d
    with pytest.raises(ValueError, match=r"16, 32, 64") as err:
        build(shape)
    assert isinstance(err.value, ConfigError)  # shown to the user without a traceback


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "resnet-g", "channels": 0},
        {"name": "resnet-g", "init": "dcgan"},
        {"name": "resnet-d", "num_classes": -1},
        {"name": "resnet-d", "base_channels": 64},
    ],
)
def test_registry_validation(spec: dict) -> None:
    with pytest.raises(ConfigError):
        NETS.validate(spec, "nets.x")


# -- class conditioning ----------------------------------------------------------------------
def test_projection_adds_the_class_inner_product() -> None:
    d = _d(IMG16, num_classes=3, spectral_norm=False).eval()
    x, y = _x(IMG16, 4), torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        out = d(x, y)
        plain = d.head(out.features).squeeze(1)
        inner = (d.proj.embed.weight[y] * out.features).sum(1)
    assert torch.allclose(out.score, plain + inner, atol=1e-6)


def test_conditional_generator_depends_on_the_labels() -> None:
    g = _g(IMG16, num_classes=3).train()
    with torch.no_grad():  # move the per-class gains off 1 so classes differ
        for m in g.modules():
            if hasattr(m, "gamma"):
                m.gamma.weight.normal_(1.0, 0.5)
    g.eval()
    z = _z(2)
    with torch.no_grad():
        a, b = g(z, torch.tensor([0, 0])), g(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)


# -- recipes ----------------------------------------------------------------------------------
def test_sngan_recipe_is_the_paper_setup() -> None:
    cfg = load_config("sngan-cifar10")
    assert cfg.nets["g"]["name"] == "resnet-g" and cfg.nets["g"]["channels"] == 256
    assert cfg.nets["d"]["name"] == "resnet-d" and cfg.nets["d"]["spectral_norm"] is True
    assert cfg.objective["name"] == "hinge"
    assert cfg.algorithm["n_critic"] == 5 and cfg.algorithm["latent_dim"] == 128
    for key in ("g", "d"):
        assert cfg.optim[key]["lr"] == pytest.approx(2e-4)
        assert cfg.optim[key]["betas"] == (0.0, 0.9)
    assert cfg.train.batch_size == 64 and cfg.train.lr_schedule == "linear"
    assert cfg.train.steps == 5 * 100_000  # critic steps: 100k generator steps
    assert cfg.data["name"] == "cifar10"


def test_recipes_build_on_bundled_data() -> None:
    """Offline: the recipes' networks, objective and optimisers on the digits at 32x32."""
    from ganforge.engine.run import build

    for recipe in ("sngan-cifar10", "dcgan-cifar10"):
        cfg = load_config(recipe, ["data={name: digits, resolution: 32}", "train.device=cpu"])
        built = build(cfg)
        g, d = built.algorithm.nets["g"], built.algorithm.nets["d"]
        assert g.out_shape == (1, 32, 32) and d.in_shape == (1, 32, 32)
        assert built.algorithm.latent_dim == 128


@pytest.mark.parametrize("recipe", ["sngan-cifar10", "dcgan-cifar10"])
def test_recipes_build_on_real_cifar10(recipe: str, shared_datasets: Path) -> None:
    from ganforge.engine.run import build

    root = shared_datasets / "cifar10-jpeg" / "cifar10-jpeg75.zip"
    cfg = load_config(recipe, [f"data.root={root}", "data.limit=64", "train.device=cpu"])
    built = build(cfg)
    assert built.dataset.shape == (3, 32, 32) and len(built.dataset) == 64
    g, d = built.algorithm.nets["g"], built.algorithm.nets["d"]
    if recipe == "sngan-cifar10":
        assert isinstance(g, ResNetGenerator) and isinstance(d, ResNetDiscriminator)
        assert _n_params(g) == 4_276_739 and _n_params(d) == 1_053_825


TINY = [
    "data={name: digits, resolution: 16}",
    "nets.g.channels=8",
    "nets.d.channels=8",
    "train.steps=2",
    "train.batch_size=16",
    "train.ema_start=0",
    "train.log_every=1",
    "train.sample_every=2",
    "train.ckpt_every=2",
    "train.n_samples=4",
    "train.tensorboard=false",
    "train.device=cpu",
]


def test_two_step_training_smoke(tmp_path: Path) -> None:
    """The sngan recipe as shipped but narrow (8 channels) on the bundled digits: trains
    (a critic step with the generator step, then a critic step), checkpoints and exports
    in seconds."""
    from ganforge.engine.run import load, train

    t0 = time.perf_counter()
    run = train("sngan-cifar10", TINY, out=tmp_path / "run", progress=False)
    assert time.perf_counter() - t0 < 10.0
    gen = load(run)
    x = gen.sample(3, seed=0)
    assert x.shape == (3, 1, 16, 16) and torch.isfinite(x).all()
    assert isinstance(gen.net, ResNetGenerator)


def test_conditional_training_smoke(tmp_path: Path) -> None:
    """With the cgan algorithm the builder fills num_classes from the data: conditional
    batch norm in G, the projection in D."""
    from ganforge.engine.run import load, train

    t0 = time.perf_counter()
    overrides = [*TINY, "algorithm.name=cgan"]
    run = train("sngan-cifar10", overrides, out=tmp_path / "run", progress=False)
    assert time.perf_counter() - t0 < 10.0
    gen = load(run)
    assert gen.num_classes == 10 and gen.net.num_classes == 10
    assert gen.sample(4, seed=0, labels=torch.tensor([0, 1, 2, 3])).shape == (4, 1, 16, 16)
