"""Penalties: closed-form values with analytic critics, RNG conventions, clipping, state.

The expected numbers come from critics whose input gradient is known in closed form:
a linear critic f(x) = <w, x> (gradient w everywhere, norm ||w|| over the whole sample)
and a quadratic critic f(x) = 1/2 ||x||^2 (gradient x). They are computed here from the
definitions, never by calling the penalty under test.
"""

from __future__ import annotations

import inspect
import math
import re

import pytest
import torch
from torch import nn

import ganforge.penalties  # noqa: F401  (registers the penalties)
from ganforge.nets import CriticOutput
from ganforge.penalties import Penalty
from ganforge.penalties.clip import WeightClip
from ganforge.penalties.gradient import (
    DRAGANPenalty,
    GradientPenalty,
    R1Penalty,
    R2Penalty,
    SobolevConstraint,
    input_gradient,
)
from ganforge.registry import PENALTIES

F64 = torch.float64
SHAPE = (2, 3, 3)  # images (C, H, W)


class LinearCritic(nn.Module):
    """f(x) = <w, x> over the whole sample: grad_x f = w, ||grad|| = ||w||_2 (all of C, H, W)."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> CriticOutput:
        return CriticOutput((x * self.w).flatten(1).sum(1))


class PatchLinearCritic(LinearCritic):
    """Patch scores (N, H, W): s[n, h, w] = sum_c w[c, h, w] x[n, c, h, w]. Summed: <w, x>."""

    def forward(self, x: torch.Tensor) -> CriticOutput:
        return CriticOutput((x * self.w).sum(1))


class QuadraticCritic(nn.Module):
    """f(x) = 1/2 ||x||^2: grad_x f = x. ``scale`` is a parameter so there is a graph."""

    def __init__(self, patch: bool = False) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones((), dtype=F64))
        self.patch = patch

    def forward(self, x: torch.Tensor) -> CriticOutput:
        e = 0.5 * self.scale * x.pow(2)
        return CriticOutput(e.sum(1) if self.patch else e.flatten(1).sum(1))


def weight_with_norm(norm: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(SHAPE, generator=g, dtype=F64)
    return w * (norm / math.sqrt(sum(v * v for v in w.flatten().tolist())))


def batch(n: int, seed: int, shape: tuple[int, ...] = SHAPE) -> torch.Tensor:
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed), dtype=F64)


def call(pen, critic, xr, xf, **kw):
    return pen(critic, xr, xf, out_real=critic(xr), out_fake=critic(xf), **kw)


# -- gradient penalty --------------------------------------------------------------------------
def test_gp_linear_critic_is_weight_times_norm_gap_squared_over_the_whole_sample() -> None:
    w = weight_with_norm(2.5)
    critic = LinearCritic(w)
    xr, xf = batch(4, 1), batch(4, 2)
    got = call(GradientPenalty(weight=10.0), critic, xr, xf).item()
    expected = 10.0 * (2.5 - 1.0) ** 2  # ||w|| over C, H, W together
    assert abs(got - expected) < 1e-10

    # A per-pixel norm (over channels at each (h, w)) would give another number, so a
    # per-pixel implementation cannot pass the assertion above.
    per_pixel = [
        math.sqrt(sum(w[c, i, j].item() ** 2 for c in range(SHAPE[0])))
        for i in range(SHAPE[1])
        for j in range(SHAPE[2])
    ]
    per_pixel_penalty = 10.0 * sum((v - 1.0) ** 2 for v in per_pixel) / len(per_pixel)
    per_element_penalty = 10.0 * sum((abs(v) - 1.0) ** 2 for v in w.flatten().tolist()) / w.numel()
    assert abs(per_pixel_penalty - expected) > 1.0
    assert abs(per_element_penalty - expected) > 1.0


def test_gp_patch_critic_sums_the_patches() -> None:
    w = weight_with_norm(2.5)
    got = call(GradientPenalty(), PatchLinearCritic(w), batch(3, 1), batch(3, 2)).item()
    assert abs(got - 10.0 * 1.5**2) < 1e-10


@pytest.mark.parametrize(("norm", "two_sided", "one_sided"), [(0.5, 0.25, 0.0), (2.0, 1.0, 1.0)])
def test_gp_one_sided(norm: float, two_sided: float, one_sided: float) -> None:
    critic = LinearCritic(weight_with_norm(norm))
    xr, xf = batch(4, 1), batch(4, 2)
    assert abs(call(GradientPenalty(weight=3.0), critic, xr, xf).item() - 3 * two_sided) < 1e-10
    gp1 = GradientPenalty(weight=3.0, one_sided=True)
    assert abs(call(gp1, critic, xr, xf).item() - 3 * one_sided) < 1e-10


def test_gp_center() -> None:
    critic = LinearCritic(weight_with_norm(2.0))
    got = call(GradientPenalty(weight=1.0, center=0.0), critic, batch(2, 1), batch(2, 2)).item()
    assert abs(got - 4.0) < 1e-10  # (||w|| - 0)^2


def test_gp_interpolates_with_one_eps_per_sample_from_the_global_rng() -> None:
    # Quadratic critic: grad at x_hat is x_hat itself, so the penalty depends on where
    # the interpolates are. Redraw eps (N, 1, 1, 1) from the same global RNG state.
    xr, xf = batch(5, 1), batch(5, 2)
    torch.manual_seed(123)
    got = call(GradientPenalty(weight=2.0), QuadraticCritic(), xr, xf).item()
    torch.manual_seed(123)
    eps = torch.rand(5, 1, 1, 1, dtype=F64)
    terms = []
    for i in range(5):
        e = eps[i].item()
        x_hat = [
            e * a + (1 - e) * b for a, b in zip(xr[i].flatten().tolist(), xf[i].flatten().tolist())
        ]
        terms.append((math.sqrt(sum(v * v for v in x_hat)) - 1.0) ** 2)
    assert abs(got - 2.0 * sum(terms) / 5) < 1e-10


def test_gp_needs_paired_batches() -> None:
    with pytest.raises(ValueError, match="same shape"):
        call(GradientPenalty(), QuadraticCritic(), batch(4, 1), batch(3, 2))


def test_gp_zero_gradient_gives_finite_parameter_gradient() -> None:
    # No epsilon in the norm: at a zero input gradient the norm's backward is the zero
    # subgradient, not NaN.
    critic = LinearCritic(torch.zeros(SHAPE, dtype=F64))
    pen = call(GradientPenalty(weight=10.0), critic, batch(3, 1), batch(3, 2))
    assert abs(pen.item() - 10.0) < 1e-12
    pen.backward()
    assert torch.isfinite(critic.w.grad).all()


def test_gp_gradient_wrt_critic_parameters_is_analytic() -> None:
    # d/dw [weight (||w|| - 1)^2] = 2 weight (||w|| - 1) w / ||w||
    w = weight_with_norm(2.0)
    critic = LinearCritic(w)
    call(GradientPenalty(weight=10.0), critic, batch(3, 1), batch(3, 2)).backward()
    assert torch.allclose(critic.w.grad, 2 * 10.0 * (2.0 - 1.0) * w / 2.0, atol=1e-10, rtol=0)


class TanhCritic(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1)).double()

    def forward(self, x: torch.Tensor) -> CriticOutput:
        return CriticOutput(self.net(x).squeeze(1))


def _gradcheck_params(pen, critic: nn.Module, xr: torch.Tensor, xf: torch.Tensor) -> bool:
    names = [n for n, _ in critic.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in critic.parameters())

    def fn(*ps: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(7)  # the same interpolation / noise at every evaluation

        def functional(x: torch.Tensor) -> CriticOutput:
            return torch.func.functional_call(critic, dict(zip(names, ps)), (x,))

        return pen(functional, xr, xf, out_real=None, out_fake=None)

    return torch.autograd.gradcheck(fn, params, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "pen",
    [GradientPenalty(), DRAGANPenalty(), R1Penalty(), R2Penalty(), SobolevConstraint(rho=0.3)],
)
def test_gradcheck_wrt_critic_parameters(pen) -> None:
    critic = TanhCritic()  # tiny: 19 parameters, samples (C, H, W) = (1, 2, 2)
    xr, xf = batch(3, 1, (1, 2, 2)), batch(3, 2, (1, 2, 2))
    assert _gradcheck_params(pen, critic, xr, xf)


# -- DRAGAN ----------------------------------------------------------------------------------
def test_dragan_linear_critic_and_no_use_of_fakes() -> None:
    critic = LinearCritic(weight_with_norm(3.0))
    xr = batch(4, 1)
    got = DRAGANPenalty(weight=2.0)(critic, xr, None, out_real=critic(xr), out_fake=None).item()
    assert abs(got - 2.0 * (3.0 - 1.0) ** 2) < 1e-10


def test_dragan_perturbation_is_within_noise_times_batch_std_of_real_data() -> None:
    xr = batch(64, 3)
    std = math.sqrt(sum((v - xr.mean().item()) ** 2 for v in xr.flatten().tolist()) / xr.numel())
    torch.manual_seed(0)
    delta = DRAGANPenalty(noise=0.5).perturb(xr) - xr
    assert delta.min().item() >= 0.0  # uniform in [0, 1], as in the reference code
    assert delta.max().item() <= 0.5 * std + 1e-12
    assert delta.max().item() > 0.4 * std  # actually spread over the range
    # alpha is one per sample: some samples are barely moved, others by a lot
    per_sample_max = delta.flatten(1).max(1).values
    assert per_sample_max.min().item() < 0.25 * std < per_sample_max.max().item()


def test_dragan_quadratic_critic_penalises_the_perturbed_points() -> None:
    # grad of 1/2||x||^2 at x_tilde is x_tilde; the penalty is weight E(||x_tilde|| - 1)^2.
    xr = batch(4, 5)
    pen = DRAGANPenalty(weight=1.0)
    torch.manual_seed(11)
    got = pen(QuadraticCritic(), xr, None, out_real=None, out_fake=None).item()
    torch.manual_seed(11)
    x_tilde = pen.perturb(xr)
    norms = [math.sqrt(sum(v * v for v in row)) for row in x_tilde.flatten(1).tolist()]
    assert abs(got - sum((n - 1) ** 2 for n in norms) / 4) < 1e-10


# -- R1 / R2 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("patch", [False, True])
def test_r1_quadratic_critic(patch: bool) -> None:
    xr, xf = batch(4, 1), batch(6, 2)  # the batches may differ in size
    critic = QuadraticCritic(patch=patch)
    with torch.no_grad():  # out_real without any graph: R1 must re-run the critic
        out_real, out_fake = critic(xr), critic(xf)
    got = R1Penalty(weight=3.0)(critic, xr, xf, out_real=out_real, out_fake=out_fake)
    sq = [sum(v * v for v in row) for row in xr.flatten(1).tolist()]
    assert abs(got.item() - 3.0 / 2 * sum(sq) / 4) < 1e-10
    got2 = R2Penalty(weight=3.0)(critic, xr, xf, out_real=out_real, out_fake=out_fake)
    sq2 = [sum(v * v for v in row) for row in xf.flatten(1).tolist()]
    assert abs(got2.item() - 3.0 / 2 * sum(sq2) / 6) < 1e-10
    # a graph to the critic's parameters: d/dscale [weight/2 E||scale x||^2] = weight E||x||^2
    got.backward()
    assert abs(critic.scale.grad.item() - 3.0 * sum(sq) / 4) < 1e-10


def test_input_gradient_cuts_the_incoming_graph() -> None:
    x = batch(3, 1).requires_grad_(True)
    y = 2 * x  # e.g. a generator's output
    g = input_gradient(QuadraticCritic(), y)
    assert torch.allclose(g, (2 * x).detach().flatten(1))
    g.sum().backward()
    assert x.grad is None  # no gradient flows back into what produced the samples


# -- weight clipping -------------------------------------------------------------------------
def test_weight_clip_clamps_parameters_and_leaves_batchnorm_statistics() -> None:
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1)).double()
    critic.train()
    critic(torch.randn(16, 4, dtype=F64) * 5 + 3)  # moves the running statistics
    with torch.no_grad():
        critic[0].weight[0, 0] = 0.5
        critic[0].weight[0, 1] = -0.7
        critic[0].weight[0, 2] = 0.003
        critic[1].weight.fill_(1.0)  # BN gain: a parameter, clipped as in WGAN's code
    buffers = {n: b.clone() for n, b in critic.named_buffers()}
    before = {n: p.detach().clone() for n, p in critic.named_parameters()}
    assert max(b.abs().max().item() for b in buffers.values() if b.is_floating_point()) > 0.01

    clip = WeightClip(bound=0.01)
    clip.after_step(critic)
    for n, p in critic.named_parameters():
        assert p.abs().max().item() <= 0.01
        inside = before[n].abs() <= 0.01
        assert torch.equal(p.detach()[inside], before[n][inside])  # untouched inside the box
    assert critic[0].weight[0, 0].item() == 0.01 and critic[0].weight[0, 1].item() == -0.01
    assert critic[0].weight[0, 2].item() == 0.003
    for n, b in critic.named_buffers():
        assert torch.equal(b, buffers[n]), n


def test_weight_clip_call_is_a_zero_scalar_of_the_score_dtype() -> None:
    critic = LinearCritic(weight_with_norm(1.0))
    xr, xf = batch(2, 1), batch(2, 2)
    z = call(WeightClip(), critic, xr, xf)
    assert z.shape == () and z.item() == 0.0 and z.dtype == F64 and z.device == xr.device


# -- Sobolev constraint ----------------------------------------------------------------------
def test_sobolev_constraint_value_with_linear_critic() -> None:
    # grad = w everywhere, so Omega = ||w||^2 whatever mu is.
    critic = LinearCritic(weight_with_norm(1.5))
    pen = SobolevConstraint(rho=0.2)
    lam = 0.3
    got = call(
        pen, critic, batch(3, 1), batch(5, 2), state={"lam": torch.tensor(lam, dtype=F64)}
    ).item()
    omega = 1.5**2
    assert abs(got - (-lam * (1 - omega) + 0.2 / 2 * (1 - omega) ** 2)) < 1e-10
    # without a state, lam = 0
    got0 = call(pen, critic, batch(3, 1), batch(5, 2)).item()
    assert abs(got0 - 0.1 * (1 - omega) ** 2) < 1e-10


def test_sobolev_omega_is_the_mixture_of_real_and_fake() -> None:
    # grad of 1/2||x||^2 is x: Omega = 1/2 mean_real ||x||^2 + 1/2 mean_fake ||x||^2,
    # each half over its own batch (3 real, 5 fake).
    xr, xf = batch(3, 1), batch(5, 2)
    sq_r = sum(sum(v * v for v in row) for row in xr.flatten(1).tolist()) / 3
    sq_f = sum(sum(v * v for v in row) for row in xf.flatten(1).tolist()) / 5
    omega = 0.5 * sq_r + 0.5 * sq_f
    pen = SobolevConstraint(rho=0.1)
    got = call(pen, QuadraticCritic(), xr, xf, state={"lam": torch.tensor(-0.4, dtype=F64)}).item()
    assert abs(got - (0.4 * (1 - omega) + 0.05 * (1 - omega) ** 2)) < 1e-9


@pytest.mark.parametrize(("norm", "direction"), [(2.0, +1), (0.5, -1)])
def test_sobolev_next_state_moves_lambda_against_the_violation(norm: float, direction: int) -> None:
    critic = LinearCritic(weight_with_norm(norm))
    pen = SobolevConstraint(rho=0.1)
    xr, xf = batch(3, 1), batch(3, 2)
    state = {"lam": torch.tensor(0.25)}
    with torch.no_grad():  # next_state must work where the algorithm has no graph
        new = pen.next_state(state, critic, xr, xf, out_real=critic(xr), out_fake=critic(xf))
    omega = norm**2
    expected = 0.25 - 0.1 * (1 - omega)  # lam <- lam - rho * dL/dlam, dL/dlam = 1 - Omega
    assert abs(new["lam"].item() - expected) < 1e-6
    assert new["lam"].dtype == torch.float32 and not new["lam"].requires_grad
    assert (new["lam"].item() - 0.25) * direction > 0  # Omega > 1: lam grows; < 1: shrinks
    assert critic.w.grad is None  # no gradient left on the critic
    # The larger lam is, the harder the term pushes Omega down: d term / d Omega = lam - rho (1 - Omega)
    # grows with lam, so with Omega > 1 the critic's descent direction shrinks ||w|| faster.
    grads = []
    for s in (state, new):
        critic.w.grad = None
        call(pen, critic, xr, xf, state=s).backward()
        grads.append(torch.dot(critic.w.grad.flatten(), critic.w.detach().flatten()).item())
    # positive radial gradient = descent shrinks ||w||; it must grow (Omega > 1) / fall (< 1)
    assert (grads[1] - grads[0]) * direction > 0


# -- contract over every registered penalty --------------------------------------------------
class SmallCritic(nn.Module):
    def __init__(self, patch: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 1, 1)
        self.patch = patch

    def forward(self, x: torch.Tensor) -> CriticOutput:
        h = torch.nn.functional.leaky_relu(self.conv(x), 0.2)
        s = self.head(h).squeeze(1)  # (N, H, W)
        return CriticOutput(s if self.patch else s.mean((1, 2)), h.mean((2, 3)))


@pytest.mark.parametrize("patch", [False, True])
@pytest.mark.parametrize("name", PENALTIES.names())
def test_penalty_contract(name: str, patch: bool) -> None:
    pen = PENALTIES.build({"name": name})
    assert isinstance(pen, Penalty)
    assert pen.phase == "d"
    critic = SmallCritic(patch)
    g = torch.Generator().manual_seed(0)
    xr, xf = torch.randn(4, 2, 5, 5, generator=g), torch.randn(4, 2, 5, 5, generator=g)
    out_real, out_fake = critic(xr), critic(xf)
    kw = {}
    if getattr(pen, "stateful", False):
        state = pen.initial_state()
        assert all(isinstance(v, torch.Tensor) for v in state.values())
        kw["state"] = state
    loss = pen(critic, xr, xf, out_real=out_real, out_fake=out_fake, **kw)
    assert loss.shape == () and torch.isfinite(loss)
    total = out_real.score.mean() - out_fake.score.mean() + loss
    total.backward()
    for p in critic.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    if getattr(pen, "stateful", False):
        new = pen.next_state(kw["state"], critic, xr, xf, out_real=out_real, out_fake=out_fake)
        assert set(new) == set(kw["state"])
        assert all(torch.isfinite(v).all() for v in new.values())
    if hasattr(pen, "after_step"):
        pen.after_step(critic)


@pytest.mark.parametrize("name", PENALTIES.names())
def test_penalty_documents_its_paper_and_failure(name: str) -> None:
    entry = PENALTIES.entry(name)
    doc = " ".join((inspect.getdoc(entry.obj) or "").split())  # line breaks -> spaces
    assert entry.paper
    title = re.split(r"\d{4}, ", entry.paper, maxsplit=1)[-1]  # "Author et al. YEAR, Title"
    assert title in doc, (name, title)
    assert "failure addressed" in doc.lower()
