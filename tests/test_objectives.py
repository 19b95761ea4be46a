"""Objectives: closed-form values, the optimal-critic identity, gradients, purity.

Expected numbers are computed here from the definitions (sigmoid, log, exp with the
``math`` module), never by calling the formula under test.
"""

from __future__ import annotations

import inspect
import math
from fractions import Fraction

import pytest
import torch
from torch import nn

import ganforge.objectives  # noqa: F401  (registers the objectives)
from ganforge.nets import CriticOutput
from ganforge.objectives import Objective
from ganforge.objectives.base import implied_penalties, is_stateful, needs_samples
from ganforge.objectives.original import gan_d_loss, minimax_g_loss, ml_g_loss, ns_g_loss
from ganforge.registry import OBJECTIVES
from ganforge.theory import generator_loss_curves

ORIGINAL = ["minimax", "ns", "ml"]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def out(*scores: float, dtype: torch.dtype = torch.float64) -> CriticOutput:
    return CriticOutput(score=torch.tensor(scores, dtype=dtype))


# Logits r = [0, 2] on real samples, f = [-1, 1] on fakes.
R, FK = [0.0, 2.0], [-1.0, 1.0]


def expected_d_loss() -> float:
    # -E_real[log D] - E_fake[log(1 - D)], D = sigmoid(logit)
    real = -(math.log(sigmoid(0.0)) + math.log(sigmoid(2.0))) / 2
    fake = -(math.log(1 - sigmoid(-1.0)) + math.log(1 - sigmoid(1.0))) / 2
    return real + fake


EXPECTED_G = {
    # E[log(1 - D(G(z)))]
    "minimax": (math.log(1 - sigmoid(-1.0)) + math.log(1 - sigmoid(1.0))) / 2,
    # -E[log D(G(z))]
    "ns": -(math.log(sigmoid(-1.0)) + math.log(sigmoid(1.0))) / 2,
    # -1/2 E[D / (1 - D)]  (= -1/2 E[exp(logit)])
    "ml": -0.5 * (sigmoid(-1.0) / (1 - sigmoid(-1.0)) + sigmoid(1.0) / (1 - sigmoid(1.0))) / 2,
}


