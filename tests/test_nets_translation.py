"""Image-to-image translation networks: the properties the contract tests do not see.

U-Net skip alignment and pix2pix's test-time dropout, PatchGAN receptive fields (by the
formula and empirically, from the support of an input gradient), ResNet translator and
SRResNet output sizes, StarGAN's label handling and head shapes, and the per-layer
feature widths of the DiscoGAN and SegAN critics. Tiny widths throughout.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.nets import receptive_field
from ganforge.nets.unet import NoiseDropout
from ganforge.registry import NETS


def _net(name: str, **kw: object) -> nn.Module:
    torch.manual_seed(0)
    return NETS.build({"name": name, **kw}, f"nets.{name}")


# -- U-Net -----------------------------------------------------------------------------------
@pytest.mark.parametrize("side", [32, 64, 128, 256])
def test_unet_skips_align_at_every_level(side: int) -> None:
    depth = int(math.log2(side))  # down to a 1 x 1 bottleneck, as pix2pix at 256 (depth 8)
    net = _net("unet-g", in_channels=1, out_channels=2, base_channels=1, max_channels=2,
               depth=depth, dropout_at_test=False).eval()  # fmt: skip
    seen: dict[int, tuple[int, ...]] = {}
    for i, up in enumerate(net.up):
        up.register_forward_pre_hook(lambda m, a, i=i: seen.__setitem__(i, tuple(a[0].shape)))
    enc_shapes: list[tuple[int, ...]] = []
    for down in net.down:
        down.register_forward_hook(lambda m, a, out: enc_shapes.append(tuple(out.shape)))
    x = torch.rand(1, 1, side, side) * 2 - 1
    with torch.no_grad():
        y = net(x)
    assert y.shape == (1, 2, side, side) and y.abs().max() <= 1
    # e_i sits at side / 2**i; the bottleneck is 1 x 1
    assert [s[2] for s in enc_shapes] == [side // 2**i for i in range(1, depth + 1)]
    assert seen[depth - 1] == enc_shapes[-1]  # the innermost up block reads e_D only
    for i in range(depth - 1):  # up[i] reads [e_{i+1}, u_{i+2}]: same size, twice the channels
        c, h, w = enc_shapes[i][1:]
        assert seen[i] == (1, 2 * c, h, w)


def test_unet_skip_carries_fine_detail() -> None:
    # The outermost skip passes e_1 (one conv of x) to the output layer, so one input pixel
    # moves the output near it even when the bottleneck is cut off; without skips it cannot.
    for skips in (True, False):
        net = _net("unet-g", in_channels=1, out_channels=1, base_channels=2, max_channels=4,
                   depth=3, skips=skips, dropout=0.0, norm="none").eval()  # fmt: skip
        with torch.no_grad():  # cut the bottleneck: the innermost up block outputs 0
            inner = net.up[-1][1]
            inner.weight.zero_()
            inner.bias.zero_()
        x = (torch.rand(1, 1, 16, 16) * 2 - 1).requires_grad_()
        net(x)[0, 0, 8, 8].backward()
        near = x.grad[0, 0, 6:11, 6:11].abs().sum()
        assert (near > 0) == skips


def test_unet_encoder_decoder_ablation_has_no_concatenation() -> None:
    net = _net("unet-g", base_channels=2, max_channels=8, depth=4, skips=False)
    convs = [m for m in net.up.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.in_channels for m in convs] == [2, 4, 8, 8]  # output layer first
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize(("shape", "depth"), [((1, 3, 30, 32), 2), ((1, 3, 32, 48), 5)])
def test_unet_rejects_sides_not_divisible_by_two_to_the_depth(shape: tuple, depth: int) -> None:
    net = _net("unet-g", base_channels=2, max_channels=4, depth=depth)
    with pytest.raises(ValueError, match=rf"multiples of {2**depth}.*depth"):
        net(torch.zeros(shape))
    with pytest.raises(ValueError, match=r"expects images of shape \(N, 3, H, W\)"):
        net(torch.zeros(1, 1, 32, 32))


def test_unet_dropout_is_the_paper_noise_and_stays_on_at_test_by_default() -> None:
    net = _net("unet-g", base_channels=2, max_channels=4, depth=5).eval()
    drops = [m for m in net.modules() if isinstance(m, NoiseDropout)]
    assert len(drops) == 3  # innermost three decoder levels (CD512 x 3)
    assert all(d in list(net.up[-1]) + list(net.up[-2]) + list(net.up[-3]) for d in drops)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        a, b = net(x), net(x)
        assert not torch.equal(a, b)  # eval mode still samples
        torch.manual_seed(5)
        c = net(x)
        torch.manual_seed(5)
        assert torch.equal(c, net(x))  # ... reproducibly under a seed
    quiet = _net("unet-g", base_channels=2, max_channels=4, depth=5, dropout_at_test=False)
    with torch.no_grad():
        assert torch.equal(quiet.eval()(x), quiet(x))
        assert not torch.equal(quiet.train()(x), quiet(x))  # training mode drops
    shallow = _net("unet-g", base_channels=2, max_channels=4, depth=2)
    assert sum(isinstance(m, NoiseDropout) for m in shallow.modules()) == 1  # never the output


# -- PatchGAN ----------------------------------------------------------------------------------
RFS = [1, 16, 34, 70, 142, 286]


@pytest.mark.parametrize("rf", [*RFS, "full"])
def test_patchgan_receptive_field_formula(rf: int | str) -> None:
    net = _net("patchgan-d", base_channels=1, receptive_field=rf)
    assert receptive_field(net) == (286 if rf == "full" else rf)
    if rf not in (1, "full"):
        n = net.n_layers
        assert rf == 9 * 2**n - 2
        assert receptive_field([(4, 2)] * n + [(4, 1), (4, 1)]) == rf


def test_receptive_field_reads_dilation_and_pooling_and_refuses_transposed() -> None:
    assert receptive_field([nn.Conv2d(1, 1, 3, dilation=2)]) == 5
    assert (
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))) == 8
    )
    assert receptive_field([]) == 1
    with pytest.raises(ValueError, match="transposed"):
        receptive_field(nn.Sequential(nn.ConvTranspose2d(1, 1, 4, 2, 1)))


def _unit_weights(net: nn.Module) -> None:
    """Every weight 1 / fan_in, every bias 0: no gradient can cancel inside the window."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()


