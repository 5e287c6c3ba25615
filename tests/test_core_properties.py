"""Invariants of the attention core, checked on random inputs with hypothesis (sizes kept small so the suite is fast)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attention.core import (
    attention,
    attention_weights,
    causal_mask,
    check_temperature,
    combine_masks,
    key_mask,
    merge_heads,
    multi_head_attention,
    similarity,
    softmax,
    split_heads,
)

FAST = settings(max_examples=60, deadline=None)
finite = st.floats(-10, 10, width=32, allow_nan=False, allow_infinity=False)
n_seqs = st.integers(1, 6)
n_heads = st.integers(1, 3)
d_heads = st.integers(1, 4)
kinds = st.sampled_from(["dot", "cosine"])


@st.composite
def qkv(draw, n_head=None):  # -> q, k, v: [n_head, n_seq, d_head] float32
    n_head = draw(n_heads) if n_head is None else n_head
    shape = (n_head, draw(n_seqs), draw(d_heads))
    return tuple(draw(arrays(np.float32, shape, elements=finite)) for _ in range(3))


@st.composite
def score_rows(draw, n_min=1):  # -> [n_row, n_seq] float32 scores
    shape = (draw(st.integers(1, 4)), draw(st.integers(n_min, 8)))
    return draw(arrays(np.float32, shape, elements=finite))


# --- softmax turns scores into weights ---------------------------------------------------------------------


@FAST
@given(qkv(), kinds, st.booleans(), st.floats(0.25, 4))
def test_weights_rows_sum_to_one_and_are_nonnegative(qkv_, kind, causal, temperature):
    q, k, v = qkv_
    mask = causal_mask(q.shape[1]) if causal else None
    w = attention(q, k, v, mask=mask, temperature=temperature, similarity_kind=kind).weights
    assert w.dtype == np.float32
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)


@FAST
@given(qkv(), kinds)
def test_causal_mask_upper_triangle_is_exactly_zero(qkv_, kind):
    q, k, v = qkv_
    n_seq = q.shape[1]
    out = attention(q, k, v, mask=causal_mask(n_seq), similarity_kind=kind)
    above = np.triu(np.ones((n_seq, n_seq), dtype=bool), k=1)
    assert np.all(out.weights[:, above] == 0.0)
    assert np.all(out.masked[:, above] == -np.inf)
    # the first token can only look at itself, so its output is exactly its own value
    np.testing.assert_allclose(out.output[:, 0], v[:, 0], rtol=1e-6)


@FAST
@given(score_rows(), arrays(np.float32, 4, elements=st.floats(-1000, 1000, width=32)))
def test_adding_a_constant_to_a_row_changes_nothing(scores, shifts):
    shift = shifts[: scores.shape[0], None]  # one constant per row
    np.testing.assert_allclose(softmax(scores + shift), softmax(scores), atol=2e-5)


@FAST
@given(qkv(), arrays(np.float32, (3, 6, 1), elements=st.floats(-100, 100, width=32)))
def test_a_per_query_bias_on_the_scores_changes_no_weight(qkv_, shifts):
    q, k, v = qkv_
    n_head, n_seq, _ = q.shape
    bias = shifts[:n_head, :n_seq]  # [n_head, n_seq, 1]: one constant per query row
    plain, shifted = attention(q, k, v), attention(q, k, v, bias=bias)
    np.testing.assert_allclose(shifted.weights, plain.weights, atol=2e-5)


@FAST
@given(qkv(), kinds, st.randoms(use_true_random=False))
def test_without_positions_attention_is_permutation_equivariant(qkv_, kind, rnd):
    q, k, v = qkv_
    n_seq = q.shape[1]
    perm = np.array(rnd.sample(range(n_seq), n_seq))
    plain = attention(q, k, v, similarity_kind=kind)
    permuted = attention(q[:, perm], k[:, perm], v[:, perm], similarity_kind=kind)
    np.testing.assert_allclose(permuted.weights, plain.weights[:, perm][:, :, perm], atol=1e-6)
    np.testing.assert_allclose(permuted.output, plain.output[:, perm], rtol=1e-5, atol=1e-5)


@FAST
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**31 - 1), st.randoms(use_true_random=False))
def test_multi_head_layer_is_permutation_equivariant(n_seq, d_model, seed, rnd):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_seq, d_model)).astype(np.float32)
    w = [rng.standard_normal((d_model, d_model)).astype(np.float32) for _ in range(4)]
    perm = np.array(rnd.sample(range(n_seq), n_seq))
    plain = multi_head_attention(x, *w, n_head=1)
    permuted = multi_head_attention(x[perm], *w, n_head=1)
    np.testing.assert_allclose(permuted.output, plain.output[perm], rtol=1e-4, atol=1e-4)


# --- heads ----------------------------------------------------------------------------------------------------


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**31 - 1), st.booleans())
def test_multi_head_with_one_head_equals_single_head_attention(n_seq, d_model, seed, causal):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_seq, d_model)).astype(np.float32)
    w_q, w_k, w_v, w_o = (rng.standard_normal((d_model, d_model)).astype(np.float32) for _ in range(4))
    mask = causal_mask(n_seq) if causal else None
    multi = multi_head_attention(x, w_q, w_k, w_v, w_o, n_head=1, mask=mask)
    single = attention(x @ w_q, x @ w_k, x @ w_v, mask=mask)  # the 2-D form: one head
    np.testing.assert_allclose(multi.heads.weights, single.weights, atol=1e-6)
    np.testing.assert_allclose(multi.concat, single.output[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(multi.output, single.output[0] @ w_o, rtol=1e-5, atol=1e-4)


@FAST
@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_split_then_merge_heads_round_trips(n_seq, n_head, d_head, seed):
    x = np.random.default_rng(seed).standard_normal((n_seq, n_head * d_head)).astype(np.float32)
    heads = split_heads(x, n_head)
    assert heads.shape == (n_head, n_seq, d_head)
    np.testing.assert_array_equal(heads[1 % n_head], x[:, (1 % n_head) * d_head : (1 % n_head + 1) * d_head])
    np.testing.assert_array_equal(merge_heads(heads), x)
    np.testing.assert_array_equal(split_heads(merge_heads(heads), n_head), heads)


def test_split_heads_rejects_a_head_count_that_does_not_divide_d_model():
    with pytest.raises(ValueError, match=r"n_head must divide d_model = 6 \(got 4\); try one of \[1, 2, 3, 6\]"):
        split_heads(np.zeros((2, 6), np.float32), 4)


# --- temperature ----------------------------------------------------------------------------------------------


@FAST
@given(score_rows(n_min=2), st.floats(0.5, 5))
def test_as_temperature_goes_to_zero_weights_become_the_argmax(scores, margin):
    top = scores.argmax(-1)
    rows = np.arange(len(scores))
    scores = scores.copy()
    scores[rows, top] = scores.max(-1) + np.float32(margin)  # the max is unique by at least `margin`
    weights = softmax(scores, temperature=1e-3)
    np.testing.assert_array_equal(weights, np.eye(scores.shape[1], dtype=np.float32)[top])


@FAST
@given(score_rows(n_min=2))
def test_the_top_weight_grows_as_temperature_falls(scores):
    top = [softmax(scores, temperature=t).max(-1) for t in (8.0, 2.0, 1.0, 0.5, 0.1)]
    for hotter, colder in zip(top, top[1:], strict=False):
        assert np.all(colder >= hotter - 1e-6)


@FAST
@given(score_rows())
def test_at_large_temperature_weights_become_uniform(scores):
    n = scores.shape[1]
    np.testing.assert_allclose(softmax(scores, temperature=1e6), 1.0 / n, atol=1e-4)


@pytest.mark.parametrize("bad", [0, -1, -0.5, float("nan"), float("inf")])
def test_a_temperature_that_is_not_positive_raises_and_says_what_to_use(bad):
    q = np.ones((1, 2, 2), np.float32)
    for call in (lambda: softmax(np.zeros(3), temperature=bad), lambda: attention(q, q, q, temperature=bad)):
        with pytest.raises(ValueError, match=r"temperature must be > 0 .*try 0\.5-2"):
            call()


def test_valid_temperatures_pass_the_check():
    assert check_temperature(1) == 1.0
    assert check_temperature(np.float32(0.5)) == 0.5


# --- masks and numerical safety -------------------------------------------------------------------------------


@FAST
@given(qkv(), kinds, st.data())
def test_key_mask_zeroes_the_masked_columns(qkv_, kind, data):
    q, k, v = qkv_
    n_seq = q.shape[1]
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=n_seq, max_size=n_seq)))
    assume(keep.any())
    out = attention(q, k, v, mask=key_mask(keep), similarity_kind=kind)
    assert np.all(out.weights[..., ~keep] == 0.0)
    np.testing.assert_allclose(out.weights.sum(-1), 1.0, atol=1e-5)
    # the masked tokens' values cannot leak into any output: changing them changes nothing
    v2 = v.copy()
    v2[:, ~keep] += 1000
    np.testing.assert_array_equal(attention(q, k, v2, mask=key_mask(keep), similarity_kind=kind).output, out.output)


@FAST
@given(qkv(), st.data())
def test_a_fully_masked_row_gives_zeros_not_nan(qkv_, data):
    q, k, v = qkv_
    n_seq = q.shape[1]
    blocked = data.draw(st.integers(0, n_seq - 1))
    mask = np.ones((n_seq, n_seq), dtype=bool)
    mask[blocked] = False  # this query may look at nothing
    out = attention(q, k, v, mask=mask)
    assert np.all(np.isfinite(out.weights)) and np.all(np.isfinite(out.output))
    assert np.all(out.weights[:, blocked] == 0.0)
    assert np.all(out.output[:, blocked] == 0.0)
    # combining a padding mask that keeps nothing with the causal mask: every row is zero, still no NaN
    none = combine_masks(causal_mask(n_seq), key_mask(np.zeros(n_seq, bool)))
    assert np.all(attention(q, k, v, mask=none).weights == 0.0)


@pytest.mark.parametrize("big", [1e4, -1e4, 1e30])
def test_softmax_is_stable_at_huge_scores(big):
    scores = np.array([[big, big - 1, 0.0], [big, big, big], [-big, 0.0, big]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # overflow or NaN inside softmax fails
        w = softmax(scores)
    assert np.all(np.isfinite(w))
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(w[1], 1 / 3, atol=1e-6)  # equal scores share equally, however large
    if 0 < big <= 1e4:  # (at 1e30, big - 1 == big in float32)
        np.testing.assert_allclose(w[0, :2], [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))], rtol=1e-6)


def test_softmax_of_minus_infinity_everywhere_is_zero():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        w = softmax(np.full((2, 3), -np.inf, np.float32))
    assert np.all(w == 0.0)


# --- similarity: dot vs cosine --------------------------------------------------------------------------------


@FAST
@given(qkv())
def test_cosine_scores_lie_in_minus_one_to_one(qkv_):
    q, k, _ = qkv_
    s = similarity(q, k, "cosine")
    assert np.all(np.abs(s) <= 1 + 1e-6)


@FAST
@given(qkv(n_head=1), st.floats(0.1, 10), st.floats(0.1, 10))
def test_cosine_ignores_length_while_dot_scales_linearly(qkv_, a, b):
    q, k, _ = qkv_
    assume(min(np.linalg.norm(q, axis=-1).min(), np.linalg.norm(k, axis=-1).min()) > 1e-3)  # not ~zero vectors
    a, b = np.float32(a), np.float32(b)
    np.testing.assert_allclose(similarity(a * q, b * k, "cosine"), similarity(q, k, "cosine"), atol=1e-5)
    dot = similarity(q, k, "dot")
    np.testing.assert_allclose(similarity(a * q, b * k, "dot"), a * b * dot, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(similarity(a * q, k, "dot"), a * dot, rtol=1e-5, atol=1e-3)


def test_cosine_of_a_zero_vector_is_zero_not_nan():
    q = np.array([[0.0, 0.0], [1.0, 0.0]], np.float32)
    s = similarity(q, q, "cosine")
    np.testing.assert_allclose(s, [[0.0, 0.0], [0.0, 1.0]])


def test_cosine_is_not_divided_by_sqrt_d_head_but_dot_is():
    q = np.ones((1, 2, 4), np.float32)
    assert attention(q, q, q, similarity_kind="cosine").scale == 1.0
    assert attention(q, q, q).scale == pytest.approx(0.5)
    assert attention(q, q, q, scale=False).scale == 1.0


def test_unknown_similarity_says_which_ones_exist():
    q = np.ones((1, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"similarity must be one of \('dot', 'cosine'\) \(got 'euclid'\)"):
        attention(q, q, q, similarity_kind="euclid")


# --- the lean path real models use must give the same weights ----------------------------------------------------


@FAST
@given(qkv(), kinds, st.sampled_from(["none", "causal", "per-head", "empty row"]), st.floats(0.25, 4), st.booleans())
def test_lean_attention_weights_equal_the_full_attention(qkv_, kind, mask_name, temperature, scale):
    q, k, v = qkv_
    n_head, n_seq, _ = q.shape
    per_head = np.stack([np.roll(causal_mask(n_seq), h, axis=1) | np.eye(n_seq, dtype=bool) for h in range(n_head)])
    mask = {"none": None, "causal": causal_mask(n_seq), "per-head": per_head, "empty row": ~np.eye(n_seq, dtype=bool)}
    full = attention(q, k, v, mask=mask[mask_name], temperature=temperature, similarity_kind=kind, scale=scale)
    out = np.empty((n_head, n_seq, n_seq), np.float32)
    lean = attention_weights(q, k, mask[mask_name], temperature, kind, scale, out=out)
    assert lean is out  # written in place, as the real models' forward pass relies on
    np.testing.assert_allclose(lean, full.weights, atol=1e-6)
    assert not np.isnan(lean).any()


@FAST
@given(qkv(), st.data())
def test_a_per_head_mask_acts_on_each_head_alone(qkv_, data):
    q, k, v = qkv_
    n_head, n_seq, _ = q.shape
    masks = np.array(
        data.draw(st.lists(st.booleans(), min_size=n_head * n_seq * n_seq, max_size=n_head * n_seq * n_seq))
    )
    masks = masks.reshape(n_head, n_seq, n_seq)
    together = attention(q, k, v, mask=masks)
    for h in range(n_head):
        alone = attention(q[h], k[h], v[h], mask=masks[h])
        np.testing.assert_array_equal(together.weights[h], alone.weights[0])
        assert np.all(together.weights[h][~masks[h]] == 0.0)
