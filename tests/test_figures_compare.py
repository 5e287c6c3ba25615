"""Compare-page figures: word alignment against a naive reference, and the decoded plotly spec."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_figures_steps import decode

from attention.figures.compare import (
    aligned_attention,
    attention_pair_figure,
    axis_shift_figure,
    cosine_shift,
    default_word,
    difference_figure,
    difference_table,
    shared_words,
)

A = ["the", "cat", "saw", "the", "dog"]
B = ["a", "dog", "saw", "it"]


def spec(fig):
    return json.loads(fig.to_json())


def test_shared_words_keep_sentence_a_order_without_repeats():
    assert shared_words(A, B) == ["saw", "dog"]
    assert shared_words(["x"], ["y"]) == []


def test_default_word_prefers_ambiguous_then_pronoun_then_longest():
    assert default_word(["the", "bank", "river"], preferred=("bank",)) == "bank"
    assert default_word(["the", "it", "street"]) == "it"
    assert default_word(["a", "street", "the"]) == "street"
    assert default_word([]) is None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from("abcde"), min_size=1, max_size=8),
    st.lists(st.sampled_from("cdefg"), min_size=1, max_size=8),
)
def test_alignment_matches_a_naive_sum_and_keeps_each_rows_total(tokens_a, tokens_b):
    rng = np.random.default_rng(len(tokens_a) * 10 + len(tokens_b))
    row_a, row_b = rng.dirichlet(np.ones(len(tokens_a))), rng.dirichlet(np.ones(len(tokens_b)))
    words, wa, wb = aligned_attention(tokens_a, row_a, tokens_b, row_b)
    assert len(set(words)) == len(words) and set(words) == set(tokens_a) | set(tokens_b)
    for word, a, b in zip(words, wa, wb, strict=True):
        assert a == np.float32(sum(w for t, w in zip(tokens_a, row_a, strict=True) if t == word))
        assert b == np.float32(sum(w for t, w in zip(tokens_b, row_b, strict=True) if t == word))
    assert abs(wa.sum() - 1) < 1e-5 and abs(wb.sum() - 1) < 1e-5  # nothing lost or counted twice


def test_difference_figure_shows_both_rows_and_their_difference():
    words, wa, wb = aligned_attention(A, [0.1, 0.2, 0.3, 0.1, 0.3], B, [0.25, 0.25, 0.25, 0.25])
    s = spec(difference_figure(words, wa, wb, "saw"))
    bars_a, bars_b, diff = s["data"]
    assert bars_a["x"] == words == ["the", "cat", "saw", "dog", "a", "it"]
    np.testing.assert_allclose(decode(bars_a["y"]), [0.2, 0.2, 0.3, 0.3, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(decode(bars_b["y"]), [0, 0, 0.25, 0.25, 0.25, 0.25], rtol=1e-6)
    np.testing.assert_allclose(decode(diff["y"]), decode(bars_b["y"]) - decode(bars_a["y"]), atol=1e-6)
    table = difference_table(words, wa, wb)
    np.testing.assert_allclose(table["B_minus_A"], decode(diff["y"]), atol=1e-6)


def test_difference_figure_weight_panel_fits_the_tallest_bar():
    words, wa, wb = aligned_attention(A, [0.1, 0.2, 0.3, 0.1, 0.3], B, [0.25, 0.25, 0.25, 0.25])
    s = spec(difference_figure(words, wa, wb, "saw"))
    low, high = s["layout"]["yaxis"]["range"]
    assert low == 0 and 0.3 < high < 0.5  # the tallest bar (0.3) fills the panel instead of a third of [0, 1]


def test_pair_heatmaps_show_both_matrices_on_one_scale():
    wa, wb = np.eye(5, dtype=np.float32), np.full((4, 4), 0.25, dtype=np.float32)
    s = spec(attention_pair_figure(A, wa, B, wb, titles=("A: <i>x</i>", "B")))
    left, right = s["data"]
    np.testing.assert_array_equal(decode(left["z"]), wa)
    np.testing.assert_array_equal(decode(right["z"]), wb)
    assert left["y"] == ["the (0)", "cat", "saw", "the (3)", "dog"]  # repeated words stay distinct
    assert (left["zmin"], left["zmax"]) == (right["zmin"], right["zmax"]) == (0, 1)  # eye(5): the larger max is 1
    assert s["layout"]["annotations"][0]["text"] == "A: &lt;i&gt;x&lt;/i&gt;"


def test_pair_heatmaps_share_a_scale_up_to_the_larger_max():
    rng = np.random.default_rng(3)
    wa = rng.dirichlet(np.ones(5), size=5).astype(np.float32) * 0.5  # rows shrunk: max well below 1
    wb = rng.dirichlet(np.ones(4), size=4).astype(np.float32) * 0.3
    s = spec(attention_pair_figure(A, wa, B, wb))
    left, right = s["data"]
    top = max(float(wa.max()), float(wb.max()))
    assert left["zmin"] == right["zmin"] == 0
    assert left["zmax"] == right["zmax"] == pytest.approx(top, rel=1e-6)
    assert top < 0.5  # not the old fixed 0..1 scale
    big = spec(attention_pair_figure(A, wa, B, wb, present=True))["layout"]["annotations"]
    assert all(a["font"]["size"] > s["layout"]["annotations"][0]["font"]["size"] for a in big)  # A / B grow
    margin = spec(attention_pair_figure(A, wa, B, wb, present=True))["layout"]["margin"]["t"]
    assert margin > big[0]["font"]["size"] + 20  # and keep room above the plots (20 px: plotly's title offset)


def test_axis_shift_figure_plots_each_sentences_shift():
    s = spec(axis_shift_figure(["food", "technology"], [0.3, -0.1], [-0.2, 0.4], "apple"))
    np.testing.assert_allclose(decode(s["data"][0]["y"]), [0.3, -0.1], rtol=1e-6)
    np.testing.assert_allclose(decode(s["data"][1]["y"]), [-0.2, 0.4], rtol=1e-6)
    assert s["data"][0]["x"] == ["food", "technology"]


def test_cosine_shift_is_the_change_of_direction_not_of_length():
    before, after = np.array([3.0, 4.0, 0.0]), np.array([3.0, 4.0, 0.0]) * 0.2  # shrunk, same direction
    np.testing.assert_allclose(cosine_shift(before, after), 0, atol=1e-7)
    after = np.array([0.0, 4.0, 0.0])  # turned toward axis 1
    shift = cosine_shift(before, after)
    np.testing.assert_allclose(shift, [0 - 0.6, 1 - 0.8, 0], atol=1e-6)


def test_long_pair_stays_one_screen_high_and_labels_every_kth_token():
    from attention.figures.compare import MAX_PAIR_PX, MAX_PAIR_TICKS
    from attention.figures.heatmaps import MAX_TICKS

    n = 128  # long, but not yet pooled (MAX_SIDE; see the next test)
    tokens = [f"w{i}" for i in range(n)]
    w = np.full((n, n), 1.0 / n, dtype=np.float32)
    fig = attention_pair_figure(tokens, w, B, np.eye(len(B)))
    assert fig.layout.height == 220 + MAX_PAIR_PX  # was 220 + 24 * 128 = 3,292 px
    shown = list(fig.layout.yaxis.tickvals)
    assert 1 < len(shown) <= MAX_TICKS and shown[0] == "w0"
    keys = list(fig.layout.xaxis.tickvals)  # half a page wide: fewer key labels
    assert 1 < len(keys) <= MAX_PAIR_TICKS and keys[0] == "w0" and set(keys) <= set(tokens)
    assert len(decode(spec(fig)["data"][0]["y"])) == n  # every row is still drawn; hover names each one
    assert fig.layout.xaxis2.tickvals is None  # the short sentence keeps plotly's own labels
    assert attention_pair_figure(A, np.eye(5), B, np.eye(4)).layout.height == 220 + 24 * 5


def test_a_512_token_pair_is_drawn_as_means_of_blocks_and_says_so():
    from attention.figures.heatmaps import MAX_SIDE

    n = 2 * MAX_SIDE
    rng = np.random.default_rng(1)
    w = rng.random((n, n)).astype(np.float32)
    fig = attention_pair_figure([f"w{i}" for i in range(n)], w, B, np.eye(len(B)))
    s = spec(fig)
    z = decode(s["data"][0]["z"])
    naive = np.array([[w[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean() for j in range(n // 2)] for i in range(n // 2)])
    np.testing.assert_allclose(z, naive, rtol=1e-6)
    assert list(decode(s["data"][0]["y"])[:2]) == ["w0 … w1", "w2 … w3"] and len(decode(s["data"][0]["x"])) == n // 2
    assert "mean" in s["data"][0]["hovertemplate"] and "mean" not in s["data"][1]["hovertemplate"]
    titles = [a["text"] for a in s["layout"]["annotations"]]
    assert titles == ["A · each cell the mean of 2 × 2 tokens", "B"]
    assert s["data"][0]["zmax"] == pytest.approx(1.0)  # B's identity: both share one scale