@pytest.mark.parametrize("rf", RFS)
@pytest.mark.parametrize("weights", ["unit", "random"])
def test_patchgan_receptive_field_is_the_gradient_support(rf: int, weights: str) -> None:
    net = _net("patchgan-d", in_channels=1, base_channels=1, receptive_field=rf, norm="none")
    net = net.double().eval()
    if weights == "unit":
        _unit_weights(net)
    jump = 2**net.n_layers
    side = jump * math.ceil((rf + 4 * jump) / jump)  # the window of the centre fits inside
    x = torch.rand(1, 1, side, side, dtype=torch.float64, requires_grad=True)
    score = net(x).score
    i, j = score.shape[1] // 2, score.shape[2] // 2
    score[0, i, j].backward()
    support = x.grad[0, 0] != 0
    rows = support.any(dim=1).nonzero().flatten()
    cols = support.any(dim=0).nonzero().flatten()
    assert rows[0] > 0 and rows[-1] < side - 1 and cols[0] > 0 and cols[-1] < side - 1
    assert rows[-1] - rows[0] + 1 == rf and cols[-1] - cols[0] + 1 == rf
    assert support.sum() == rf * rf  # the whole window, and nothing outside it


def test_patchgan_full_gives_one_score_that_sees_the_whole_image() -> None:
    net = _net("patchgan-d", in_channels=1, base_channels=1, receptive_field="full")
    assert net.min_side == 96
    x = torch.rand(2, 1, 96, 96, requires_grad=True)
    out = net.eval()(x)
    assert out.score.shape == (2,) and out.features.shape == (2, 8)
    out.score[0].backward()
    assert bool((x.grad[0] != 0).all()) and bool((x.grad[1] == 0).all())


def test_patchgan_70_gives_pix2pix_30x30_map_at_256() -> None:
    net = _net("patchgan-d", in_channels=6, base_channels=1).eval()
    with torch.no_grad():
        out = net(torch.zeros(1, 6, 256, 256))
    assert out.score.shape == (1, 30, 30) and out.features.shape == (1, 8)
    small = net(torch.zeros(1, 6, net.min_side, net.min_side)).score
    assert small.shape == (1, 1, 1)
    with pytest.raises(ValueError, match=rf"at least {net.min_side} x {net.min_side}"):
        net(torch.zeros(1, 6, net.min_side - 1, 64))


def test_patchgan_rejects_an_unknown_receptive_field() -> None:
    with pytest.raises(ConfigError, match="receptive_field"):
        NETS.validate({"name": "patchgan-d", "receptive_field": 64}, "nets.d")
    with pytest.raises(ValueError, match="receptive_field"):
        NETS.get("patchgan-d")(receptive_field=64)


# -- ResNet translator, DiscoGAN ----------------------------------------------------------------
def test_resnet_translator_layers_and_sizes() -> None:
    net = _net("resnet-translator", in_channels=1, out_channels=3, base_channels=2, n_blocks=3)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs[0].kernel_size == (7, 7) and convs[0].padding_mode == "reflect"
    assert convs[-1].kernel_size == (7, 7) and convs[-1].out_channels == 3
    assert sum(type(m).__name__ == "ResidualBlock" for m in net.modules()) == 3
    assert net(torch.zeros(2, 1, 12, 20)).shape == (2, 3, 12, 20)
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.zeros(2, 1, 12, 18))
    with pytest.raises(ValueError, match="at least 8"):
        net(torch.zeros(2, 1, 4, 4))


