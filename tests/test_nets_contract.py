"""Contract tests for every network in the NETS registry.

Each registered network must have an entry in CONTRACT (its role, the sample shapes it
supports, small constructor arguments and option variants to exercise), so that a new
network cannot be registered without passing the same checks: shapes and dtype, output
range, determinism, safetensors round trip, gradients to every parameter, batch of one.

Roles: ``generator`` (z -> sample), ``encoder`` (sample -> z), ``critic`` (sample ->
CriticOutput; ``patch``: the score is a map (N, h, w); ``aux``: the width of aux) and
``translator`` (image [, labels] -> image; ``out`` maps the input shape to the output
shape, ``range`` bounds the output, ``labels`` is the number of domains of a
label-conditioned translator). ``any_size``: the network reads any spatial size, so the
wrong-shape check changes the channel count instead of the width.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.utils import parametrize

import ganforge.nets  # noqa: F401  (registers the networks)
from ganforge.errors import ConfigError
from ganforge.nets import CriticOutput
from ganforge.registry import NETS

LATENT_DIM = 8
POINTS, IMG16, IMG32, IMG64 = (2,), (1, 16, 16), (3, 32, 32), (1, 64, 64)
IMG28 = (1, 28, 28)
IMG8 = (3, 8, 8)

# name -> role, supported shapes, small kwargs, option variants, whether output is tanh-bounded
CONTRACT: dict[str, dict[str, Any]] = {
    "mlp-g": {
        "role": "generator",
        "shapes": [POINTS, IMG16],
        "kwargs": {"hidden": (16, 16)},
        "variants": [
            {},
            {"spectral_norm": True},
            {
                "norm": "batch",
                "out_activation": "tanh",
                "activation": "leaky_relu",
                "init": "dcgan",
            },
        ],
        "tanh": False,
    },
    "mlp-e": {
        "role": "encoder",
        "shapes": [POINTS, IMG16],
        "kwargs": {"hidden": (16, 16)},
        "variants": [{}, {"spectral_norm": True}, {"norm": "batch", "activation": "relu"}],
    },
    "mlp-d": {
        "role": "critic",
        "shapes": [POINTS, IMG16],
        "kwargs": {"hidden": (16, 16)},
        "variants": [{}, {"spectral_norm": True}, {"dropout": 0.3, "activation": "relu"}],
    },
    "dcgan-g": {
        "role": "generator",
        "shapes": [IMG16, IMG32, IMG64],
        "kwargs": {"base_channels": 4},
        "variants": [{}, {"spectral_norm": True}, {"norm": "none", "init": "default"}],
        "tanh": True,
    },
    "dcgan-d": {
        "role": "critic",
        "shapes": [IMG16, IMG32, IMG64],
        "kwargs": {"base_channels": 4},
        "variants": [{}, {"spectral_norm": True, "norm": "none"}, {"norm": "layer"}],
    },
    "infogan-g": {
        "role": "generator",
        "shapes": [IMG16, IMG28, IMG32],
        "kwargs": {"base_channels": 4, "hidden": 16},
        "variants": [{}, {"spectral_norm": True}, {"norm": "none", "init": "default"}],
        "tanh": True,
    },
    "infogan-d": {
        "role": "critic",
        "shapes": [IMG16, IMG28, IMG32],
        # hidden 32: at 16 the 15 initial power iterations of spectral norm have not
        # converged on this random 128 x 16 matrix (sigma 1.08 after normalising)
        "kwargs": {"base_channels": 4, "hidden": 32},
        "variants": [
            {},
            {"spectral_norm": True, "norm": "none"},
            {"init": "default", "negative_slope": 0.01},
        ],
    },
    "resnet-g": {
        "role": "generator",
        "shapes": [IMG16, IMG32, IMG64],
        "kwargs": {"channels": 4},
        "variants": [{}, {"spectral_norm": True}, {"init": "default"}],
        "tanh": True,
    },
    "resnet-d": {
        "role": "critic",
        "shapes": [IMG16, IMG32, IMG64],
        "kwargs": {"channels": 4},
        "variants": [{}, {"spectral_norm": False}, {"init": "default"}],
    },
    # -- image-to-image translation (tiny widths: the checks are about wiring) --------------
    "unet-g": {
        "role": "translator",
        "shapes": [IMG16, IMG32],
        # eval-mode dropout (the paper's test-time noise) is checked in test_nets_translation
        "kwargs": {"base_channels": 4, "max_channels": 16, "depth": 4, "dropout_at_test": False},
        "variants": [
            {},
            {"spectral_norm": True, "norm": "none", "dropout": 0.0},
            {"norm": "instance", "skips": False, "init": "default"},
        ],
    },
    "patchgan-d": {
        "role": "critic",
        "patch": True,
        "any_size": True,
        "shapes": [IMG32, IMG64],
        "kwargs": {"base_channels": 2},
        "variants": [
            {},
            {"receptive_field": 1},
            {"receptive_field": 16, "norm": "instance", "spectral_norm": True},
        ],
    },
    "resnet-translator": {
        "role": "translator",
        "shapes": [IMG16, IMG32],
        "kwargs": {"base_channels": 4, "n_blocks": 1},
        "variants": [{}, {"spectral_norm": True, "norm": "batch", "n_down": 1, "init": "default"}],
    },
    "discogan-g": {
        "role": "translator",
        "shapes": [IMG16, IMG32],
        "kwargs": {"base_channels": 4},
        "variants": [{}, {"spectral_norm": True, "norm": "none", "n_down": 2, "init": "dcgan"}],
    },
    "discogan-d": {
        "role": "critic",
        "shapes": [IMG16, IMG32],
        "kwargs": {"base_channels": 4},
        "variants": [{}, {"spectral_norm": True, "norm": "none", "n_layers": 2}],
    },
    "stargan-g": {
        "role": "translator",
        "labels": 3,
        "shapes": [IMG16, IMG32],
        "kwargs": {"base_channels": 4, "n_blocks": 1, "num_domains": 3},
        "variants": [{}, {"spectral_norm": True, "norm": "batch", "n_down": 1}],
    },
    "stargan-d": {
        "role": "critic",
        "patch": True,
        "aux": 3,
        "shapes": [IMG16, IMG32],
        "kwargs": {"base_channels": 4, "num_domains": 3},
        "variants": [{}, {"spectral_norm": True, "n_layers": 2, "init": "dcgan"}],
    },
    "srresnet-g": {
        "role": "translator",
        "any_size": True,
        "out": lambda s: (s[0], 2 * s[1], 2 * s[2]),
        "shapes": [IMG8, IMG16],
        "kwargs": {"base_channels": 4, "n_blocks": 1, "scale": 2},
        "variants": [{}, {"spectral_norm": True, "norm": "none", "init": "dcgan"}],
    },
    "srgan-d": {
        "role": "critic",
        "shapes": [IMG16, IMG32],
        "kwargs": {"base_channels": 2, "hidden": 8},
        "variants": [{}, {"spectral_norm": True, "norm": "none", "init": "dcgan"}],
    },
    "segan-s": {
        "role": "translator",
        "out": lambda s: (1, *s[1:]),
        "range": (0.0, 1.0),
        "shapes": [IMG16, IMG32],
        "kwargs": {"base_channels": 4, "depth": 3, "out_channels": 1},
        "variants": [{}, {"spectral_norm": True, "norm": "instance", "skips": False}],
    },
    "segan-c": {
        "role": "critic",
        "shapes": [IMG16, IMG32],
        "kwargs": {"base_channels": 4},
        "variants": [{}, {"spectral_norm": True, "norm": "none", "n_layers": 2}],
    },
}


def _cases() -> list[Any]:
    cases = []
    for name in NETS.names():
        spec = CONTRACT.get(name)
        if spec is None:  # reported by test_every_network_has_a_contract_entry
            continue
        # every shape with the defaults; every option variant on the smallest shape (speed)
        for j, shape in enumerate(spec["shapes"]):
            for i, variant in enumerate(spec["variants"]):
                if i == 0 or j == 0:
                    cases.append(pytest.param(name, shape, variant, id=f"{name}-{shape}-v{i}"))
    return cases


CASES = _cases()


def _build(name: str, shape: tuple[int, ...], variant: dict[str, Any], seed: int = 0) -> nn.Module:
    spec = CONTRACT[name]
    auto: dict[str, Any] = {
        "generator": {"latent_dim": LATENT_DIM, "out_shape": shape},
        "encoder": {"in_shape": shape, "latent_dim": LATENT_DIM},
        "critic": {"in_shape": shape, "in_channels": shape[0]},
        "translator": {"in_channels": shape[0], "out_channels": shape[0]},
    }[spec["role"]]
    accepted = NETS.parameters(name)  # e.g. patchgan-d reads in_channels, not in_shape
    auto = {k: v for k, v in auto.items() if k in accepted}
    torch.manual_seed(seed)
    return NETS.build({"name": name, **auto, **spec["kwargs"], **variant}, f"nets.{name}")


def _out_shape(name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The sample shape a translator returns for inputs of ``shape``."""
    return tuple(CONTRACT[name].get("out", lambda s: s)(shape))


