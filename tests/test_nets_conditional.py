"""Conditional options of the built-in networks: cGAN, conditional batch norm, projection, aux.

``mlp-g`` / ``dcgan-g``: ``num_classes``, ``condition`` (``concat``, ``cbn``), ``embed_dim``;
``mlp-d`` / ``dcgan-d``: ``num_classes``, ``condition`` (``concat``, ``projection``),
``embed_dim``, ``aux_dim``. Shapes, dependence on the labels, the projection and
conditional batch norm against their formulas, the auxiliary head's gradients, errors,
unchanged construction when the options are off, and registry validation.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import ganforge.nets  # noqa: F401  (registers the networks)
from ganforge.errors import ConfigError
from ganforge.nets import (
    CriticOutput,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
)
from ganforge.nn.conditional import ClassProjection, ConditionalBatchNorm
from ganforge.nn.layers import LEAKY_SLOPE, apply_spectral_norm, init_weights
from ganforge.nn.layers import activation as make_activation
from ganforge.registry import NETS

POINTS, IMG8, IMG16, IMG32 = (2,), (1, 8, 8), (1, 16, 16), (3, 32, 32)
LATENT, K = 6, 3  # latent size and number of classes used below
Y = torch.tensor([0, 1, 2, 0, 1, 2])  # every class present (gradients reach every row)


def _g(name: str, shape: tuple[int, ...], seed: int = 0, **kw: Any) -> nn.Module:
    torch.manual_seed(seed)
    spec = {"name": name, "latent_dim": LATENT, "out_shape": shape, **kw}
    return NETS.build(spec, f"nets.{name}")


def _d(name: str, shape: tuple[int, ...], seed: int = 0, **kw: Any) -> nn.Module:
    torch.manual_seed(seed)
    return NETS.build({"name": name, "in_shape": shape, **kw}, f"nets.{name}")


def _z(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, LATENT, generator=torch.Generator().manual_seed(seed))


def _x(shape: tuple[int, ...], n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _small(name: str) -> dict[str, Any]:
    return {"base_channels": 4} if name.startswith("dcgan") else {"hidden": (16, 12)}


def _dcgan_k(shape: tuple[int, ...], base: int = 4) -> int:
    """Channels K of dcgan-d's last 4x4 map."""
    return base * 2 ** (int(math.log2(shape[1])) - 3)


