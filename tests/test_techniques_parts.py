"""Training-technique building blocks: batch-aware critic layers, packing, targets, noise,
DiffAugment.

Expected values are computed here from the definitions in the papers (hand examples or
direct loops), never by calling the code under test a second way.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganforge.nn.minibatch import Maxout, MinibatchDiscrimination, MinibatchStdDev
from ganforge.techniques.diffaugment import cutout, diff_augment, translate
from ganforge.techniques.labels import bce_with_targets, fake_targets, real_targets
from ganforge.techniques.noise import add_instance_noise, instance_noise_std
from ganforge.techniques.packing import pack, unpack

EPS_STD = math.sqrt(1e-8)  # the std MinibatchStdDev reports for identical samples


# -- MinibatchStdDev ----------------------------------------------------------------------


def test_stddev_shapes() -> None:
    x = torch.randn(8, 3, 5, 5)
    assert MinibatchStdDev()(x).shape == (8, 4, 5, 5)
    assert MinibatchStdDev(group_size=2, num_features=3)(x).shape == (8, 6, 5, 5)
    assert MinibatchStdDev()(torch.randn(8, 7)).shape == (8, 8)
    assert MinibatchStdDev(group_size=4)(torch.randn(3, 7)).shape == (3, 8)  # group min(4, 3)


def test_stddev_indivisible_batch_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        MinibatchStdDev(group_size=4)(torch.randn(6, 7, 2, 2))
    with pytest.raises(ValueError, match="divisible"):
        MinibatchStdDev(num_features=2)(torch.randn(4, 3))


def test_stddev_identical_group_gives_eps() -> None:
    x = torch.randn(1, 3, 4, 4).expand(4, 3, 4, 4).clone()
    out = MinibatchStdDev(group_size=4)(x)
    assert torch.equal(out[:, :3], x)
    torch.testing.assert_close(out[:, 3], torch.full((4, 4, 4), EPS_STD))


def test_stddev_two_sample_group_value() -> None:
    # Group {a, b}: biased std of each feature = |a - b| / 2, then averaged over features.
    a = torch.tensor([[0.0, 1.0], [2.0, 3.0]])  # (C=1, H=2, W=2) flattened below
    b = torch.tensor([[2.0, 1.0], [0.0, 7.0]])
    x = torch.stack([a, b])[:, None]  # (2, 1, 2, 2)
    out = MinibatchStdDev(group_size=2)(x)
    per_feature = [math.sqrt(v * v + 1e-8) for v in (1.0, 0.0, 1.0, 2.0)]
    expected = sum(per_feature) / 4
    torch.testing.assert_close(out[:, 1], torch.full((2, 2, 2), expected))


def test_stddev_groups_are_consecutive_and_vectors() -> None:
    # Batch 4, group 2: samples {0, 1} and {2, 3}; vectors get one extra column.
    x = torch.tensor([[1.0, 1.0], [3.0, 3.0], [0.0, 0.0], [0.0, 4.0]])
    out = MinibatchStdDev(group_size=2)(x)
    assert out.shape == (4, 3)
    g0 = math.sqrt(1.0 + 1e-8)  # both features differ by 2 -> std 1
    g1 = (EPS_STD + math.sqrt(4.0 + 1e-8)) / 2  # feature stds 0 and 2
    torch.testing.assert_close(out[:, 2], torch.tensor([g0, g0, g1, g1]))


def test_stddev_num_features_blocks() -> None:
    # 2 channel blocks: block 0 identical across the group, block 1 differs by 2.
    x = torch.zeros(2, 2, 1, 1)
    x[1, 1] = 2.0
    out = MinibatchStdDev(group_size=2, num_features=2)(x)
    torch.testing.assert_close(out[:, 2:, 0, 0], torch.tensor([[EPS_STD, 1.0]] * 2))


# -- MinibatchDiscrimination --------------------------------------------------------------


def test_minibatch_discrimination_shape_and_value() -> None:
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, num_kernels=4, kernel_dim=3)
    x = torch.randn(5, 6)
    out = layer(x)
    assert out.shape == (5, 10)
    assert torch.equal(out[:, :6], x)
    # Direct double loop over the definition.
    t = layer.T.detach().view(6, 4, 3)
    m = torch.einsum("na,abc->nbc", x, t)
    expected = torch.zeros(5, 4)
    for i in range(5):
        for j in range(5):
            if i != j:
                expected[i] += torch.exp(-(m[i] - m[j]).abs().sum(-1))
    torch.testing.assert_close(out[:, 6:], expected.to(out.dtype), rtol=1e-5, atol=1e-6)


def test_minibatch_discrimination_permutation_equivariant() -> None:
    torch.manual_seed(1)
    layer = MinibatchDiscrimination(6, num_kernels=4, kernel_dim=3)
    x = torch.randn(7, 6)
    perm = torch.randperm(7)
    torch.testing.assert_close(layer(x[perm]), layer(x)[perm])


def test_minibatch_discrimination_identical_samples() -> None:
    layer = MinibatchDiscrimination(6, num_kernels=4, kernel_dim=3)
    x = torch.randn(1, 6).expand(5, 6)
    torch.testing.assert_close(layer(x)[:, 6:], torch.full((5, 4), 4.0))


def test_minibatch_discrimination_gradients() -> None:
    layer = MinibatchDiscrimination(6, num_kernels=4, kernel_dim=3)
    x = torch.randn(5, 6, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert layer.T.grad is not None and layer.T.grad.abs().sum() > 0
    # the fused cdist backward equals autograd of the definition (broadcast differences)
    w = torch.randn(10, dtype=torch.float64)  # a random linear read-out of the output
    x2 = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    layer = layer.double()
    m = (x2 @ layer.T).view(5, 4, 3)
    o = torch.exp(-(m[:, None] - m[None, :]).abs().sum(-1)).sum(1) - 1
    want = torch.autograd.grad((w[6:] * o).sum() + (w[:6] * x2).sum(), x2)
    got = torch.autograd.grad((w * layer(x2)).sum(), x2)
    torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(layer, (x2,))


# -- Maxout -------------------------------------------------------------------------------


def test_maxout_is_max_over_pieces() -> None:
    torch.manual_seed(2)
    layer = Maxout(3, 4, pieces=5)
    x = torch.randn(6, 3)
    out = layer(x)
    assert out.shape == (6, 4)
    w, b = layer.linear.weight, layer.linear.bias
    for k in range(4):
        rows = range(k * 5, (k + 1) * 5)
        pieces = torch.stack([x @ w[r] + b[r] for r in rows], dim=1)  # (6, 5)
        torch.testing.assert_close(out[:, k], pieces.max(dim=1).values)


# -- packing ------------------------------------------------------------------------------


def test_pack_images_order_and_inverse() -> None:
    x = torch.randn(6, 3, 4, 4)
    p = pack(x, 3)
    assert p.shape == (2, 9, 4, 4)
    for g in range(2):
        for i in range(3):
            assert torch.equal(p[g, 3 * i : 3 * (i + 1)], x[3 * g + i])
    assert torch.equal(unpack(p, 3), x)


def test_pack_vectors_order_and_inverse() -> None:
    x = torch.arange(12.0).view(6, 2)
    p = pack(x, 2)
    assert p.shape == (3, 4)
    assert torch.equal(p[1], torch.tensor([4.0, 5.0, 6.0, 7.0]))  # samples 2 then 3
    assert torch.equal(unpack(p, 2), x)
    assert torch.equal(pack(x, 1), x)


def test_pack_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        pack(torch.randn(5, 2), 2)
    with pytest.raises(ValueError, match="divisible"):
        unpack(torch.randn(4, 3), 2)
    with pytest.raises(ValueError, match="positive"):
        pack(torch.randn(4, 2), 0)


# -- label targets ------------------------------------------------------------------------


def test_targets_defaults_and_one_sided_smoothing() -> None:
    assert torch.equal(real_targets(3), torch.ones(3))
    assert torch.equal(fake_targets(3), torch.zeros(3))
    torch.testing.assert_close(real_targets(4, smoothing=0.1), torch.full((4,), 0.9))
    torch.testing.assert_close(fake_targets(4, smoothing=0.1), torch.full((4,), 0.1))
    assert real_targets(2, dtype=torch.float64).dtype == torch.float64


def test_targets_random_ranges() -> None:
    g = torch.Generator().manual_seed(0)
    r = real_targets(2000, low=0.7, high=1.0, generator=g)
    f = fake_targets(2000, low=0.0, high=0.3, generator=g)
    assert r.min() >= 0.7 and r.max() <= 1.0
    assert f.min() >= 0.0 and f.max() <= 0.3
    assert abs(r.mean().item() - 0.85) < 0.02 and abs(f.mean().item() - 0.15) < 0.02


def test_targets_flip_rate() -> None:
    n, p = 20000, 0.2
    g = torch.Generator().manual_seed(1)
    r = real_targets(n, flip=p, generator=g)
    assert set(r.unique().tolist()) <= {0.0, 1.0}
    rate = (r == 0).float().mean().item()
    # Binomial std sqrt(p (1-p) / n) ~ 0.0028; 5 sigma either side.
    assert abs(rate - p) < 5 * math.sqrt(p * (1 - p) / n)
    f = fake_targets(n, smoothing=0.1, flip=p, generator=g)
    torch.testing.assert_close(f[f > 0.5], torch.full_like(f[f > 0.5], 0.9))
    assert abs((f > 0.5).float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_targets_deterministic_with_seed() -> None:
    def draw(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return real_targets(50, low=0.7, high=1.0, flip=0.3, generator=g)

    assert torch.equal(draw(5), draw(5))
    assert not torch.equal(draw(5), draw(6))


def test_targets_bad_arguments() -> None:
    with pytest.raises(ValueError):
        real_targets(3, low=0.7)
    with pytest.raises(ValueError):
        real_targets(3, smoothing=0.1, low=0.7, high=1.0)
    with pytest.raises(ValueError):
        fake_targets(3, flip=1.5)


def test_bce_with_targets_closed_form() -> None:
    logits = torch.tensor([0.0, 2.0, -1.0])
    t = torch.tensor([0.9, 0.0, 0.3])

    def term(logit: float, y: float) -> float:
        s = 1 / (1 + math.exp(-logit))
        return -(y * math.log(s) + (1 - y) * math.log(1 - s))

    expected = sum(term(z, y) for z, y in zip(logits.tolist(), t.tolist())) / 3
    torch.testing.assert_close(bce_with_targets(logits, t), torch.tensor(expected))
    # Patch critics: (N,) targets broadcast over (N, H, W) logits.
    patch = torch.randn(3, 2, 2)
    ref = F.binary_cross_entropy_with_logits(patch, t[:, None, None].expand(3, 2, 2))
    torch.testing.assert_close(bce_with_targets(patch, t), ref)


# -- instance noise -----------------------------------------------------------------------


def test_instance_noise_schedule() -> None:
    assert instance_noise_std(0, 0.4, 100) == pytest.approx(0.4)
    assert instance_noise_std(50, 0.4, 100) == pytest.approx(0.2)
    assert instance_noise_std(100, 0.4, 100) == 0.0
    assert instance_noise_std(500, 0.4, 100) == 0.0
    assert instance_noise_std(500, 0.4, 100, schedule="constant") == pytest.approx(0.4)
    with pytest.raises(ValueError):
        instance_noise_std(0, 0.4, 100, schedule="cosine")  # type: ignore[arg-type]


def test_add_instance_noise() -> None:
    x = torch.zeros(200, 50)
    assert add_instance_noise(x, 0.0) is x
    g = torch.Generator().manual_seed(0)
    y = add_instance_noise(x, 0.3, generator=g)
    assert y.shape == x.shape
    assert abs(y.std().item() - 0.3) < 0.01 and abs(y.mean().item()) < 0.01
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(add_instance_noise(x, 0.3, g1), add_instance_noise(x, 0.3, g2))


# -- DiffAugment --------------------------------------------------------------------------


def test_diff_augment_shapes_and_seed() -> None:
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    for policy in ("color", "translation", "cutout", "color,translation,cutout", ""):
        g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
        a, b = diff_augment(x, policy, g1), diff_augment(x, policy, g2)
        assert a.shape == x.shape
        assert torch.equal(a, b)
    assert diff_augment(x, "") is x


def test_diff_augment_translation_range() -> None:
    h = w = 16  # shifts of at most 16 // 8 = 2 pixels
    x = torch.zeros(64, 1, h, w)
    x[:, 0, 8, 8] = 1.0
    g = torch.Generator().manual_seed(0)
    out = diff_augment(x, "translation", g)
    shifts = set()
    for img in out[:, 0]:
        pos = (img == 1.0).nonzero()
        assert pos.shape[0] == 1 and img.sum() == 1.0  # moved, not duplicated or lost
        dy, dx = pos[0, 0].item() - 8, pos[0, 1].item() - 8
        assert abs(dy) <= h // 8 and abs(dx) <= w // 8
        shifts.add((dy, dx))
    assert len(shifts) > 5  # per-sample, not one shift for the batch


def test_translate_exact_and_zero_fill() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = translate(x, torch.tensor([1]), torch.tensor([-2]))
    expected = torch.zeros(1, 1, 4, 4)
    expected[0, 0, 1:, :2] = x[0, 0, :3, 2:]  # down 1, left 2
    assert torch.equal(out, expected)


def test_cutout_inside_and_clipped() -> None:
    x = torch.ones(2, 3, 8, 8)
    # Sample 0: centre (4, 4), rectangle rows/cols [2, 6) fully inside: 4 x 4 = 16 zeros.
    # Sample 1: centre (0, 7), rows [-2, 2) -> [0, 2), cols [5, 9) -> [5, 8): 2 x 3 zeros.
    out = cutout(x, torch.tensor([4, 0]), torch.tensor([4, 7]), (4, 4))
    zeros0 = out[0, 0] == 0
    assert zeros0.sum() == 16 and zeros0[2:6, 2:6].all()
    zeros1 = out[1, 0] == 0
    assert zeros1.sum() == 6 and zeros1[0:2, 5:8].all()
    assert torch.equal(out[:, 0], out[:, 2])  # same rectangle in every channel


def test_diff_augment_cutout_area() -> None:
    h = w = 8
    x = torch.ones(32, 2, h, w)
    out = diff_augment(x, "cutout", torch.Generator().manual_seed(4))
    for img in out[:, 0]:
        zeros = (img == 0).nonzero()
        rows, cols = zeros[:, 0], zeros[:, 1]
        nr, nc = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert zeros.shape[0] == nr * nc  # one solid rectangle
        assert 1 <= nr <= h // 2 and 1 <= nc <= w // 2
    # Centres in [2, 5] keep the whole (H/2) x (W/2) square inside: at least one did.
    full = ((out[:, 0] == 0).flatten(1).sum(1) == (h // 2) * (w // 2)).sum()
    assert full > 0


def test_diff_augment_color_ranges() -> None:
    # Brightness only moves a constant image; saturation and contrast keep it constant.
    x = torch.full((200, 3, 4, 4), 0.2)
    out = diff_augment(x, "color", torch.Generator().manual_seed(0))
    shift = out[:, 0, 0, 0] - 0.2
    torch.testing.assert_close(out, (x + shift.view(-1, 1, 1, 1)))
    assert shift.min() >= -0.5 and shift.max() <= 0.5 and shift.std() > 0.2


def test_diff_augment_gradient_flows() -> None:
    x = (torch.rand(3, 3, 8, 8) * 2 - 1).requires_grad_()
    loss = diff_augment(x, generator=torch.Generator().manual_seed(0)).square().sum()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_diff_augment_bad_policy() -> None:
    with pytest.raises(ValueError, match="color, translation, cutout"):
        diff_augment(torch.zeros(1, 1, 4, 4), "color,blur")
    with pytest.raises(ValueError):
        diff_augment(torch.zeros(4, 4), "color")