def _input(name: str, shape: tuple[int, ...], n: int, seed: int = 123) -> tuple[torch.Tensor, ...]:
    """The positional arguments of ``net(...)``: (z,), (x,) or (x, labels)."""
    g = torch.Generator().manual_seed(seed)
    if CONTRACT[name]["role"] == "generator":
        return (torch.randn(n, LATENT_DIM, generator=g),)
    x = torch.rand(n, *shape, generator=g) * 2 - 1  # images / points in [-1, 1]
    k = CONTRACT[name].get("labels")
    return (x,) if k is None else (x, torch.randint(0, k, (n,), generator=g))


def _outputs(net: nn.Module, args: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    out = net(*args)
    if isinstance(out, CriticOutput):
        return [t for t in out if t is not None]
    return [out]


def test_every_network_has_a_contract_entry() -> None:
    missing = set(NETS.names()) - set(CONTRACT)
    assert not missing, (
        f"registered networks without an entry in CONTRACT (tests/test_nets_contract.py): "
        f"{sorted(missing)}; add their role, supported shapes and small kwargs."
    )
    stale = set(CONTRACT) - set(NETS.names())
    assert not stale, f"CONTRACT entries for unregistered networks: {sorted(stale)}"


@pytest.mark.parametrize(("name", "shape", "variant"), CASES)
def test_output_shape_dtype_and_range(name: str, shape: tuple, variant: dict) -> None:
    net = _build(name, shape, variant).eval()
    n = 5
    x, *labels = _input(name, shape, n)
    if CONTRACT[name]["role"] in ("generator", "translator"):
        x = 5 * x  # large inputs: a tanh / sigmoid output must still stay in range
    with torch.no_grad():
        out = net(x, *labels)
    role = CONTRACT[name]["role"]
    if role == "translator":
        assert isinstance(out, torch.Tensor)
        assert out.shape == (n, *_out_shape(name, shape))
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all()
        lo, hi = CONTRACT[name].get("range", (-1.0, 1.0))
        assert lo <= out.min() and out.max() <= hi
        assert out.std() > 0.0
    elif role == "generator":
        assert isinstance(out, torch.Tensor)
        assert out.shape == (n, *shape)
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all()
        if CONTRACT[name].get("tanh") or variant.get("out_activation") == "tanh":
            assert out.abs().max() <= 1.0
            assert out.abs().max() > 0.0
    elif CONTRACT[name]["role"] == "encoder":
        assert isinstance(out, torch.Tensor)
        assert out.shape == (n, LATENT_DIM) and out.dtype == torch.float32
        assert torch.isfinite(out).all()
    else:
        assert isinstance(out, CriticOutput)
        if CONTRACT[name].get("patch"):  # one logit per patch: (N, h, w)
            assert out.score.dim() == 3 and out.score.shape[0] == n
            assert out.score.shape[1] > 0 and out.score.shape[2] > 0
        else:
            assert out.score.shape == (n,)
        assert out.score.dtype == torch.float32
        assert out.features is not None
        assert out.features.dim() == 2 and out.features.shape[0] == n
        assert out.features.shape[1] > 0
        if CONTRACT[name].get("aux"):
            assert out.aux is not None and out.aux.shape == (n, CONTRACT[name]["aux"])
            assert torch.isfinite(out.aux).all()
        else:
            assert out.aux is None
        assert torch.isfinite(out.score).all() and torch.isfinite(out.features).all()


@pytest.mark.parametrize(("name", "shape", "variant"), CASES)
def test_deterministic_init_and_outputs(name: str, shape: tuple, variant: dict) -> None:
    a = _build(name, shape, variant, seed=7).eval()
    b = _build(name, shape, variant, seed=7).eval()
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    x = _input(name, shape, 3)
    with torch.no_grad():
        for ya, yb in zip(_outputs(a, x), _outputs(b, x), strict=True):
            assert torch.equal(ya, yb)
        # eval mode is a pure function: a second call gives the same result
        for ya, yb in zip(_outputs(a, x), _outputs(a, x), strict=True):
            assert torch.equal(ya, yb)
    c = _build(name, shape, variant, seed=8)
    assert any(not torch.equal(sa[k], v) for k, v in c.state_dict().items()), "seed ignored"


@pytest.mark.parametrize(("name", "shape", "variant"), CASES)
def test_safetensors_round_trip(name: str, shape: tuple, variant: dict, tmp_path) -> None:
    a = _build(name, shape, variant, seed=0)
    a.train()
    with torch.no_grad():  # move batch-norm statistics and spectral-norm vectors off init
        _outputs(a, _input(name, shape, 4, seed=1))
    a.eval()
    path = tmp_path / "net.safetensors"
    save_file({k: v.contiguous() for k, v in a.state_dict().items()}, str(path))
    b = _build(name, shape, variant, seed=1)
    b.load_state_dict(load_file(str(path)), strict=True)
    b.eval()
    x = _input(name, shape, 3)
    with torch.no_grad():
        for ya, yb in zip(_outputs(a, x), _outputs(b, x), strict=True):
            assert torch.equal(ya, yb)


@pytest.mark.parametrize(("name", "shape", "variant"), CASES)
def test_gradients_reach_every_parameter(name: str, shape: tuple, variant: dict) -> None:
    net = _build(name, shape, variant).train()
    out = net(*_input(name, shape, 4))
    # The score (or the output), and an auxiliary head's logits: both train the network.
    ys = [out.score, out.aux] if isinstance(out, CriticOutput) else [out]
    g = torch.Generator().manual_seed(0)
    # A random weighting, so that batch norm's zero-mean outputs do not cancel in a plain sum.
    sum((y * torch.randn(y.shape, generator=g)).sum() for y in ys if y is not None).backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"{pname} gets no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} gets a zero gradient"


@pytest.mark.parametrize(("name", "shape", "variant"), CASES)
def test_batch_of_one_in_eval_mode(name: str, shape: tuple, variant: dict) -> None:
    net = _build(name, shape, variant).eval()
    with torch.no_grad():
        out = net(*_input(name, shape, 1))
    if isinstance(out, CriticOutput):
        assert out.score.shape[0] == 1
        assert out.score.dim() == (3 if CONTRACT[name].get("patch") else 1)
        assert out.features is not None and out.features.shape[0] == 1
    elif CONTRACT[name]["role"] == "encoder":
        assert out.shape == (1, LATENT_DIM)
    elif CONTRACT[name]["role"] == "translator":
        assert out.shape == (1, *_out_shape(name, shape))
    else:
        assert out.shape == (1, *shape)


@pytest.mark.parametrize("name", [n for n in NETS.names() if n in CONTRACT])
def test_wrong_input_shape_is_rejected(name: str) -> None:
    shape = CONTRACT[name]["shapes"][0]
    net = _build(name, shape, {}).eval()
    if CONTRACT[name]["role"] == "generator":
        bad = torch.randn(2, LATENT_DIM + 1)
    elif CONTRACT[name].get("any_size"):  # any H, W is fine: a wrong channel count is not
        bad = torch.randn(2, shape[0] + 1, *shape[1:])
    else:
        bad = torch.randn(2, *shape[:-1], shape[-1] + 1)
    _, *labels = _input(name, shape, 2)
    with pytest.raises(ValueError, match="expects"):
        net(bad, *labels)


# -- options -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["mlp-g", "mlp-e", "mlp-d", "dcgan-g", "dcgan-d", "unet-g", "patchgan-d",
     "resnet-translator", "discogan-g", "discogan-d", "stargan-g", "stargan-d",
     "srresnet-g", "srgan-d", "segan-s", "segan-c", "infogan-g", "infogan-d"],
)  # fmt: skip
def test_spectral_norm_wraps_every_linear_and_conv(name: str) -> None:
    shape = CONTRACT[name]["shapes"][0]
    net = _build(name, shape, {"spectral_norm": True})
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    assert layers
    for m in layers:
        assert parametrize.is_parametrized(m, "weight")
        if isinstance(m, nn.Linear):  # sigma(W / sigma) = 1 after the init power iterations
            sigma = torch.linalg.matrix_norm(m.weight.detach(), ord=2).item()
            assert 0.9 < sigma < 1.05
    plain = _build(name, shape, {})
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())