def _randomise_cbn(net: nn.Module) -> None:
    """Move every conditional batch norm's gain and bias off their initial 1 and 0."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, ConditionalBatchNorm):
                m.gamma.weight.copy_(1 + torch.randn(m.gamma.weight.shape, generator=g))
                m.beta.weight.copy_(torch.randn(m.beta.weight.shape, generator=g))


# -- shapes ----------------------------------------------------------------------------------------
G_CASES = [
    ("mlp-g", POINTS, {"condition": "concat"}),
    ("mlp-g", IMG8, {"condition": "concat", "embed_dim": 4}),
    ("mlp-g", IMG8, {"condition": "cbn", "norm": "batch"}),
    ("dcgan-g", IMG16, {"condition": "concat"}),
    ("dcgan-g", IMG32, {"condition": "concat", "embed_dim": 2}),
    ("dcgan-g", IMG16, {"condition": "cbn"}),
    ("dcgan-g", IMG32, {"condition": "cbn", "spectral_norm": True}),
]


@pytest.mark.parametrize(("name", "shape", "kw"), G_CASES)
def test_generator_shapes(name: str, shape: tuple, kw: dict) -> None:
    net = _g(name, shape, num_classes=K, **_small(name), **kw)
    for mode in (net.train, net.eval):
        mode()
        out = net(_z(6), Y)
        assert out.shape == (6, *shape) and torch.isfinite(out).all()
    first = next(m for m in net.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d)))
    width = first.in_features if isinstance(first, nn.Linear) else first.in_channels
    cbns = [m for m in net.modules() if isinstance(m, ConditionalBatchNorm)]
    if kw["condition"] == "concat":  # z' = [z, E[y]]
        e = kw.get("embed_dim", K)
        assert width == LATENT + e
        assert net.embed.weight.shape == (K, e)
        assert not cbns
    else:  # every batch norm is conditional, none plain
        assert width == LATENT and net.embed is None
        assert len(cbns) == (2 if name == "mlp-g" else int(math.log2(shape[1])) - 2)
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
        assert all(m.gamma.weight.shape == (K, m.num_features) for m in cbns)


D_MLP = [
    ({"num_classes": K, "condition": "concat"}, 0),
    ({"num_classes": K, "condition": "concat", "embed_dim": 5, "activation": "maxout"}, 0),
    ({"num_classes": K}, 0),  # projection is the default condition
    ({"aux_dim": 4}, 4),
    ({"num_classes": K, "aux_dim": K, "minibatch_std": 2, "minibatch_discrimination": 3}, K),
    ({"num_classes": K, "condition": "concat", "aux_dim": 2, "spectral_norm": True}, 2),
]


@pytest.mark.parametrize("shape", [POINTS, IMG8])
@pytest.mark.parametrize(("kw", "aux"), D_MLP)
def test_mlp_d_shapes(shape: tuple, kw: dict, aux: int) -> None:
    net = _d("mlp-d", shape, hidden=(16, 12), **kw)
    y = Y if "num_classes" in kw else None
    for mode in (net.train, net.eval):
        mode()
        out = net(_x(shape, 6), y)
        assert isinstance(out, CriticOutput)
        assert out.score.shape == (6,) and out.features.shape == (6, 12)
        assert (out.aux is None) if not aux else (out.aux.shape == (6, aux))
    concat = kw.get("condition") == "concat"
    first = net.body[0].linear if kw.get("activation") == "maxout" else net.body[0]
    assert first.in_features == math.prod(shape) + (kw.get("embed_dim", K) if concat else 0)
    assert (net.embed is not None) == concat
    assert (net.proj is not None) == ("num_classes" in kw and not concat)
    assert (net.aux_head is not None) == bool(aux)


D_DCGAN = [
    ({"num_classes": K, "condition": "concat"}, 0),
    ({"num_classes": K, "condition": "concat", "embed_dim": 2, "norm": "layer"}, 0),
    ({"num_classes": K}, 0),
    ({"aux_dim": 5}, 5),
    ({"num_classes": K, "aux_dim": K, "minibatch_std": 2, "minibatch_discrimination": 3}, K),
    ({"num_classes": K, "spectral_norm": True, "norm": "none", "aux_dim": 2}, 2),
]


@pytest.mark.parametrize("shape", [IMG16, IMG32])
@pytest.mark.parametrize(("kw", "aux"), D_DCGAN)
def test_dcgan_d_shapes(shape: tuple, kw: dict, aux: int) -> None:
    net = _d("dcgan-d", shape, base_channels=4, **kw)
    y = Y if "num_classes" in kw else None
    f = 16 * _dcgan_k(shape)
    for mode in (net.train, net.eval):
        mode()
        out = net(_x(shape, 6), y)
        assert out.score.shape == (6,) and out.features.shape == (6, f)
        assert (out.aux is None) if not aux else (out.aux.shape == (6, aux))
    concat = kw.get("condition") == "concat"
    # concat: e constant label maps appended to the image channels
    assert net.body[0].in_channels == shape[0] + (kw.get("embed_dim", K) if concat else 0)
    if net.proj is not None:  # projection on the flattened 4x4 map
        assert net.proj.embed.weight.shape == (K, f)
    if aux:
        assert net.aux_head.in_features == f


# -- the labels change the output, and only when the network is conditional ------------------------
@pytest.mark.parametrize(("name", "shape", "kw"), G_CASES)
def test_generator_label_changes_the_sample(name: str, shape: tuple, kw: dict) -> None:
    net = _g(name, shape, num_classes=K, **_small(name), **kw).train()
    with torch.no_grad():
        for _ in range(3):  # running statistics off their initial 0 / 1
            net(_z(6, seed=9), Y)
    net.eval()
    z = _z(6)
    if kw["condition"] == "cbn":
        with torch.no_grad():  # gain 1, bias 0 at init: the same for every class
            assert torch.equal(net(z, Y), net(z, (Y + 1) % K))
        _randomise_cbn(net)
    with torch.no_grad():
        a, b = net(z, Y), net(z, (Y + 1) % K)
        y0 = Y.clone()
        y0[0] = (y0[0] + 1) % K
        c = net(z, y0)
    for i in range(6):  # every sample depends on its label
        assert not torch.allclose(a[i], b[i], atol=1e-6), i
    # in eval mode a sample depends on its own label only
    assert not torch.allclose(a[0], c[0], atol=1e-6)
    assert torch.equal(a[1:], c[1:])


D_LABEL_CASES = [
    ("mlp-d", POINTS, {"condition": "concat"}),
    ("mlp-d", IMG8, {"condition": "projection"}),
    ("mlp-d", IMG8, {"condition": "projection", "spectral_norm": True}),
    ("dcgan-d", IMG16, {"condition": "concat"}),
    ("dcgan-d", IMG32, {"condition": "projection", "norm": "none", "spectral_norm": True}),
]


@pytest.mark.parametrize(("name", "shape", "kw"), D_LABEL_CASES)
def test_critic_label_changes_the_score(name: str, shape: tuple, kw: dict) -> None:
    net = _d(name, shape, num_classes=K, **_small(name), **kw).eval()
    x = _x(shape, 6)
    with torch.no_grad():
        a, b = net(x, Y), net(x, (Y + 1) % K)
    assert ((a.score - b.score).abs() > 1e-7).all()
    if kw["condition"] == "projection":  # the trunk does not see y
        assert torch.equal(a.features, b.features)


@pytest.mark.parametrize("name", ["mlp-g", "dcgan-g", "mlp-d", "dcgan-d"])
def test_unconditional_networks_take_no_labels(name: str) -> None:
    shape = IMG16
    gen = name.endswith("-g")
    extra = {} if gen else {"aux_dim": 2}
    net = (_g if gen else _d)(name, shape, **_small(name), **extra).eval()
    inp = _z(4) if gen else _x(shape, 4)
    with torch.no_grad():
        a, b = net(inp), net(inp, None)
    for u, v in zip(a if not gen else [a], b if not gen else [b], strict=True):
        assert torch.equal(u, v)
    with pytest.raises(ValueError, match=r"unconditional \(num_classes=0\).*num_classes=K"):
        net(inp, torch.zeros(4, dtype=torch.long))


# -- the projection and conditional batch norm against their formulas ------------------------------
@pytest.mark.parametrize(
    ("name", "shape", "kw"),
    [
        ("mlp-d", POINTS, {}),
        ("mlp-d", IMG8, {"spectral_norm": True, "minibatch_std": 2, "init": "dcgan"}),
        ("dcgan-d", IMG16, {}),  # 4x4 conv head
        ("dcgan-d", IMG16, {"norm": "none", "spectral_norm": True}),
        ("dcgan-d", IMG32, {"minibatch_discrimination": 3, "minibatch_std": 2}),  # Linear head
    ],
)
def test_projection_is_head_plus_inner_product(name: str, shape: tuple, kw: dict) -> None:
    net = _d(name, shape, num_classes=K, **_small(name), **kw).train()
    with torch.no_grad():  # move batch-norm statistics and spectral-norm vectors off init
        net(_x(shape, 6, seed=5), Y)
    net.eval()
    x = _x(shape, 6)
    with torch.no_grad():
        out = net(x, Y)
        h = out.features  # (N, F), per sample
        if name == "mlp-d":
            head_in = h
            if net.mbstd is not None:
                head_in = net.mbstd(h)
            psi = net.head(head_in).squeeze(1)
        else:
            k = _dcgan_k(shape)
            head_in = h.view(6, k, 4, 4)
            if net.mbstd is not None:
                head_in = net.mbstd(head_in)
            if net.mbdisc is not None:
                closeness = net.mbdisc(h)[:, h.shape[1] :]
                psi = net.head(torch.cat([head_in.flatten(1), closeness], 1)).squeeze(1)
            else:
                psi = net.head(head_in).reshape(6)
        e = net.proj.embed.weight  # (K, F); the normalised table with spectral norm
        by_hand = psi + (e[Y] * h).sum(dim=1)  # Miyato & Koyama 2018, eq. 3
    assert e.shape == (K, h.shape[1])
    torch.testing.assert_close(out.score, by_hand, rtol=1e-5, atol=1e-6)
    if kw.get("spectral_norm"):
        assert parametrize.is_parametrized(net.proj.embed, "weight")
        sigma = torch.linalg.matrix_norm(e, ord=2).item()
        assert 0.9 < sigma < 1.05
    else:
        assert not parametrize.is_parametrized(net.proj.embed)


def test_projection_embedding_starts_at_the_scale_of_the_head() -> None:
    for init in ("default", "dcgan"):
        net = _d("mlp-d", POINTS, hidden=(256,), num_classes=50, init=init)
        e = net.proj.embed.weight.detach()
        if init == "default":  # U(-1/sqrt(F), 1/sqrt(F)), like Linear(F, 1).weight
            bound = 1 / math.sqrt(256)
            assert e.abs().max() <= bound
            assert abs(e.std().item() / (bound / math.sqrt(3)) - 1) < 0.05
        else:  # N(0, 0.02), like the head under the dcgan init
            assert abs(e.std().item() / 0.02 - 1) < 0.05


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 4, 4), (6, 5, 7)])
def test_cbn_at_init_is_batch_norm_without_affine(shape: tuple) -> None:
    cbn = ConditionalBatchNorm(5, K)
    bn = nn.BatchNorm1d(5, affine=False) if len(shape) < 4 else nn.BatchNorm2d(5, affine=False)
    g = torch.Generator().manual_seed(0)
    for step in range(3):  # training mode, and running statistics updated identically
        x = torch.randn(shape, generator=g) * 3 + step
        assert torch.equal(cbn(x, Y), bn(x))
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.equal(getattr(cbn, name), getattr(bn, name)), name
    cbn.eval(), bn.eval()
    x = torch.randn(shape, generator=g)
    assert torch.equal(cbn(x, Y), bn(x))


def test_cbn_applies_the_gain_and_bias_of_each_sample_class() -> None:
    cbn = ConditionalBatchNorm(4, K)
    with torch.no_grad():
        cbn.gamma.weight.copy_(torch.arange(12.0).view(K, 4) + 1)
        cbn.beta.weight.copy_(-torch.arange(12.0).view(K, 4))
    x = torch.randn(6, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    x_hat = nn.functional.batch_norm(x, None, None, training=True)  # (x - mu) / sqrt(var + eps)
    gamma, beta = cbn.gamma.weight[Y], cbn.beta.weight[Y]  # (N, C) rows of each class
    expected = gamma[:, :, None, None] * x_hat + beta[:, :, None, None]
    torch.testing.assert_close(cbn(x, Y), expected)
    with pytest.raises(ValueError, match=r"labels y of shape \(6,\)"):
        cbn(x, Y[:5])


@pytest.mark.parametrize(("name", "shape"), [("mlp-g", IMG8), ("dcgan-g", IMG16)])
def test_cbn_generator_at_init_is_the_batch_norm_generator(name: str, shape: tuple) -> None:
    # init="default": plain BN has weight 1, bias 0, and neither BN nor CBN draws random
    # numbers, so both generators get the same (transposed) linear weights.
    kw = {**_small(name), "norm": "batch", "init": "default"}
    plain = _g(name, shape, **kw).train()
    cbn = _g(name, shape, num_classes=K, condition="cbn", **kw).train()
    plain_w = {k: v for k, v in plain.state_dict().items() if k.endswith("weight")}
    for k, v in plain_w.items():
        if v.dim() > 1:
            assert torch.equal(cbn.state_dict()[k], v), k
    z = _z(6)
    assert torch.equal(cbn(z, Y), plain(z))


# -- the auxiliary head ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "shape", "kw"),
    [
        ("mlp-d", POINTS, {"aux_dim": 4}),
        ("mlp-d", IMG8, {"aux_dim": K, "num_classes": K, "minibatch_discrimination": 3}),
        ("dcgan-d", IMG16, {"aux_dim": 4, "norm": "layer"}),
        ("dcgan-d", IMG32, {"aux_dim": K, "num_classes": K, "spectral_norm": True}),
    ],
)
def test_aux_head_gradients_reach_the_trunk(name: str, shape: tuple, kw: dict) -> None:
    net = _d(name, shape, **_small(name), **kw).train()
    out = net(_x(shape, 6), Y if "num_classes" in kw else None)
    assert out.aux.shape == (6, kw["aux_dim"])
    # an AC-GAN class loss alone: gradients in the aux head and every trunk layer
    nn.functional.cross_entropy(out.aux, Y % kw["aux_dim"]).backward()
    for pname, p in net.named_parameters():
        if pname.startswith(("body.", "aux_head.")):
            assert p.grad is not None and p.grad.abs().sum() > 0, pname
        if pname.startswith(("head.", "proj.", "mbdisc.")):  # score-only parts
            assert p.grad is None or p.grad.abs().sum() == 0, pname
    # aux reads the per-sample features: it is a linear map of CriticOutput.features
    net.eval()
    with torch.no_grad():
        out = net(_x(shape, 6), Y if "num_classes" in kw else None)
        torch.testing.assert_close(out.aux, net.aux_head(out.features))


@pytest.mark.parametrize(
    ("name", "shape", "kw"),
    [
        ("mlp-g", POINTS, {"num_classes": K}),
        ("mlp-g", IMG8, {"num_classes": K, "condition": "cbn", "norm": "batch"}),
        ("dcgan-g", IMG16, {"num_classes": K, "condition": "cbn"}),
        ("mlp-d", POINTS, {"num_classes": K, "condition": "concat", "aux_dim": 2}),
        ("mlp-d", IMG8, {"num_classes": K, "spectral_norm": True, "aux_dim": K}),
        ("dcgan-d", IMG16, {"num_classes": K, "condition": "concat", "aux_dim": 2}),
        ("dcgan-d", IMG16, {"num_classes": K, "norm": "none", "minibatch_std": 2}),
    ],
)
def test_gradients_reach_every_parameter(name: str, shape: tuple, kw: dict) -> None:
    gen = name.endswith("-g")
    net = (_g if gen else _d)(name, shape, **_small(name), **kw).train()
    if gen:
        _randomise_cbn(net)  # gains away from 1 so the loss below is not constant in them
        out = net(_z(6), Y).flatten(1)
        w = torch.randn(out.shape, generator=torch.Generator().manual_seed(0))
        loss = (out * w).sum()
    else:
        out = net(_x(shape, 6), Y)
        loss = (out.score * torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0, 2.0])).sum()
        if out.aux is not None:
            loss = loss + out.aux.square().sum()
    loss.backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} gets a zero gradient"


def test_state_dict_round_trip() -> None:
    for gen, name, shape, kw in [
        (True, "dcgan-g", IMG16, {"num_classes": K, "condition": "cbn"}),
        (False, "dcgan-d", IMG16, {"num_classes": K, "spectral_norm": True, "aux_dim": 2}),
    ]:
        build = _g if gen else _d
        a = build(name, shape, seed=0, **_small(name), **kw).train()
        with torch.no_grad():
            a(_z(6) if gen else _x(shape, 6), Y)
        b = build(name, shape, seed=1, **_small(name), **kw)
        b.load_state_dict(a.state_dict(), strict=True)
        a.eval(), b.eval()
        inp = _z(6, seed=2) if gen else _x(shape, 6, seed=2)
        with torch.no_grad():
            ya, yb = a(inp, Y), b(inp, Y)
        for u, v in zip([ya] if gen else ya, [yb] if gen else yb, strict=True):
            assert torch.equal(u, v)


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mlp-g", "dcgan-g", "mlp-d", "dcgan-d"])
def test_bad_labels_are_rejected_with_what_is_expected(name: str) -> None:
    gen = name.endswith("-g")
    net = (_g if gen else _d)(name, IMG16, **_small(name), num_classes=K).eval()
    inp = _z(4) if gen else _x(IMG16, 4)
    expected = rf"{name} .*int64 class labels of shape \(4,\) .*\[0, {K - 1}\]"
    with pytest.raises(ValueError, match=rf"conditional \(num_classes={K}\).*got no labels"):
        net(inp)
    for y, got in [
        (torch.tensor([0, 1, 2, 3]), "got labels from 0 to 3"),
        (torch.tensor([0, -1, 2, 1]), "got labels from -1 to 2"),
        (torch.tensor([0, 1, 2]), r"got shape \(3,\)"),
        (torch.zeros(4, 1, dtype=torch.long), r"got shape \(4, 1\)"),
        (torch.zeros(4), "got dtype torch.float32"),
        ([0, 1, 2, 0], "got a list"),
    ]:
        with pytest.raises(ValueError, match=expected + ".*" + got):
            net(inp, y)
    assert net(inp, torch.tensor([0, 1, 2, 2], dtype=torch.int32)) is not None  # any int dtype


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("mlp-g", {"hidden": (8,)}),  # norm="none" is mlp-g's default
        ("dcgan-g", {"base_channels": 4, "norm": "none"}),
    ],
)
def test_cbn_needs_batch_norm(name: str, kw: dict) -> None:
    with pytest.raises(ValueError, match=rf"{name}: condition='cbn' .* norm='none' .*'batch'"):
        _g(name, IMG16, num_classes=K, condition="cbn", **kw)
    _g(name, IMG16, condition="cbn", **kw)  # not read when unconditional


def test_cbn_needs_a_hidden_layer() -> None:
    with pytest.raises(ValueError, match=r"mlp-g: condition='cbn' .*hidden=\(\)"):
        _g("mlp-g", POINTS, hidden=(), norm="batch", num_classes=K, condition="cbn")


@pytest.mark.parametrize(
    ("cls", "args", "kw", "match"),
    [
        (MLPGenerator, (4, POINTS), {"num_classes": -1}, "num_classes"),
        (DCGANGenerator, (4, IMG16), {"num_classes": 10001}, "num_classes"),
        (MLPGenerator, (4, POINTS), {"num_classes": K, "embed_dim": 0}, "embed_dim"),
        (DCGANGenerator, (4, IMG16), {"num_classes": K, "condition": "projection"}, "condition"),
        (MLPDiscriminator, (POINTS,), {"num_classes": K, "condition": "cbn"}, "condition"),
        (MLPDiscriminator, (POINTS,), {"aux_dim": -2}, "aux_dim"),
        (DCGANDiscriminator, (IMG16,), {"aux_dim": 10001}, "aux_dim"),
        (DCGANDiscriminator, (IMG16,), {"num_classes": K, "embed_dim": -3}, "embed_dim"),
    ],
)
def test_direct_construction_rejects_bad_values(
    cls: type, args: tuple, kw: dict, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        cls(*args, **kw)


# -- registry validation -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    [
        {"name": "mlp-g", "num_classes": -1},
        {"name": "mlp-g", "num_classes": 10001},
        {"name": "dcgan-g", "num_classes": 2.5},
        {"name": "mlp-g", "condition": "projection"},
        {"name": "dcgan-g", "condition": "film"},
        {"name": "dcgan-g", "embed_dim": 0},
        {"name": "mlp-g", "aux_dim": 2},  # a critic option only
        {"name": "mlp-d", "condition": "cbn"},
        {"name": "dcgan-d", "condition": "concatenate"},
        {"name": "mlp-d", "aux_dim": -1},
        {"name": "dcgan-d", "aux_dim": 10001},
        {"name": "dcgan-d", "num_classes": "ten"},
        {"name": "mlp-d", "embed_dim": -4},
    ],
)
def test_validation_rejects_bad_values(spec: dict) -> None:
    with pytest.raises(ConfigError):
        NETS.validate(spec, "nets.x")


def test_validation_accepts_the_options() -> None:
    g = {"name": "dcgan-g", "num_classes": 10, "condition": "cbn"}
    assert NETS.validate(g, "nets.g") == {**g, "base_channels": 64, "norm": "batch",
                                          "spectral_norm": False, "init": "dcgan",
                                          "embed_dim": None}  # fmt: skip
    d = {"name": "mlp-d", "num_classes": 10, "condition": "concat", "embed_dim": 4, "aux_dim": 10}
    assert NETS.validate(d, "nets.d") == {
        **d, "hidden": (128, 128), "activation": "leaky_relu", "dropout": 0.0,
        "spectral_norm": False, "init": "default", "pieces": 5, "minibatch_std": 0,
        "minibatch_discrimination": 0, "minibatch_kernel_dim": 5,
    }  # fmt: skip
    # num_classes is left to the builder (filled from the data) when a recipe leaves it out
    assert "num_classes" not in NETS.validate({"name": "mlp-g"}, "nets.g")
    with pytest.raises(ValueError, match="condition='cbn'"):  # a cross-option check: at build
        NETS.build({**g, "norm": "none", "latent_dim": 4, "out_shape": IMG16}, "nets.g")


# -- options off: the networks of before, bit for bit ----------------------------------------------
class _Net(nn.Module):
    def __init__(self, **parts: nn.Module) -> None:
        super().__init__()
        for k, v in parts.items():
            setattr(self, k, v)


def _old_mlp_g(latent: int, shape: tuple, hidden: tuple, activation: str, norm: str,
               out_activation: str, spectral_norm: bool, init: str) -> nn.Module:  # fmt: skip
    """mlp-g as it was built before the options, module by module."""
    layers: list[nn.Module] = []
    width = latent
    for h in hidden:
        layers.append(nn.Linear(width, h, bias=norm != "batch"))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(h))
        layers.append(make_activation(activation))
        width = h
    layers += [nn.Linear(width, math.prod(shape)), make_activation(out_activation)]
    net = _Net(net=nn.Sequential(*layers))
    init_weights(net, init)
    return apply_spectral_norm(net) if spectral_norm else net


def _old_dcgan_g(latent: int, shape: tuple, base: int, norm: str, spectral_norm: bool,
                 init: str) -> nn.Module:  # fmt: skip
    """dcgan-g as it was built before the options, module by module."""
    n_up = int(math.log2(shape[1])) - 2

    def block(c_in: int, c_out: int, stride: int, padding: int) -> list[nn.Module]:
        out: list[nn.Module] = [
            nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=norm != "batch")
        ]
        if norm == "batch":
            out.append(nn.BatchNorm2d(c_out))
        return [*out, nn.ReLU()]

    ch = base * 2 ** (n_up - 1)
    layers = block(latent, ch, 1, 0)
    for _ in range(n_up - 1):
        layers += block(ch, ch // 2, 2, 1)
        ch //= 2
    layers += [nn.ConvTranspose2d(ch, shape[0], 4, 2, 1), nn.Tanh()]
    net = _Net(net=nn.Sequential(*layers))
    init_weights(net, init)
    return apply_spectral_norm(net) if spectral_norm else net


def _old_mlp_d(in_dim: int, hidden: tuple, spectral_norm: bool, init: str) -> nn.Module:
    """mlp-d (leaky_relu, no dropout) as it was built before the options."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), make_activation("leaky_relu")]
        width = h
    net = _Net(body=nn.Sequential(*layers), head=nn.Linear(width, 1))
    init_weights(net, init)
    return apply_spectral_norm(net) if spectral_norm else net