def test_discogan_feature_splits_are_the_intermediate_layers() -> None:
    d = _net("discogan-d", in_shape=(3, 64, 64), base_channels=2)
    assert d.feature_splits == (4 * 16 * 16, 8 * 8 * 8, 16 * 4 * 4)  # layers 2, 3, 4
    out = d(torch.zeros(2, 3, 64, 64))
    assert out.score.shape == (2,) and out.features.shape == (2, sum(d.feature_splits))
    with pytest.raises(ValueError, match="multiples of 2\\*\\*n_layers"):
        _net("discogan-d", in_shape=(3, 24, 24))
    g = _net("discogan-g", in_channels=3, out_channels=1, base_channels=2)
    assert g(torch.zeros(2, 3, 32, 48)).shape == (2, 1, 32, 48)


# -- SRResNet / SRGAN -------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_upsamples_by_scale(scale: int) -> None:
    net = _net("srresnet-g", base_channels=2, n_blocks=1, scale=scale).eval()
    assert sum(isinstance(m, nn.PixelShuffle) for m in net.modules()) == int(math.log2(scale))
    with torch.no_grad():
        y = net(torch.rand(2, 3, 6, 10) * 2 - 1)
    assert y.shape == (2, 3, 6 * scale, 10 * scale) and y.abs().max() <= 1


def test_srresnet_paper_defaults_and_srgan_critic() -> None:
    g = NETS.get("srresnet-g")()
    blocks = [m for m in g.modules() if type(m).__name__ == "_SRBlock"]
    assert len(blocks) == 16 and g.scale == 4
    d = _net("srgan-d", in_shape=(3, 24, 24), base_channels=2, hidden=16)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [m.stride[0] for m in convs] == [1, 2] * 4
    assert [m.out_channels for m in convs] == [2, 2, 4, 4, 8, 8, 16, 16]
    out = d(torch.zeros(3, 3, 24, 24))
    assert out.score.shape == (3,) and out.features.shape == (3, 16)


# -- StarGAN -----------------------------------------------------------------------------------
def test_stargan_int_labels_are_one_hot_domain_maps() -> None:
    g = _net("stargan-g", base_channels=2, n_blocks=1, num_domains=4).eval()
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    y = torch.tensor([0, 3, 1])
    with torch.no_grad():
        a = g(x, y)
        b = g(x, torch.nn.functional.one_hot(y, 4).float())
        c = g(x, torch.tensor([1, 3, 1]))
        multi = g(x, torch.tensor([[1, 0, 1, 0]] * 3, dtype=torch.bool))
    assert a.shape == (3, 3, 16, 16)
    assert torch.equal(a, b)  # int labels = their one-hot vectors
    assert not torch.equal(a[0], c[0]) and torch.equal(a[1:], c[1:])  # per-sample target
    assert multi.shape == a.shape
    first = next(m for m in g.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 3 + 4 and first.kernel_size == (7, 7)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (None, "no labels"),
        (torch.tensor([0, 4]), "indices 0..4"),
        (torch.tensor([[0, 1]]), "shape"),
        (torch.zeros(2, 3), r"\(2, 4\)"),
        ([0, 1], "list"),
    ],
)
def test_stargan_rejects_bad_labels(y: object, match: str) -> None:
    g = _net("stargan-g", base_channels=2, n_blocks=1, num_domains=4)
    with pytest.raises(ValueError, match=match):
        g(torch.zeros(2, 3, 16, 16), y)


def test_stargan_critic_heads_and_depth() -> None:
    d = _net("stargan-d", in_shape=(3, 128, 128), base_channels=1, num_domains=5)
    assert d.n_layers == 6  # the paper: 128 -> 2 x 2
    out = d(torch.zeros(2, 3, 128, 128))
    assert out.score.shape == (2, 2, 2) and out.aux.shape == (2, 5)
    assert out.features.shape == (2, 32 * 2 * 2)
    assert _net("stargan-d", in_shape=(3, 16, 16), base_channels=1).n_layers == 3
    rect = _net("stargan-d", in_shape=(1, 16, 32), base_channels=1, num_domains=2)
    assert rect(torch.zeros(1, 1, 16, 32)).score.shape == (1, 2, 4)
    with pytest.raises(ValueError, match="allows n_layers <= 4"):
        _net("stargan-d", in_shape=(3, 16, 16), n_layers=5)


# -- SegAN -------------------------------------------------------------------------------------
def test_segan_masks_and_multiscale_features() -> None:
    s = _net("segan-s", in_channels=2, base_channels=2, depth=3).eval()
    x = torch.rand(2, 2, 32, 32) * 2 - 1
    with torch.no_grad():
        mask = s(x)
    assert mask.shape == (2, 1, 32, 32) and mask.min() >= 0 and mask.max() <= 1
    assert any(isinstance(m, nn.Upsample) for m in s.modules())  # resize-convolutions
    c = _net("segan-c", in_shape=(2, 32, 32), base_channels=2, n_layers=3)
    assert c.feature_splits == (2 * 32 * 32, 2 * 16 * 16, 4 * 8 * 8, 8 * 4 * 4)
    out = c(x * mask)  # the algorithm masks the image; the mask broadcasts over channels
    assert out.features.shape == (2, sum(c.feature_splits)) and out.score.shape == (2,)
    parts = out.features.split(c.feature_splits, dim=1)
    assert torch.equal(parts[0], (x * mask).flatten(1))  # the input is the first scale
