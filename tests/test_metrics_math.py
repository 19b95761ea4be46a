"""The mathematics of the evaluation metrics, against closed forms and independent computations.

FID, KID, IS / MODE score, PRDC, SSIM / MS-SSIM / PSNR, the birthday-paradox support test
and Stacked MNIST mode counting. No feature extractor, no download: features are drawn
from known distributions so that the expected values are known.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import scipy.special
import torch

from ganforge.metrics.birthday import (
    birthday_test,
    geometric_batch_sizes,
    nearest_neighbour_threshold,
    save_pairs,
)
from ganforge.metrics.frechet import (
    RunningMoments,
    as_features,
    fid_from_features,
    frechet_distance,
    sqrtm_trace_reference,
    trace_sqrt_product,
)
from ganforge.metrics.inception_score import inception_score, mode_score
from ganforge.metrics.kid import kid, polynomial_mmd2_unbiased
from ganforge.metrics.modes import categorical_kl_to_uniform, stacked_mnist_modes
from ganforge.metrics.prdc import prdc
from ganforge.metrics.ssim import ms_ssim, ms_ssim_diversity, psnr, ssim
from ganforge.reports.images import load_png

# ================================================================================== FID


def expected_fid_same_gaussian(d: int, n: int) -> float:
    """E[FID] of two independent samples of size n from N(0, I_d), to second order.

    Means: m1 - m2 ~ N(0, 2 I / n), so E|m1 - m2|^2 = 2d / n.
    Covariances: S = I + E with the unbiased sample covariance, (n - 1) S ~ Wishart(I, n - 1),
    so Var(S_ii) = 2 / (n - 1) and Var(S_ij) = 1 / (n - 1) (i != j), hence
    E||E||_F^2 = (2d + d(d - 1)) / (n - 1) = d(d + 1) / (n - 1).
    Near the identity the Bures part Tr S1 + Tr S2 - 2 Tr (S1^1/2 S2 S1^1/2)^1/2 equals
    ||S1 - S2||_F^2 / 4 to second order (for commuting S: sum (sqrt(a) - sqrt(b))^2 with
    sqrt(1 + e) ~ 1 + e/2), and E||E1 - E2||_F^2 = 2 d(d + 1) / (n - 1), giving
    d(d + 1) / (2(n - 1)). Total: 2d/n + d(d + 1) / (2(n - 1)), i.e. ~ d^2 / (2n):
    210.2 for d = 2048, n = 10,000 (a single draw measured 210.4 here).
    """
    return 2 * d / n + d * (d + 1) / (2 * (n - 1))


@pytest.mark.parametrize(("d", "n", "reps"), [(64, 500, 8), (128, 4000, 3), (256, 5000, 2)])
def test_fid_of_two_samples_of_one_gaussian_matches_the_bias_formula(
    d: int, n: int, reps: int
) -> None:
    rng = np.random.default_rng(d + n)
    values = [
        fid_from_features(rng.standard_normal((n, d)), rng.standard_normal((n, d)))
        for _ in range(reps)
    ]
    expected = expected_fid_same_gaussian(d, n)
    # One draw's relative spread is 1-3% here (measured); 6% is > 3 sigma of the mean of
    # `reps` draws, and still rejects the other candidates (d^2/n is 2x, d/n far off).
    assert np.mean(values) == pytest.approx(expected, rel=0.06)


def test_frechet_distance_of_diagonal_gaussians_has_closed_form() -> None:
    rng = np.random.default_rng(0)
    d = 10
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.1, 3.0, size=d), rng.uniform(0.1, 3.0, size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    # identical Gaussians: 0 (up to rounding), also with torch inputs
    t_mu, t_s = torch.from_numpy(mu1), torch.from_numpy(np.diag(a))
    assert frechet_distance(t_mu, t_s, t_mu, t_s) == pytest.approx(0.0, abs=1e-12)


def random_spd(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / (rank or d) + (0.0 if rank else 0.1) * np.eye(d)


def test_frechet_distance_of_full_covariances_matches_independent_computations() -> None:
    rng = np.random.default_rng(1)
    d = 12
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    # independent route: the symmetric form Tr (S1^1/2 S2 S1^1/2)^1/2 via eigh
    root1 = scipy.linalg.sqrtm(s1).real
    middle = np.linalg.eigvalsh(root1 @ s2 @ root1)
    tr_sqrt = np.sum(np.sqrt(np.clip(middle, 0, None)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)
    assert trace_sqrt_product(s1, s2) == pytest.approx(sqrtm_trace_reference(s1, s2), rel=1e-10)
    # commuting covariances (same eigenvectors): Tr sqrt(S1 S2) = sum sqrt(l1 l2)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    l1, l2 = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    c1, c2 = q @ np.diag(l1) @ q.T, q @ np.diag(l2) @ q.T
    assert trace_sqrt_product(c1, c2) == pytest.approx(np.sum(np.sqrt(l1 * l2)), rel=1e-10)


@pytest.mark.parametrize("n", [10, 50, 500])
@pytest.mark.parametrize("d", [2, 16, 64])
def test_eigenvalue_trace_equals_scipy_sqrtm_trace(n: int, d: int) -> None:
    """Including rank-deficient covariances (n <= d)."""
    rng = np.random.default_rng(100 * n + d)
    s1 = np.cov(rng.normal(size=(n, d)), rowvar=False)
    s2 = np.cov(2 * rng.normal(size=(n, d)) + 1, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm may warn about singular inputs
        reference = sqrtm_trace_reference(s1, s2)
    assert trace_sqrt_product(s1, s2) == pytest.approx(reference, abs=1e-5)


def test_fid_is_finite_for_tiny_samples() -> None:
    rng = np.random.default_rng(2)
    value = fid_from_features(rng.normal(size=(2, 64)), rng.normal(size=(2, 64)))
    assert math.isfinite(value) and value > 0
    # rank-1 covariances with identical statistics: ~0, never NaN. The 63 zero
    # eigenvalues of S @ S come out as +-eps |S|^2, and each positive one adds
    # sqrt(eps) |S| to the trace: -1.5e-5 here, 2e-7 of Tr S ~ 64.
    x = rng.normal(size=(2, 64))
    trace = np.trace(np.cov(x, rowvar=False))
    assert abs(fid_from_features(x, x)) < 1e-6 * trace


def test_running_moments_match_numpy_over_uneven_chunks() -> None:
    rng = np.random.default_rng(3)
    # a large offset: the raw-sums formula (S - n m m^T) would lose ~6 digits here
    x = rng.normal(size=(1000, 7)) @ rng.normal(size=(7, 7)) + 1e3
    stats = RunningMoments()
    for lo, hi in [(0, 1), (1, 8), (8, 8), (8, 311), (311, 312), (312, 1000)]:
        stats.update(torch.from_numpy(x[lo:hi]) if lo % 2 else x[lo:hi])
    assert (stats.n, stats.dim) == (1000, 7)
    np.testing.assert_allclose(stats.mean(), x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov(), np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12)
    assert np.array_equal(stats.cov(), stats.cov().T)


def test_running_moments_are_accurate_with_a_huge_offset() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5000, 3)) + 1e6
    stats = RunningMoments()
    for chunk in np.array_split(x, 17):
        stats.update(chunk)
    np.testing.assert_allclose(stats.cov(), np.cov(x, rowvar=False), rtol=1e-8, atol=1e-8)


def test_running_moments_merge_and_state_dict_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 5))
    a, b = RunningMoments().update(x[:120]), RunningMoments(dim=5).update(x[120:])
    merged = RunningMoments().merge(a).merge(b)
    np.testing.assert_allclose(merged.cov(), np.cov(x, rowvar=False), rtol=1e-12)
    assert merged.n == 300 and a.n == 120  # merge leaves `other` alone
    # merging an empty accumulator changes nothing
    merged.merge(RunningMoments())
    assert merged.n == 300

    path = tmp_path / "stats.npz"
    np.savez(path, **merged.state_dict())
    with np.load(path) as f:
        restored = RunningMoments.from_state_dict(dict(f))
    assert restored.n == 300 and restored.dim == 5
    np.testing.assert_array_equal(restored.mean(), merged.mean())
    np.testing.assert_array_equal(restored.cov(), merged.cov())
    restored.update(x[:10])  # keeps accumulating
    np.testing.assert_allclose(
        restored.cov(), np.cov(np.concatenate([x, x[:10]]), rowvar=False), rtol=1e-12
    )
    # an empty accumulator round-trips too
    empty = RunningMoments.from_state_dict(RunningMoments().state_dict())
    assert empty.n == 0 and empty.dim is None


def test_fid_from_features_accepts_tensors_and_equals_moment_route() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(200, 8)), rng.normal(size=(150, 8)) + 0.5
    expected = frechet_distance(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )
    assert fid_from_features(torch.from_numpy(a).float(), b) == pytest.approx(expected, rel=1e-5)


# ================================================================================== KID


def kid_population(mu: np.ndarray) -> float:
    """MMD^2 between N(0, I_d) and N(mu, I_d) under k(x, y) = (x.y/d + 1)^3.

    k = sum_j C(3, j) (x.y / d)^j, so MMD^2 = sum_{j=1..3} C(3, j) d^-j |E x^(j) - E y^(j)|^2
    over the moment tensors. With m = |mu|^2: order 1 gives m, order 2 |mu mu^T|_F^2 = m^2,
    order 3 |E y^(3)|^2 = sum_ijk (mu_i mu_j mu_k + mu_i d_jk + mu_j d_ik + mu_k d_ij)^2
    = m^3 + 6 m^2 + 3 d m + 6 m (x has zero odd moments and the same second moment I).
    """
    d, m = mu.size, float(mu @ mu)
    return 3 * m / d + 3 * m**2 / d**2 + (m**3 + 6 * m**2 + 3 * d * m + 6 * m) / d**3


def test_kid_of_same_distribution_is_zero_within_its_std() -> None:
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    mean, std = kid(real, fake, num_subsets=50, subset_size=500)
    assert std > 0
    assert abs(mean) < std


def test_kid_of_shifted_gaussians_matches_the_closed_form() -> None:
    rng = np.random.default_rng(11)
    mu = np.full(8, 0.5)
    real, fake = rng.normal(size=(4000, 8)), rng.normal(size=(4000, 8)) + mu
    mean, std = kid(real, fake, num_subsets=50, subset_size=1000)
    expected = kid_population(mu)  # 1.1172
    assert mean > 10 * std  # clearly different distributions: large and positive
    assert mean == pytest.approx(expected, rel=0.1)  # one subset's std is 6% of the value


def test_kid_estimator_is_unbiased() -> None:
    """Averaged over independent small samples, MMD_u^2 hits the population value (the
    plain V-statistic, which keeps the diagonal, is 8x too large at m = 10)."""
    rng = np.random.default_rng(12)
    mu = np.array([0.3, -0.2])
    values = [
        polynomial_mmd2_unbiased(rng.normal(size=(10, 2)), rng.normal(size=(10, 2)) + mu)
        for _ in range(2000)
    ]
    se = np.std(values) / math.sqrt(len(values))
    assert np.mean(values) == pytest.approx(kid_population(mu), abs=3.5 * se)


def test_kid_is_reproducible_and_reduces_the_subset_size() -> None:
    rng = np.random.default_rng(13)
    real, fake = rng.normal(size=(300, 4)), rng.normal(size=(200, 4)) + 0.2
    assert kid(real, fake, 10, 100, seed=3) == kid(torch.from_numpy(real), fake, 10, 100, seed=3)
    assert kid(real, fake, 10, 100, seed=3) != kid(real, fake, 10, 100, seed=4)
    # subset_size 1000 > 200 fake samples: silently m = 200, same as asking for 200
    assert kid(real, fake, 5, 1000, seed=1) == kid(real, fake, 5, 200, seed=1)


# ======================================================================== IS and MODE


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


@pytest.mark.parametrize("k", [2, 10, 1000])
def test_inception_score_of_k_equally_used_one_hot_classes_is_k(k: int) -> None:
    probs = one_hot(np.tile(np.arange(k), 10), k)  # every split sees each class once
    mean, std = inception_score(probs, splits=10, from_logits=False)
    assert mean == pytest.approx(k, abs=1e-6) and std == pytest.approx(0.0, abs=1e-9)
    # the same as confident logits (off-class probabilities e^-60)
    mean_logits, _ = inception_score(60.0 * probs, splits=10)
    assert mean_logits == pytest.approx(k, abs=1e-6)


def test_inception_score_of_identical_predictions_is_one() -> None:
    row = np.random.default_rng(20).dirichlet(np.ones(7))
    mean, std = inception_score(np.tile(row, (100, 1)), splits=5, from_logits=False)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_std_is_the_population_std_over_splits() -> None:
    # split 1 uses 2 classes equally (IS 2), split 2 uses 4 (IS 4): mean 3, ddof=0 std 1
    first = one_hot(np.array([0, 1, 0, 1, 0, 1, 0, 1]), 4)
    second = one_hot(np.array([0, 1, 2, 3, 0, 1, 2, 3]), 4)
    mean, std = inception_score(np.concatenate([first, second]), splits=2, from_logits=False)
    assert (mean, std) == (pytest.approx(3.0, abs=1e-12), pytest.approx(1.0, abs=1e-12))


def test_inception_score_logits_equal_probabilities_and_the_naive_formula() -> None:
    rng = np.random.default_rng(21)
    logits = rng.normal(scale=3.0, size=(500, 10))
    probs = scipy.special.softmax(logits, axis=1)
    from_logits = inception_score(torch.from_numpy(logits).float(), splits=5)
    from_probs = inception_score(probs, splits=5, from_logits=False)
    assert from_logits == pytest.approx(from_probs, rel=1e-5)  # float32 logits
    # the reference code's formula on probabilities
    scores = []
    for part in np.array_split(probs, 5):
        kl = part * (np.log(part) - np.log(part.mean(axis=0, keepdims=True)))
        scores.append(np.exp(kl.sum(axis=1).mean()))
    assert from_probs == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-12)


def test_inception_score_warns_when_probabilities_are_passed_as_logits() -> None:
    with pytest.warns(UserWarning, match="from_logits=False"):
        inception_score(one_hot(np.arange(10) % 3, 3), splits=1)


def test_mode_score_closed_forms() -> None:
    k = 5
    uniform = np.full(k, 1 / k)
    spread = one_hot(np.tile(np.arange(k), 4), k)
    # IS = K and the generated marginal is uniform = p*: MODE = K
    assert mode_score(spread, uniform, splits=4)[0] == pytest.approx(k, abs=1e-9)
    # all one class: IS = 1 and KL(delta || U) = log K -> 1 / K
    collapsed = one_hot(np.zeros(20, dtype=int), k)
    assert mode_score(collapsed, uniform, splits=4)[0] == pytest.approx(1 / k, abs=1e-12)
    # half the classes, equally used: IS = K/2, KL(marginal || U) = log 2 -> K/4
    half = one_hot(np.tile(np.arange(2), 10), 4)
    assert mode_score(half, np.full(4, 0.25), splits=1)[0] == pytest.approx(1.0, abs=1e-12)
    # a hand-computed case, both KL terms written out
    probs = np.array([[0.9, 0.1], [0.5, 0.5]])
    p_star = np.array([0.25, 0.75])
    marginal = probs.mean(axis=0)
    expected_kl = np.mean([np.sum(p * np.log(p / marginal)) for p in probs])
    marginal_kl = np.sum(marginal * np.log(marginal / p_star))
    mean, std = mode_score(probs, p_star, splits=1)
    assert mean == pytest.approx(math.exp(expected_kl - marginal_kl), rel=1e-12) and std == 0


def test_mode_score_is_inception_score_times_marginal_penalty() -> None:
    """MODE = IS * exp(-KL(p(y) || p*)); equal to IS exactly when p(y) = p*."""
    rng = np.random.default_rng(22)
    probs = rng.dirichlet(np.full(6, 0.3), size=600)
    p_star = rng.dirichlet(np.ones(6))
    marginal = probs.mean(axis=0)
    penalty = math.exp(-np.sum(marginal * np.log(marginal / p_star)))
    ms = mode_score(probs, p_star, splits=1)[0]
    assert ms == pytest.approx(inception_score(probs, splits=1, from_logits=False)[0] * penalty)
    assert ms < inception_score(probs, splits=1, from_logits=False)[0]
    assert mode_score(probs, marginal, splits=1)[0] == pytest.approx(
        inception_score(probs, splits=1, from_logits=False)[0], rel=1e-10
    )


# ================================================================================= PRDC


@pytest.mark.slow
def test_prdc_on_identical_high_dimensional_gaussians_matches_naeem_et_al() -> None:
    """Naeem et al. 2020 (prdc README): 10,000 + 10,000 samples of N(0, I_1000), k = 5:
    precision 0.4772, recall 0.4705, density 1.0555, coverage 0.9735 (one draw).

    Measured here over 8 seeds (0..7): precision 0.456-0.497, recall 0.459-0.493,
    density 0.91-1.08 (hub points make it the noisiest), coverage 0.956-0.975. The bands
    below contain that seed-to-seed spread with some margin, and exclude what an
    off-by-one neighbour rank gives (k = 4 instead of 5: precision 0.415, coverage 0.916).
    About 10 s on two cores.
    """
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((10_000, 1000)), rng.standard_normal((10_000, 1000))
    out = prdc(real, fake, k_pr=5, k_dc=5)
    assert 0.43 <= out["precision"] <= 0.53
    assert 0.43 <= out["recall"] <= 0.53
    assert 0.85 <= out["density"] <= 1.20
    assert 0.94 <= out["coverage"] <= 0.99


def test_prdc_of_identical_sets() -> None:
    """Fake == real: every fake point is the centre of a real ball, so precision, recall and
    coverage are 1; each point lies in its own ball plus in the balls of the k points that
    have it as a k-NN (k on average), so density = (M + k M) / (k M) = 1 + 1/k exactly."""
    x = np.random.default_rng(30).normal(size=(400, 6))
    for offset in (0.0, 1e4):  # boundary ties must not depend on rounding or an offset
        out = prdc(x + offset, x + offset, k_pr=3, k_dc=5)
        assert out["precision"] == out["recall"] == out["coverage"] == 1.0
        assert out["density"] == pytest.approx(1 + 1 / 5, abs=1e-12)


def test_prdc_hand_computed_one_dimensional_case() -> None:
    real = np.arange(5.0)[:, None]  # 0..4, nearest-neighbour radius 1 for every point
    fake = np.array([[0.5], [10.0]])  # fake radius (k = 1): 9.5 for both
    out = prdc(real, fake, k_pr=1, k_dc=1)
    assert out["precision"] == 0.5  # 0.5 is in the balls of 0 and 1; 10 in none
    assert out["recall"] == 1.0  # B(0.5, 9.5) holds all real points
    assert out["density"] == 1.0  # (2 + 0) / (1 * 2)
    assert out["coverage"] == 2 / 5  # only 0 and 1 have a fake point within radius 1


def test_prdc_of_disjoint_sets_is_zero_and_chunking_does_not_matter() -> None:
    rng = np.random.default_rng(31)
    real, fake = rng.normal(size=(300, 4)), rng.normal(size=(200, 4)) + 100.0
    assert prdc(real, fake) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    fake = rng.normal(size=(200, 4)) * 1.3 + 0.3
    assert prdc(real, fake) == prdc(torch.from_numpy(real), fake, max_elements=1000)


# ========================================================================= SSIM family


def rand_images(seed: int, shape: tuple[int, ...] = (3, 3, 32, 32)) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed)).to(
        torch.uint8
    )


def ssim_reference(x: np.ndarray, y: np.ndarray, data_range: float = 255.0) -> float:
    """SSIM of one grey image pair with scipy's 2-D 'valid' convolution (Wang et al. 2004)."""
    coords = np.arange(11) - 5
    g = np.exp(-(coords**2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()

    def blur(a: np.ndarray) -> np.ndarray:
        return scipy.signal.convolve2d(a, window, mode="valid")

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    m = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(m.mean())


def test_identical_images_give_one_one_and_infinity() -> None:
    x = rand_images(0)
    assert torch.equal(ssim(x, x), torch.ones(3, dtype=torch.float64))
    assert torch.equal(ms_ssim(x, x), torch.ones(3, dtype=torch.float64))
    assert torch.isinf(psnr(x, x)).all() and (psnr(x, x) > 0).all()
    xf = x.double() / 255.0
    assert torch.equal(ssim(xf, xf, data_range=1.0), torch.ones(3, dtype=torch.float64))


def test_ssim_matches_an_independent_implementation_and_is_symmetric() -> None:
    x, y = rand_images(1, (1, 1, 24, 30)), rand_images(2, (1, 1, 24, 30))
    y = (x.double() * 0.7 + y.double() * 0.3).round().to(torch.uint8)  # correlated
    expected = ssim_reference(x[0, 0].double().numpy(), y[0, 0].double().numpy())
    assert float(ssim(x, y)) == pytest.approx(expected, rel=1e-12)
    assert float(ssim(y, x)) == pytest.approx(expected, rel=1e-12)
    # one scale: MS-SSIM is the SSIM itself (its last-scale term is the full SSIM)
    assert float(ms_ssim(x, y, weights=(1.0,))) == pytest.approx(expected, rel=1e-12)
    # colour: the mean of the per-channel values
    xc, yc = rand_images(3, (1, 3, 16, 16)), rand_images(4, (1, 3, 16, 16))
    per_channel = [
        ssim_reference(xc[0, c].double().numpy(), yc[0, c].double().numpy()) for c in range(3)
    ]
    assert float(ssim(xc, yc)) == pytest.approx(np.mean(per_channel), rel=1e-12)


def test_ssim_range_and_negative_values_for_anticorrelated_images() -> None:
    x = rand_images(5)
    inverse = 255 - x
    values = ssim(x, inverse)
    assert (values < 0).all() and (values >= -1).all()
    assert (ms_ssim(x, inverse) == 0).all()  # negative cs clamped to 0 before the powers


def test_constant_images_give_the_luminance_closed_form() -> None:
    a, b = 100.0, 180.0
    x, y = torch.full((1, 1, 40, 40), a), torch.full((1, 1, 40, 40), b)
    c1 = (0.01 * 255) ** 2
    lum = (2 * a * b + c1) / (a * a + b * b + c1)  # zero variances: cs = C2 / C2 = 1
    assert float(ssim(x, y)) == pytest.approx(lum, rel=1e-12)
    assert float(ms_ssim(x, y)) == pytest.approx(lum**0.1333, rel=1e-12)


def test_similarity_decreases_with_noise() -> None:
    g = torch.Generator().manual_seed(6)
    x = rand_images(7, (2, 1, 32, 32)).double()
    noise = torch.randn(x.shape, generator=g, dtype=torch.float64)
    scores = [
        (float(ssim(y, x).mean()), float(ms_ssim(y, x).mean()), float(psnr(y, x).mean()))
        for y in ((x + s * noise).clamp(0, 255) for s in (2.0, 10.0, 40.0))
    ]
    for k in range(3):
        assert scores[0][k] > scores[1][k] > scores[2][k]


def test_psnr_of_a_constant_offset() -> None:
    x = rand_images(8).double().clamp(0, 240)
    expected = torch.full((3,), 20 * math.log10(255 / 5), dtype=torch.float64)
    assert torch.allclose(psnr(x + 5.0, x), expected, rtol=1e-12)
    assert float(psnr(x[:1] / 255 + 0.1, x[:1] / 255, data_range=1.0)) == pytest.approx(20.0)


@pytest.mark.parametrize("size", [16, 28, 32, 200])
def test_ms_ssim_handles_small_images(size: int) -> None:
    x = rand_images(9, (2, 1, size, size))
    y = (x.double() + 20).clamp(0, 255)
    value = ms_ssim(x, y)
    assert value.shape == (2,) and ((value > 0) & (value < 1)).all()


def test_ms_ssim_diversity() -> None:
    noise = torch.rand(40, 3, 32, 32, generator=torch.Generator().manual_seed(10)) * 2 - 1
    same = noise[:1].repeat(40, 1, 1, 1)
    assert ms_ssim_diversity(same, n_pairs=50)["ms_ssim"] == 1.0
    assert ms_ssim_diversity(noise, n_pairs=50)["ms_ssim"] < 0.2
    # class 0: copies of one image (collapsed); class 1: independent noise; class 2: alone
    images = torch.cat([same[:10], noise[:10], noise[10:11]])
    labels = torch.tensor([0] * 10 + [1] * 10 + [2])
    out = ms_ssim_diversity(images, n_pairs=30, labels=labels)
    assert out["per_class"][0] == 1.0 and out["per_class"][1] < 0.2
    assert out["class_mean"] == pytest.approx((1.0 + out["per_class"][1]) / 2)
    assert out["skipped_classes"] == [2]
    assert ms_ssim_diversity(images, 30, labels=labels) == out  # seeded


# ============================================================================= birthday


@pytest.mark.parametrize("m", [100, 400])
def test_birthday_test_recovers_the_size_of_a_finite_support(m: int) -> None:
    pool = torch.rand(m, 1, 8, 8, generator=torch.Generator().manual_seed(m)) * 2 - 1

    def sample(n: int, seed: int) -> torch.Tensor:  # uniform over m fixed images
        return pool[torch.from_numpy(np.random.default_rng(seed).integers(0, m, size=n))]

    result = birthday_test(
        sample, threshold=1e-3, batch_sizes=geometric_batch_sizes(4, 200, 1.15), trials=40
    )
    assert result["s_half"] is not None
    assert m / 2 <= result["support_uniform"] <= 2 * m
    assert m / 1.5 <= result["support_mle"] <= 1.5 * m  # measured within 10%
    assert result["support_size"] == result["support_mle"]
    assert result["support_s2"] == result["s_half"] ** 2  # Arora & Zhang's "~ s^2"
    closest = result["pairs"][0]
    assert closest.distance == 0.0 and torch.equal(closest.images[0], closest.images[1])


def test_birthday_test_with_a_calibrated_threshold_resolves_the_real_reference() -> None:
    """Generator == real distribution (fresh noise images): with the threshold at the
    q-quantile of n real nearest-neighbour distances the estimate lands near the
    reference (n - 1) / q that real data itself gets (module docstring)."""
    g = torch.Generator().manual_seed(11)
    real = torch.rand(500, 1, 6, 6, generator=g) * 2 - 1

    def sample(n: int, seed: int) -> torch.Tensor:
        return torch.rand(n, 1, 6, 6, generator=torch.Generator().manual_seed(seed)) * 2 - 1

    result = birthday_test(
        sample,
        reference=real,
        quantile=0.02,
        batch_sizes=geometric_batch_sizes(20, 600, 1.2),
        trials=30,
    )
    assert result["threshold"] == nearest_neighbour_threshold(real, quantile=0.02)
    reference = result["reference_support"]
    assert reference == pytest.approx(499 / 0.02)
    assert reference / 2 <= result["support_mle"] <= 2 * reference


def test_birthday_test_without_duplicates_and_pair_saving(tmp_path) -> None:
    pool = torch.rand(300, 1, 6, 6, generator=torch.Generator().manual_seed(12)) * 2 - 1
    result = birthday_test(pool, threshold=1e-3, batch_sizes=[10, 50, 100], trials=5)
    assert result["s_half"] is None and result["support_s2"] is None
    assert result["duplicate_probability"] == [0.0, 0.0, 0.0]
    assert result["support_size"] == math.inf  # no duplicate: beyond what the grid tells
    assert len(result["pairs"]) == 15 and result["reference_support"] is None
    distances = result["closest_distances"]
    assert distances == sorted(distances) and distances[0] > 1e-3
    # the default grid stops at the pool size
    assert birthday_test(pool[:40], 1e-3, trials=2)["batch_sizes"][-1] == 40

    path = save_pairs(result["pairs"][:4], tmp_path / "pairs.png")
    png = load_png(path)
    assert png.shape[0] == 1  # grey
    # 4 pairs side by side: 4 rows x 2 columns of 6-px cells with 2-px padding, then an
    # integer upscaling that keeps the aspect ratio
    assert png.shape[1] * (2 * 8 + 2) == png.shape[2] * (4 * 8 + 2)


# ============================================================================ modes


def test_stacked_mnist_uniform_and_collapsed_histograms() -> None:
    uniform = stacked_mnist_modes(np.repeat(np.arange(1000), 26))  # 26,000 samples
    assert uniform["modes_covered"] == 1000 and uniform["kl"] == pytest.approx(0.0, abs=1e-12)
    assert uniform["n_samples"] == 26_000
    collapsed = stacked_mnist_modes(np.full((26_000, 3), 7))
    assert collapsed["modes_covered"] == 1
    assert collapsed["kl"] == pytest.approx(math.log(1000), rel=1e-12)
    assert collapsed["counts"][777] == 26_000


def test_stacked_mnist_planted_histogram_and_mode_ids() -> None:
    digits = np.array([[1, 2, 3], [1, 2, 3], [0, 0, 9], [9, 9, 9]])
    out = stacked_mnist_modes(torch.from_numpy(digits))
    assert out["modes_covered"] == 3
    assert out["counts"][123] == 2 and out["counts"][9] == 1 and out["counts"][999] == 1
    q = np.array([0.5, 0.25, 0.25])
    assert out["kl"] == pytest.approx(float(np.sum(q * np.log(1000 * q))), rel=1e-12)
    # half the modes, evenly: KL = log 2
    half = stacked_mnist_modes(np.repeat(np.arange(0, 1000, 2), 3))
    assert half["modes_covered"] == 500 and half["kl"] == pytest.approx(math.log(2))
    assert categorical_kl_to_uniform([3, 0]) == pytest.approx(math.log(2))
    assert categorical_kl_to_uniform([4, 4, 4]) == pytest.approx(0.0, abs=1e-15)


# ===================================================================== bad input messages


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: as_features(np.zeros(5)), r"2-D \(N, D\).*x\[None, :\]"),
        (lambda: as_features(np.zeros((1, 3)), "real", 2), "real has 1 sample.*at least 2"),
        (lambda: as_features(np.array([[0.0, np.nan]]), "fake"), "fake contains 1 NaN/inf"),
        (lambda: fid_from_features(np.zeros((5, 3)), np.zeros((5, 4))), "different feature dim"),
        (lambda: frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3)), "D"),
        (lambda: trace_sqrt_product(np.zeros((2, 3)), np.eye(2)), "square"),
        (lambda: RunningMoments().cov(), "at least 2"),
        (lambda: RunningMoments().mean(), "empty"),
        (lambda: RunningMoments(3).update(np.zeros((2, 4))), "dimension 4.*D = 3"),
        (lambda: RunningMoments.from_state_dict({"n": 1}), "missing"),
        (lambda: kid(np.zeros((1, 3)), np.zeros((5, 3))), "at least 2"),
        (lambda: kid(np.zeros((5, 3)), np.zeros((5, 3)), subset_size=1), "subset_size"),
        (lambda: inception_score(np.ones((5, 3)) / 3, splits=10, from_logits=False), "splits"),
        (lambda: inception_score(np.ones((5, 3)), splits=1, from_logits=False), "sum to 1"),
        (lambda: inception_score(-np.ones((5, 3)), splits=1, from_logits=False), "non-negative"),
        (lambda: inception_score(np.full((2, 3), np.inf)), "NaN/inf"),
        (lambda: mode_score(np.eye(3), np.array([0.5, 0.5, 0.0]), splits=1), "strictly positive"),
        (lambda: mode_score(np.eye(3), np.ones(2) / 2, splits=1), "3 class"),
        (lambda: prdc(np.zeros((5, 2)), np.zeros((10, 2))), "real has 5 sample"),
        (lambda: ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)), "smaller than"),
        (lambda: ssim(-torch.ones(1, 1, 16, 16), torch.zeros(1, 1, 16, 16)), "float_to_uint8"),
        (lambda: ssim(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 17)), "same shape"),
        (lambda: ms_ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)), "16 x 16"),
        (lambda: ms_ssim_diversity(torch.zeros(1, 1, 16, 16)), "at least 2"),
        (lambda: birthday_test(torch.zeros(10, 4), batch_sizes=[2, 4]), "threshold"),
        (lambda: birthday_test(torch.zeros(10, 4), 0.1, batch_sizes=[4, 20]), "exceeds"),
        (lambda: stacked_mnist_modes(np.array([[1, 2, 10]])), "0..9"),
        (lambda: stacked_mnist_modes(np.array([1000])), "0..999"),
        (lambda: stacked_mnist_modes(np.zeros((3, 2), dtype=int)), r"\(N, 3\)"),
        (lambda: categorical_kl_to_uniform([0, 0]), "empty"),
    ],
)
def test_bad_input_raises_value_error_that_says_what_to_do(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