def _old_dcgan_d(shape: tuple, base: int, norm: str, spectral_norm: bool, init: str) -> nn.Module:
    """dcgan-d (no dropout) as it was built before the options."""
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
    net = _Net(body=nn.Sequential(*layers), head=nn.Conv2d(ch, 1, 4, 1, 0))
    init_weights(net, init)
    return apply_spectral_norm(net) if spectral_norm else net


def _built_with_rng(build: Any) -> tuple[nn.Module, torch.Tensor]:
    """Build with seed 5; return the net and the next random numbers of the global stream."""
    torch.manual_seed(5)
    net = build()
    return net, torch.rand(4)


def _assert_same(new: tuple[nn.Module, torch.Tensor], old: tuple[nn.Module, torch.Tensor]) -> None:
    (a, ra), (b, rb) = new, old
    assert torch.equal(ra, rb), "a different number of random draws at construction"
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


#: every mlp-g option away from its default
MLP_G_ALL = {"hidden": (8, 8), "norm": "batch", "init": "dcgan", "spectral_norm": True,
             "activation": "leaky_relu", "out_activation": "tanh"}  # fmt: skip
#: the critics' batch layers (and maxout, dropout)
BATCH_OPTIONS = [
    ("mlp-d", IMG8, {"hidden": (8,), "activation": "maxout", "minibatch_std": 2,
                     "minibatch_discrimination": 3}),
    ("dcgan-d", IMG16, {"base_channels": 4, "minibatch_std": 2, "minibatch_discrimination": 3,
                        "dropout": 0.2}),
]  # fmt: skip
OFF_G = {"num_classes": 0, "condition": "concat", "embed_dim": None}
OFF_D = {"num_classes": 0, "condition": "projection", "embed_dim": None, "aux_dim": 0}


