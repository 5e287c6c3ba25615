"""attention.flow and attention.geometry against naive per-element loops, plus their invariances."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import flow, geometry
from attention.core import attention_weights, causal_mask, softmax

FAST = settings(max_examples=40, deadline=None)


def random_weights(rng, shape, mask=None):  # -> softmax rows over the last axis (masked keys get 0)
    scores = rng.normal(size=shape) * 2
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    return softmax(scores.astype(np.float32))


def parts(rng, n_seq=5, d_model=6, n_head=3, n_kv_head=3):  # -> x, w_v, b_v, w_o, d_head
    d_head = d_model // n_head
    x = rng.normal(size=(n_seq, d_model))
    w_v, b_v = rng.normal(size=(d_model, n_kv_head * d_head)), rng.normal(size=n_kv_head * d_head)
    w_o = rng.normal(size=(n_head * d_head, d_model))
    return x, w_v, b_v, w_o, d_head


@pytest.mark.parametrize("n_head, n_kv_head", [(3, 3), (4, 2), (4, 1)])
def test_value_norms_match_a_naive_loop(n_head, n_kv_head):
    rng = np.random.default_rng(n_head + n_kv_head)
    n_seq, d_model = 5, 8
    x, w_v, b_v, w_o, d_head = parts(rng, n_seq, d_model, n_head, n_kv_head)
    a = random_weights(rng, (n_head, n_seq, n_seq))
    f = flow.value_vectors(x, w_v, b_v, w_o, n_head)
    per_head, per_layer = flow.value_norms(a, f), flow.value_norms_layer(a, f)
    group = n_head // n_kv_head
    for i in range(n_seq):
        for j in range(n_seq):
            total = np.zeros(d_model)
            for h in range(n_head):
                g = h // group  # the KV group of query head h
                v = (
                    sum(x[j, m] * w_v[m, g * d_head : (g + 1) * d_head] for m in range(d_model))
                    + b_v[g * d_head : (g + 1) * d_head]
                )
                fx = sum(v[e] * w_o[h * d_head + e] for e in range(d_head))
                vec = a[h, i, j] * fx
                total += vec
                assert per_head[h, i, j] == pytest.approx(np.sqrt(sum(c * c for c in vec)), rel=1e-5, abs=1e-6)
            assert per_layer[i, j] == pytest.approx(np.sqrt(sum(c * c for c in total)), rel=1e-5, abs=1e-6)


def test_kv_heads_map_overrides_the_groups():
    rng = np.random.default_rng(3)
    x, w_v, b_v, w_o, _ = parts(rng, 4, 8, 4, 2)
    f = flow.value_vectors(x, w_v, b_v, w_o, 4, kv_heads=[1, 1, 0, 0])
    g = flow.value_vectors(x, w_v, b_v, w_o, 4)  # default groups: 0, 0, 1, 1
    swapped = flow.value_vectors(x, w_v[:, [2, 3, 0, 1]], b_v[[2, 3, 0, 1]], w_o, 4)
    np.testing.assert_allclose(f, swapped, rtol=1e-12)
    assert not np.allclose(f, g)


def test_zero_output_rows_give_zero_value_norms():
    rng = np.random.default_rng(4)
    x, w_v, b_v, w_o, d_head = parts(rng, 4, 6, 3)
    w_o[d_head : 2 * d_head] = 0  # head 1 writes nothing
    a = random_weights(rng, (3, 4, 4))
    f = flow.value_vectors(x, w_v, b_v, w_o, 3)
    assert np.all(flow.value_norms(a, f)[1] == 0) and np.all(flow.value_norms(a, f)[0] > 0)
    np.testing.assert_allclose(flow.value_norms_layer(a, f), flow.value_norms_layer(a[[0, 2]], f[[0, 2]]), rtol=1e-6)


def test_rollout_matches_a_naive_loop_and_rows_sum_to_one():
    rng = np.random.default_rng(5)
    n_layer, n_head, n_seq = 3, 2, 4
    w = random_weights(rng, (n_layer, n_head, n_seq, n_seq))
    got = flow.rollout(w)
    r = None
    for layer in range(n_layer):
        a = [[0.5 * sum(w[layer, h, i, j] for h in range(n_head)) / n_head + 0.5 * (i == j) for j in range(n_seq)]
             for i in range(n_seq)]  # fmt: skip
        a = [[v / sum(row) for v in row] for row in a]
        r = (
            a
            if r is None
            else [[sum(a[i][m] * r[m][j] for m in range(n_seq)) for j in range(n_seq)] for i in range(n_seq)]
        )
        np.testing.assert_allclose(got[layer], r, rtol=1e-5)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-5)


@FAST
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 7), st.integers(0, 2**16))
def test_rollout_of_a_causal_model_stays_lower_triangular(n_layer, n_head, n_seq, seed):
    w = random_weights(np.random.default_rng(seed), (n_layer, n_head, n_seq, n_seq), causal_mask(n_seq))
    r = flow.rollout(w)
    assert np.all(np.triu(r, k=1) == 0)
    np.testing.assert_allclose(r.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(r >= 0)


def test_mask_heads_zeroes_exactly_one_slice():
    concat = np.arange(24, dtype=np.float32).reshape(2, 12) + 1
    out = flow.mask_heads(concat, [1, 0, 1])
    assert (
        np.all(out[:, 4:8] == 0)
        and np.array_equal(out[:, :4], concat[:, :4])
        and np.array_equal(out[:, 8:], concat[:, 8:])
    )
    assert flow.head_mask(2, 3, 1, 2).tolist() == [[1, 1, 1], [1, 1, 0]]


def test_kl_and_cosine_and_pull_against_their_definitions():
    rng = np.random.default_rng(6)
    p, q = flow.softmax64(rng.normal(size=7)), flow.softmax64(rng.normal(size=7))
    assert flow.kl_divergence(p, q) == pytest.approx(sum(p[v] * np.log(p[v] / q[v]) for v in range(7)), rel=1e-12)
    assert flow.kl_divergence(p, p) == 0.0 and flow.kl_divergence(p, q) > 0
    assert flow.kl_divergence(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    ma, mb = a.sum(axis=0) / 4, b.sum(axis=0) / 4
    assert flow.mean_pooled_cosine(a, b) == pytest.approx(ma @ mb / np.sqrt((ma @ ma) * (mb @ mb)))
    assert flow.mean_pooled_cosine(a, 3 * a) == pytest.approx(1.0)
    x, after = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    assert flow.pull_change(x, after, after, 1) == 0.0
    assert flow.pull_change(x, after, x, 1) == pytest.approx(1.0)  # the head made the whole pull


def test_ablation_grid_calls_every_head_once():
    calls = []
    grid = flow.ablation_grid(lambda layer, head: calls.append((layer, head)) or 10 * layer + head, 2, 3)
    assert calls == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert grid.tolist() == [[0, 1, 2], [10, 11, 12]]


def test_small_value_tokens_are_named_smallest_first():
    sizes = np.array([1.0, 0.1, 1.2, 0.3, 0.9])  # median 0.9
    assert flow.small_value_tokens(sizes, list("abcde")) == [
        ("b", pytest.approx(0.1 / 0.9)),
        ("d", pytest.approx(0.3 / 0.9)),
    ]


# ---------------------------------------------------------------- geometry


@FAST
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**16), st.sampled_from([None, "causal"]))
def test_translation_and_scaling_leave_the_softmax_unchanged(n_seq, d_head, seed, masked):
    rng = np.random.default_rng(seed)
    q, k = (rng.normal(size=(n_seq, d_head)) * rng.uniform(0.1, 5) for _ in range(2))
    mask = causal_mask(n_seq) if masked else None
    before = attention_weights(q[None].astype(np.float32), k[None].astype(np.float32), mask)
    k2 = geometry.translate_keys(q, k)
    np.testing.assert_allclose(k2.mean(axis=0), q.mean(axis=0), atol=1e-9)
    q3, k3 = geometry.equal_mean_norm(q, k2)
    np.testing.assert_allclose(np.linalg.norm(q3, axis=-1).mean(), np.linalg.norm(k3, axis=-1).mean(), rtol=1e-9)
    np.testing.assert_allclose(q3 @ k3.T, q @ k2.T, rtol=1e-9, atol=1e-9)  # scaling keeps every score
    for qq, kk in ((q, k2), (q3, k3)):
        after = attention_weights(qq[None].astype(np.float32), kk[None].astype(np.float32), mask)
        np.testing.assert_allclose(after, before, atol=2e-5)


def test_joint_pca_is_one_fit_of_queries_and_keys():
    rng = np.random.default_rng(7)
    q, k = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)) + 3
    proj = geometry.joint_pca(q, k, translate=False, equalize=False)
    both = np.concatenate([q, k])
    centred = both - both.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    got = np.concatenate([proj.queries, proj.keys])
    np.testing.assert_allclose(np.abs(got), np.abs(expected), rtol=1e-4, atol=1e-5)  # a PC's sign is arbitrary
    np.testing.assert_allclose(proj.explained_variance_ratio, (s**2 / (s**2).sum())[:2], rtol=1e-4)
    moved = geometry.joint_pca(q, k, equalize=False)  # translated: the keys' centre sits on the queries' centre
    np.testing.assert_allclose(moved.queries.mean(axis=0), moved.keys.mean(axis=0), atol=1e-5)


def test_neuron_view_sums_to_the_score_the_head_uses():
    rng = np.random.default_rng(8)
    q, k = rng.normal(size=(3, 8)), rng.normal(size=(3, 8))
    n = geometry.neuron_view(q[1], k[2])
    assert [n.product[d] for d in range(8)] == [q[1, d] * k[2, d] for d in range(8)]
    assert n.raw == pytest.approx((q @ k.T)[1, 2]) and n.scaled == pytest.approx((q @ k.T)[1, 2] / np.sqrt(8))
    assert geometry.top_keys([0.1, 0.5, 0.0, 0.4], k=3) == [1, 3, 0]