def test_hand_computed_numbers_are_what_we_think() -> None:
    # log 2 + log(1 + e^-2), halved, plus log(1 + e^-1) + log(1 + e), halved
    assert expected_d_loss() == pytest.approx(
        (
            math.log(2)
            + math.log(1 + math.exp(-2))
            + math.log(1 + math.exp(-1))
            + math.log(1 + math.e)
        )
        / 2,
        abs=1e-12,
    )
    assert EXPECTED_G["ml"] == pytest.approx(-0.25 * (math.exp(-1) + math.e), abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_functional_core_values(dtype: torch.dtype) -> None:
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    r, f = torch.tensor(R, dtype=dtype), torch.tensor(FK, dtype=dtype)
    assert abs(gan_d_loss(r, f).item() - expected_d_loss()) < tol
    assert abs(minimax_g_loss(f).item() - EXPECTED_G["minimax"]) < tol
    assert abs(ns_g_loss(f).item() - EXPECTED_G["ns"]) < tol
    assert abs(ml_g_loss(f).item() - EXPECTED_G["ml"]) < tol


@pytest.mark.parametrize("name", ORIGINAL)
def test_registered_objective_values(name: str) -> None:
    obj = OBJECTIVES.build({"name": name})
    d = obj.d_loss(out(*R), out(*FK))
    g = obj.g_loss(out(*FK))
    assert d.shape == () and g.shape == ()
    assert abs(d.item() - expected_d_loss()) < 1e-12  # all three share the critic loss
    assert abs(g.item() - EXPECTED_G[name]) < 1e-12
    # real=None and a given real give the same generator loss (needs_real_for_g is False)
    assert obj.needs_real_for_g is False
    assert torch.equal(g, obj.g_loss(out(*FK), out(*R)))


def test_scores_of_any_shape_are_averaged_over_all_elements() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.randn(4, 3, 3, generator=g, dtype=torch.float64)  # patch critic (N, H, W)
    fake = torch.randn(6, 3, 3, generator=g, dtype=torch.float64)  # a different batch size
    for name in ORIGINAL:
        obj = OBJECTIVES.build({"name": name})
        d_patch = obj.d_loss(CriticOutput(real), CriticOutput(fake))
        d_flat = obj.d_loss(CriticOutput(real.flatten()), CriticOutput(fake.flatten()))
        assert abs(d_patch.item() - d_flat.item()) < 1e-12
        g_patch = obj.g_loss(CriticOutput(fake))
        g_flat = obj.g_loss(CriticOutput(fake.flatten()))
        assert abs(g_patch.item() - g_flat.item()) < 1e-12


def test_extreme_logits_stay_finite() -> None:
    # Naive log(sigmoid(x)) gives -inf at x = -100 in float32; softplus gives 100.
    big = torch.tensor([100.0])
    assert abs(gan_d_loss(-big, big).item() - 200.0) < 1e-4
    assert abs(ns_g_loss(-big).item() - 100.0) < 1e-4
    assert abs(minimax_g_loss(big).item() + 100.0) < 1e-4
    assert abs(gan_d_loss(big, -big).item()) < 1e-30  # confident and right: loss ~ 0


def test_half_precision_logits_give_float32_losses() -> None:
    f = torch.tensor(FK, dtype=torch.bfloat16)
    for fn in (minimax_g_loss, ns_g_loss, ml_g_loss):
        assert fn(f).dtype == torch.float32
    assert gan_d_loss(f, f).dtype == torch.float32


# -- the optimal critic ------------------------------------------------------------------------
def _batch(probs: list[Fraction], denom: int) -> list[int]:
    """Support indices repeated in proportion to ``probs``: a batch whose mean is the expectation."""
    return [i for i, p in enumerate(probs) for _ in range(int(p * denom))]


def test_d_loss_at_the_optimal_critic_is_log4_minus_2jsd() -> None:
    # p_data, p_g on a 5-point support (full support for both so every logit is finite).
    p = [Fraction(1, 10), Fraction(2, 10), Fraction(3, 10), Fraction(3, 10), Fraction(1, 10)]
    q = [Fraction(4, 10), Fraction(3, 10), Fraction(1, 10), Fraction(1, 10), Fraction(1, 10)]
    # optimal logit log(p_data / p_g), i.e. D* = p / (p + q)
    logit = torch.tensor([math.log(float(a) / float(b)) for a, b in zip(p, q)], dtype=torch.float64)
    real = logit[_batch(p, 10)]  # 10 samples drawn exactly in proportion to p_data
    fake = logit[_batch(q, 10)]
    # JSD by hand: 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2
    m = [(a + b) / 2 for a, b in zip(p, q)]
    jsd = 0.5 * sum(float(a) * math.log(a / c) for a, c in zip(p, m)) + 0.5 * sum(
        float(b) * math.log(b / c) for b, c in zip(q, m)
    )
    for name in ORIGINAL:
        d = OBJECTIVES.build({"name": name}).d_loss(CriticOutput(real), CriticOutput(fake))
        assert abs(d.item() - (math.log(4) - 2 * jsd)) < 1e-6
    # and the minimax generator loss there is the value of the game, -log 4 + 2 JSD, up to
    # the real term: J(G) = V - E_data[log D*]
    e_log_d_real = sum(float(a) * math.log(a / (a + b)) for a, b in zip(p, q))
    g = minimax_g_loss(fake).item()
    assert abs(g - (-math.log(4) + 2 * jsd - e_log_d_real)) < 1e-6


def test_optimal_critic_minimises_d_loss() -> None:
    p = [Fraction(1, 4), Fraction(1, 4), Fraction(1, 2)]
    q = [Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)]
    best = torch.tensor([math.log(float(a / b)) for a, b in zip(p, q)], dtype=torch.float64)
    ir, ifk = _batch(p, 4), _batch(q, 4)

    def loss(logit: torch.Tensor) -> float:
        return gan_d_loss(logit[ir], logit[ifk]).item()

    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        other = best + 0.3 * torch.randn(3, generator=g, dtype=torch.float64)
        assert loss(other) > loss(best)