@pytest.mark.parametrize(
    ("name", "shape", "kw"),
    [
        ("mlp-g", POINTS, {}),
        ("mlp-g", IMG8, MLP_G_ALL),
        ("dcgan-g", IMG16, {"base_channels": 4}),
        ("dcgan-g", IMG32, {"base_channels": 4, "norm": "none", "init": "default"}),
        ("dcgan-g", IMG16, {"base_channels": 4, "spectral_norm": True}),
    ],
)
def test_generators_with_options_off_are_unchanged(name: str, shape: tuple, kw: dict) -> None:
    if name == "mlp-g":
        full = {"hidden": (128, 128), "activation": "relu", "norm": "none", "init": "default",
                "out_activation": "none", "spectral_norm": False, **kw}  # fmt: skip
        old = _built_with_rng(lambda: _old_mlp_g(LATENT, shape, **full))
    else:
        full = {"norm": "batch", "spectral_norm": False, "init": "dcgan", **kw}
        full.pop("base_channels")
        old = _built_with_rng(lambda: _old_dcgan_g(LATENT, shape, base=4, **full))
    spec = {"name": name, "latent_dim": LATENT, "out_shape": shape, **kw}
    new = _built_with_rng(lambda: NETS.build(spec))
    explicit = _built_with_rng(lambda: NETS.build({**spec, **OFF_G}))
    unread = _built_with_rng(lambda: NETS.build({**spec, "condition": "cbn", "embed_dim": 7}))
    for built in (new, explicit, unread):
        _assert_same(built, old)
        assert built[0].embed is None and not built[0].cbn
    z = _z(5)
    for mode in ("train", "eval"):
        getattr(new[0], mode)(), getattr(old[0], mode)()
        with torch.no_grad():
            z_in = z if name == "mlp-g" else z[:, :, None, None]
            assert torch.equal(new[0](z), old[0].net(z_in).view(5, *shape))