def test_dcgan_init_statistics() -> None:
    net = _build("dcgan-g", IMG64, {})  # init="dcgan" is the default
    convs = [m for m in net.modules() if isinstance(m, nn.ConvTranspose2d)]
    w = torch.cat([m.weight.detach().flatten() for m in convs])
    assert abs(w.mean().item()) < 2e-3
    assert 0.018 < w.std().item() < 0.022
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    scale = torch.cat([m.weight.detach() for m in bns])
    assert abs(scale.mean().item() - 1.0) < 0.01
    assert all(torch.count_nonzero(m.bias) == 0 for m in bns)


def test_dcgan_channel_schedule() -> None:
    # 4x4 map has base * 2**(n - 1) channels, n = log2(H) - 2 stride-2 layers.
    for shape in (IMG16, IMG32, IMG64):
        n = int(math.log2(shape[1])) - 2
        d = _build("dcgan-d", shape, {})
        out = d(torch.zeros(2, *shape))
        assert out.features.shape == (2, 16 * 4 * 2 ** (n - 1))
        g = _build("dcgan-g", shape, {})
        first = next(m for m in g.modules() if isinstance(m, nn.ConvTranspose2d))
        assert first.out_channels == 4 * 2 ** (n - 1)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 16), (32, 32), (3, 8, 8), (3, 128, 128)])