# -- gradients ---------------------------------------------------------------------------------
def _grad(fn, logit: float) -> float:
    x = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(fn(x), x)
    return g.item()


def test_minimax_saturates_where_ns_does_not() -> None:
    # D(G(z)) ~ 0 (logit -10): the critic confidently rejects the fake, as early in training.
    g_minimax, g_ns = _grad(minimax_g_loss, -10.0), _grad(ns_g_loss, -10.0)
    assert g_minimax < 0 and g_ns < 0  # both push the fake logit up (descent increases it)
    assert abs(g_minimax - (-sigmoid(-10.0))) < 1e-12  # d/df log(1 - sigma(f)) = -sigma(f)
    assert abs(g_ns - (-sigmoid(10.0))) < 1e-12  # d/df -log sigma(f) = -sigma(-f)
    assert abs(g_minimax) < 1e-4 < 0.99 < abs(g_ns)
    # Where the critic is fooled (logit +10) the roles swap.
    assert abs(_grad(minimax_g_loss, 10.0)) > 0.99 > 1e-4 > abs(_grad(ns_g_loss, 10.0))


def test_ml_gradient_is_dominated_by_realistic_samples() -> None:
    # d/df (-1/2 e^f) = -1/2 e^f: tiny where D ~ 0, large where D ~ 1.
    assert abs(_grad(ml_g_loss, -10.0) - (-0.5 * math.exp(-10.0))) < 1e-12
    assert abs(_grad(ml_g_loss, 3.0) - (-0.5 * math.exp(3.0))) < 1e-12


def test_d_loss_gradient_signs() -> None:
    r = torch.tensor(R, dtype=torch.float64, requires_grad=True)
    f = torch.tensor(FK, dtype=torch.float64, requires_grad=True)
    gr, gf = torch.autograd.grad(gan_d_loss(r, f), (r, f))
    assert (gr < 0).all() and (gf > 0).all()  # raise real logits, lower fake ones
    # d/dr softplus(-r) / N = -sigma(-r) / N
    for x, g in zip(R, gr.tolist()):
        assert abs(g - (-sigmoid(-x) / 2)) < 1e-12


def test_per_sample_losses_match_the_theory_curves() -> None:
    logits = [-4.0, -1.0, 0.0, 0.5, 3.0]
    d = torch.tensor([sigmoid(x) for x in logits], dtype=torch.float64)
    curves = generator_loss_curves(d)
    fns = {"minimax": minimax_g_loss, "ns": ns_g_loss, "ml": ml_g_loss}
    for name, fn in fns.items():
        for i, x in enumerate(logits):
            got = fn(torch.tensor([x], dtype=torch.float64)).item()
            assert abs(got - curves[name][i].item()) < 1e-9, (name, x)


# -- contract over every registered objective ------------------------------------------------
# Every registered name with its defaults, plus constructor variants worth checking too.
VARIANTS: list[tuple[str, dict]] = [
    *[
        ("fgan", {"divergence": d, "g_form": form})
        for d in ("kl", "reverse-kl", "js", "gan", "pearson", "neyman", "hellinger", "tv")
        for form in ("saturating", "nonsaturating")
    ],
    ("lsgan", {"a": -1.0, "b": 1.0, "c": 0.0}),
    ("wgan-gp", {"weight": 1.0, "one_sided": True}),
    ("lsgan-qi", {"margin_p": 2, "lam": 0.5, "scale": 2.0, "gp_weight": 1.0}),
    ("mmd", {"sqrt": True}),
    ("mcgan", {"mode": "cov"}),
    ("mcgan", {"q": 1}),
]
CASES = [(name, {}) for name in OBJECTIVES.names()] + [
    (name, kw) for name, kw in VARIANTS if name in OBJECTIVES
]