@pytest.mark.parametrize(
    ("name", "shape", "kw"),
    [
        ("mlp-d", POINTS, {}),
        ("mlp-d", IMG8, {"hidden": (8, 8, 8), "spectral_norm": True, "init": "dcgan"}),
        ("dcgan-d", IMG16, {"base_channels": 4}),
        ("dcgan-d", IMG32, {"base_channels": 4, "norm": "layer", "init": "default"}),
        ("dcgan-d", IMG16, {"base_channels": 4, "norm": "none", "spectral_norm": True}),
    ],
)
def test_critics_with_options_off_are_unchanged(name: str, shape: tuple, kw: dict) -> None:
    if name == "mlp-d":
        full = {"hidden": (128, 128), "spectral_norm": False, "init": "default", **kw}
        old = _built_with_rng(lambda: _old_mlp_d(math.prod(shape), **full))
    else:
        full = {"norm": "batch", "spectral_norm": False, "init": "dcgan", **kw}
        full.pop("base_channels")
        old = _built_with_rng(lambda: _old_dcgan_d(shape, base=4, **full))
    spec = {"name": name, "in_shape": shape, **kw}
    new = _built_with_rng(lambda: NETS.build(spec))
    explicit = _built_with_rng(lambda: NETS.build({**spec, **OFF_D}))
    unread = _built_with_rng(lambda: NETS.build({**spec, "condition": "concat", "embed_dim": 7}))
    for built in (new, explicit, unread):
        _assert_same(built, old)
        net = built[0]
        assert net.embed is None and net.proj is None and net.aux_head is None
    x = _x(shape, 4)
    for mode in ("train", "eval"):
        getattr(new[0], mode)(), getattr(old[0], mode)()
        with torch.no_grad():
            out, h = new[0](x), old[0].body(x if name == "dcgan-d" else x.flatten(1))
            assert out.aux is None
            assert torch.equal(out.features, h.flatten(1))
            assert torch.equal(out.score, old[0].head(h).reshape(4))


