"""The √d_head demonstration: its statistics against naive references and the claim it teaches."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.saturation import entropy, jacobian_norm, random_scores, saturation


def naive_softmax(row):
    m = max(row)
    e = [math.exp(x - m) for x in row]
    return [x / sum(e) for x in e]


def test_random_scores_are_dot_products_with_spread_sqrt_d():
    for d in (1, 16, 256):
        scores = random_scores(d, n_keys=32, n_rows=400, seed=3)
        assert scores.shape == (400, 32)
        # a sum of d products of independent N(0, 1) entries has variance d
        assert scores.std() == pytest.approx(math.sqrt(d), rel=0.1)


def test_entropy_and_jacobian_match_naive_loops():
    rng = np.random.default_rng(0)
    for _ in range(20):
        row = rng.normal(size=7) * 3
        p = naive_softmax(row)
        expected_entropy = -sum(x * math.log(x) for x in p if x > 0)
        jac = [[(p[i] if i == j else 0.0) - p[i] * p[j] for j in range(7)] for i in range(7)]
        expected_norm = math.sqrt(sum(v * v for r in jac for v in r))
        assert entropy(np.array(p)) == pytest.approx(expected_entropy, abs=1e-9)
        assert jacobian_norm(np.array(p)) == pytest.approx(expected_norm, abs=1e-9)


def test_jacobian_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.normal(size=5)
    eps = 1e-6
    numeric = np.array(
        [(np.array(naive_softmax(x + eps * e)) - np.array(naive_softmax(x - eps * e))) / (2 * eps) for e in np.eye(5)]
    )
    assert jacobian_norm(np.array(naive_softmax(x))) == pytest.approx(np.linalg.norm(numeric), rel=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=2, max_size=12))
def test_entropy_is_between_zero_and_log_n(row):
    p = np.array(naive_softmax(row))
    assert -1e-9 <= entropy(p) <= math.log(len(row)) + 1e-9
    assert 0 <= jacobian_norm(p) <= 1


def test_one_hot_has_zero_entropy_and_zero_gradient_uniform_has_the_most():
    n = 8
    one_hot = np.eye(n)[2]
    uniform = np.full(n, 1 / n)
    assert entropy(one_hot) == 0 and jacobian_norm(one_hot) == 0
    assert entropy(uniform) == pytest.approx(math.log(n))


def test_unscaled_softmax_saturates_as_d_head_grows_scaled_does_not():
    s = saturation(d_heads=(1, 4, 16, 64, 256), n_keys=16, n_rows=300, seed=0)
    un, sc = s.max_weight["unscaled"], s.max_weight["scaled"]
    assert np.all(np.diff(un) > 0)  # saturates: the largest weight climbs toward 1
    assert un[-1] > 0.85 and s.entropy["unscaled"][-1] < 0.4
    assert s.gradient["unscaled"][-1] < 0.5 * s.gradient["scaled"][-1]  # vanishing gradient
    assert np.ptp(sc) < 0.08  # scaled: the same shape of softmax at every d_head
    assert np.all(s.entropy["scaled"] > 0.9 * math.log(16) - 0.3)
    assert s.score_std["scaled"] == pytest.approx(np.ones(5), rel=0.1)
    assert s.score_std["unscaled"] == pytest.approx(np.sqrt(s.d_heads), rel=0.1)


def test_d_head_one_is_the_same_with_and_without_scaling():
    s = saturation(d_heads=(1,), n_rows=50)
    for stat in (s.max_weight, s.entropy, s.gradient):
        assert stat["scaled"][0] == stat["unscaled"][0]


def test_seeded_and_reproducible():
    a, b = saturation(d_heads=(8, 32), seed=5), saturation(d_heads=(8, 32), seed=5)
    np.testing.assert_array_equal(a.max_weight["unscaled"], b.max_weight["unscaled"])


def test_bad_arguments_say_what_to_use():
    with pytest.raises(ValueError, match="d_head >= 1"):
        random_scores(0)