# Per-objective table: (needs_real_for_g, needs_samples, penalties implied by the defaults).
FLAGS: dict[str, tuple[bool, bool, list[str]]] = {
    "minimax": (False, False, []),
    "ns": (False, False, []),
    "ml": (False, False, []),
    "fgan": (False, False, []),
    "lsgan": (False, False, []),
    "wgan": (False, False, []),
    "wgan-gp": (False, False, ["gradient-penalty"]),
    "hinge": (False, False, []),
    "rgan": (True, False, []),
    "ragan": (True, False, []),
    "lsgan-qi": (False, True, []),
    "mmd": (True, False, []),
    "fisher": (False, False, []),
    "mcgan": (True, False, []),
    "sobolev": (False, False, ["sobolev-constraint"]),
}


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_objective_capabilities_table(name: str) -> None:
    real_for_g, samples, penalties = FLAGS[name]
    obj = OBJECTIVES.build({"name": name})
    assert obj.needs_real_for_g is real_for_g
    assert needs_samples(obj) is samples
    kwargs = {k: v for k, v in OBJECTIVES.validate({"name": name}, "o").items() if k != "name"}
    assert [p["name"] for p in implied_penalties(type(obj), kwargs)] == penalties


@pytest.mark.parametrize(
    ("name", "kwargs"), CASES, ids=[f"{n}-{'-'.join(map(str, kw.values()))}" for n, kw in CASES]
)
def test_objective_contract(name: str, kwargs: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    obj = OBJECTIVES.build({"name": name, **kwargs})
    assert isinstance(obj, Objective)
    assert isinstance(obj.needs_real_for_g, bool)
    # no parameters, no state to train
    assert not isinstance(obj, nn.Module) or not list(obj.parameters())

    # purity: an objective never runs backward itself
    def forbidden(*args, **kwargs):
        raise AssertionError("an objective called backward()/autograd.grad")

    monkeypatch.setattr(torch.Tensor, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "grad", forbidden)

    g = torch.Generator().manual_seed(0)
    real_s = torch.randn(8, generator=g, requires_grad=True)
    fake_s = torch.randn(8, generator=g, requires_grad=True)
    # features carry gradients too: feature-based objectives (MMD, McGan) use them
    real_feat = torch.randn(8, 4, generator=g, requires_grad=True)
    fake_feat = torch.randn(8, 4, generator=g, requires_grad=True)
    x_real, x_fake = torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g)
    real = CriticOutput(real_s, real_feat)
    fake = CriticOutput(fake_s, fake_feat)
    inputs = (real_s, fake_s, real_feat, fake_feat, x_real, x_fake)
    before = [t.detach().clone() for t in inputs]

    # what the algorithm passes besides the critic outputs
    extra: dict = {}
    if needs_samples(obj):
        extra.update(x_real=x_real, x_fake=x_fake)
    if is_stateful(obj):
        state = obj.initial_state()
        assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
        extra["state"] = state

    d = obj.d_loss(real, fake, **extra)
    gl = obj.g_loss(fake, real if obj.needs_real_for_g else None, **extra)
    for loss in (d, gl):
        assert loss.shape == ()
        assert torch.isfinite(loss)
        assert loss.requires_grad  # still connected to the critic outputs
    if is_stateful(obj):
        new = obj.next_state(extra["state"], real, fake)
        assert set(new) == set(extra["state"])
        assert all(torch.isfinite(v).all() for v in new.values())
    # inputs are not modified in place
    for t, b in zip(inputs, before):
        assert torch.equal(t.detach(), b)


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_objective_documents_its_divergence_and_optimal_critic(name: str) -> None:
    entry = OBJECTIVES.entry(name)
    doc = (inspect.getdoc(entry.obj) or "").lower()
    assert "divergence" in doc and "optimal critic" in doc
    assert entry.paper