@pytest.mark.parametrize("name", ["dcgan-g", "dcgan-d"])
def test_dcgan_rejects_unsupported_shapes(name: str, shape: tuple) -> None:
    with pytest.raises(ValueError, match=r"16, 32, 64") as err:
        _build(name, shape, {})
    assert isinstance(err.value, ConfigError)  # shown to the user without a traceback


def test_mlp_reshapes_any_sample_shape() -> None:
    g = NETS.build({"name": "mlp-g", "latent_dim": 3, "out_shape": (2, 3, 4), "hidden": ()})
    assert g(torch.randn(5, 3)).shape == (5, 2, 3, 4)
    d = NETS.build({"name": "mlp-d", "in_shape": (2, 3, 4), "hidden": ()})
    out = d(torch.randn(5, 2, 3, 4))
    assert out.score.shape == (5,) and out.features.shape == (5, 24)


# -- registry validation -----------------------------------------------------------------------
def test_validation_rejects_a_wrong_type() -> None:
    with pytest.raises(ConfigError, match="base_channels"):
        NETS.validate({"name": "dcgan-g", "base_channels": "x"}, "nets.g")


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "dcgan-g", "base_channels": 0},
        {"name": "mlp-g", "hidden": [16, -1]},
        {"name": "mlp-d", "dropout": 1.0},
        {"name": "mlp-g", "out_activation": "sigmoid"},
        {"name": "dcgan-d", "norm": "instance"},
        {"name": "mlp-g", "latent_dim": 0},
        {"name": "unet-g", "depth": 0},
        {"name": "unet-g", "norm": "layer"},
        {"name": "patchgan-d", "receptive_field": 50},
        {"name": "srresnet-g", "scale": 3},
        {"name": "stargan-d", "num_domains": 0},
        {"name": "resnet-translator", "n_blocks": -1},
    ],
)
def test_validation_rejects_out_of_range_values(spec: dict) -> None:
    with pytest.raises(ConfigError):
        NETS.validate(spec, "nets.x")


def test_validation_unknown_key_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'base_channels'"):
        NETS.validate({"name": "dcgan-g", "base_channel": 32}, "nets.g")


def test_validation_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="dcgan-g"):
        NETS.validate({"name": "dcgan_g"}, "nets.g")


def test_validation_leaves_auto_parameters_to_the_builder() -> None:
    resolved = NETS.validate({"name": "mlp-g", "hidden": [32, 32]}, "nets.g")
    assert resolved["hidden"] == (32, 32)
    assert "latent_dim" not in resolved and "out_shape" not in resolved
    resolved = NETS.validate({"name": "dcgan-d", "in_shape": [3, 32, 32]}, "nets.d")
    assert resolved["in_shape"] == (3, 32, 32)