def test_batch_options_with_conditioning_off_are_unchanged() -> None:
    # the minibatch layers and maxout, with and without the explicit defaults of this file
    for name, shape, kw in BATCH_OPTIONS:
        spec = {"name": name, "in_shape": shape, **kw}
        a = _built_with_rng(lambda spec=spec: NETS.build(spec))
        b = _built_with_rng(lambda spec=spec: NETS.build({**spec, **OFF_D}))
        _assert_same(a, b)
        assert not any(k.startswith(("embed", "proj", "aux_head")) for k in a[0].state_dict())


def test_class_projection_module() -> None:
    proj = ClassProjection(K, 5)
    h = torch.randn(6, 5)
    torch.testing.assert_close(proj(h, Y), (proj.embed.weight[Y] * h).sum(1))
    with pytest.raises(ValueError, match="init"):
        ClassProjection(K, 5, init="xavier")


def test_conditioning_augmentation_kl_and_sampling() -> None:
    from ganforge.nn.conditional import ConditioningAugmentation

    torch.manual_seed(0)
    ca = ConditioningAugmentation(6, cond_dim=3)
    with torch.no_grad():  # mu = 0, log sigma = 0: c ~ N(0, I) and KL = 0
        ca.fc.weight.zero_()
        ca.fc.bias.zero_()
    c, kl = ca(torch.randn(4000, 6))
    assert kl.item() == pytest.approx(0.0, abs=1e-7)
    assert c.mean().item() == pytest.approx(0.0, abs=0.05) and c.std().item() == pytest.approx(
        1.0, abs=0.05
    )
    with torch.no_grad():  # mu = 1, sigma = e: KL = 1/2 (1 + e^2 - 1 - 2) per dim, 3 dims
        ca.fc.bias.copy_(torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]))
    _, kl = ca(torch.randn(8, 6))
    assert kl.item() == pytest.approx(3 * 0.5 * (1 + math.e**2 - 1 - 2), rel=1e-5)
    ca.eval()
    c, _ = ca(torch.randn(2, 6))
    assert torch.equal(c, torch.ones(2, 3))  # eval: the mean
    with pytest.raises(ValueError, match=">= 1"):
        ConditioningAugmentation(0)
