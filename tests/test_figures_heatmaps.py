"""Heatmap, row-bar and head-grid builders: the figure holds the numbers it was given, labels stay distinct,
masked cells read −∞, colour scales are the right kind, and head summaries match naive loops."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attention.core import attention, causal_mask, softmax
from attention.figures import heads, heatmaps


def decoded(trace_value):  # plotly may hold numpy arrays or lists; compare as float arrays
    return np.asarray(trace_value, dtype=np.float64)


def random_weights(rng, n_head, n_seq, causal=False):  # -> [n_head, n_seq, n_seq], rows sum to 1
    scores = rng.normal(size=(n_head, n_seq, n_seq)).astype(np.float32) * 2
    if causal:
        scores = np.where(causal_mask(n_seq), scores, -np.inf)
    return softmax(scores)


def test_weights_heatmap_holds_the_matrix_with_distinct_labels():
    w = random_weights(np.random.default_rng(0), 1, 5)[0]
    tokens = ["the", "cat", "saw", "the", "<b>dog</b>"]
    fig = heatmaps.attention_heatmap(w, tokens)
    trace = fig.data[0]
    np.testing.assert_allclose(decoded(trace.z), w, rtol=1e-6)
    assert list(trace.x) == list(trace.y) == ["the (0)", "cat", "saw", "the (3)", "&lt;b&gt;dog&lt;/b&gt;"]
    assert trace.zmin == 0.0 and trace.zmax == pytest.approx(float(w.max()))  # 0 anchored, top = largest weight
    assert trace.texttemplate == "%{text}"  # n_seq <= 16: numbers in the cells
    assert trace.text[1][2] == f"{w[1, 2]:.2f}"
    assert fig.layout.yaxis.autorange == "reversed"  # first token on top, like the matrix


def test_weights_use_a_sequential_scale_and_scores_a_diverging_one():
    w = random_weights(np.random.default_rng(1), 1, 4)[0]
    weights_fig = heatmaps.attention_heatmap(w, list("abcd"))
    scores = np.array([[3.0, -1.0], [0.5, -6.0]], dtype=np.float32)
    scores_fig = heatmaps.attention_heatmap(scores, ["x", "y"], kind="scores")
    names = lambda fig: [c[1].lower() for c in fig.data[0].colorscale]  # noqa: E731
    viridis_start = "#440154"
    assert names(weights_fig)[0] == viridis_start
    t = scores_fig.data[0]
    assert (t.zmin, t.zmax, t.zmid) == (-6.0, 6.0, 0.0)  # symmetric around 0
    assert names(scores_fig)[0] == "rgb(5,48,97)"  # RdBu reversed: dark blue for negative scores


def test_masked_cells_are_blank_and_read_minus_infinity():
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(4, 3)).astype(np.float32) for _ in range(3))
    stages = attention(q, k, v, mask=causal_mask(4))
    fig = heatmaps.stage_heatmap(stages, "masked", ["a", "b", "c", "d"])
    z = decoded(fig.data[0].z)
    upper = ~causal_mask(4)
    assert np.isnan(z[upper]).all()
    np.testing.assert_allclose(z[~upper], stages.scaled[0][~upper], rtol=1e-6)
    assert all(fig.data[0].text[i][j] == "−∞" for i, j in zip(*np.nonzero(upper), strict=True))


@pytest.mark.parametrize("stage, field", [("raw", "scores"), ("scaled", "scaled"), ("weights", "weights")])
def test_each_stage_shows_its_own_matrix(stage, field):
    rng = np.random.default_rng(3)
    q, k, v = (rng.normal(size=(2, 5, 4)).astype(np.float32) for _ in range(3))
    one_head = attention(q[1], k[1], v[1])
    fig = heatmaps.stage_heatmap(one_head, stage, list("abcde"))
    np.testing.assert_allclose(decoded(fig.data[0].z), getattr(one_head, field)[0], rtol=1e-6)


def test_no_cell_text_for_long_sentences_and_a_shape_check():
    w = random_weights(np.random.default_rng(4), 1, 20)[0]
    assert heatmaps.attention_heatmap(w, [f"t{i}" for i in range(20)]).data[0].texttemplate is None
    with pytest.raises(ValueError, match="matrix must be"):
        heatmaps.attention_heatmap(w, ["too", "few"])


def test_row_bars_show_one_query_row():
    w = random_weights(np.random.default_rng(5), 1, 6)[0]
    fig = heatmaps.row_bars(w[2], list("abcdef"), 2)
    np.testing.assert_allclose(decoded(fig.data[0].y), w[2], rtol=1e-6)
    assert list(fig.data[0].marker.color).count("#e45756") == 1  # the query itself is highlighted


def test_long_inputs_drop_gaps_and_bar_labels_but_keep_every_value():
    """Gaps and per-bar labels help a short sentence; on a long one they only slow the browser down."""
    tokens = [f"w{i}" for i in range(heatmaps.MAX_BAR_TEXT + 1)]
    w = random_weights(np.random.default_rng(6), 1, len(tokens))[0]
    short = heatmaps.row_bars(w[0, :6], tokens[:6], 0).data[0]
    long = heatmaps.row_bars(w[0], tokens, 0).data[0]
    assert list(short.text) == [f"{x:.2f}" for x in w[0, :6]] and short.textposition == "outside"
    assert long.text is None and "%{y:.2f}" in long.hovertemplate
    np.testing.assert_allclose(decoded(long.y), w[0], rtol=1e-6)
    n = heatmaps.MAX_GAP
    assert heatmaps.attention_heatmap(np.eye(n), [f"w{i}" for i in range(n)]).data[0].xgap == 1
    assert heatmaps.attention_heatmap(np.eye(n + 1), [f"w{i}" for i in range(n + 1)]).data[0].xgap == 0


def test_long_axes_label_every_kth_token_and_hover_names_each():
    n = 3 * heatmaps.MAX_TICKS + 1
    tokens = [f"w{i}" for i in range(n)]
    fig = heatmaps.attention_heatmap(np.eye(n), tokens)
    shown = list(fig.layout.xaxis.tickvals)
    assert len(shown) <= heatmaps.MAX_TICKS and shown[0] == "w0" and list(fig.layout.yaxis.tickvals) == shown
    assert set(shown) <= set(tokens) and len(fig.data[0].x) == n  # every column is still there, by its label
    bars = heatmaps.row_bars(np.ones(n) / n, tokens, 0)
    assert list(bars.layout.xaxis.tickvals) == shown
    assert heatmaps.attention_heatmap(np.eye(5), tokens[:5]).layout.xaxis.tickvals is None  # short: plotly's own


def naive_summary(w, tokens):  # [n_seq, n_seq] -> dict of floats, by explicit loops
    n = len(tokens)
    ent = [-sum(x * math.log2(x) for x in row if x > 0) for row in w]
    punct = [i for i, t in enumerate(tokens) if t in {",", ".", "!", "?", "..."}]
    return {
        "entropy": sum(ent) / n,
        "self": sum(w[i][i] for i in range(n)) / n,
        "previous": sum(w[i][i - 1] for i in range(1, n)) / (n - 1),
        "first": sum(w[i][0] for i in range(n)) / n,
        "punctuation": sum(sum(w[i][j] for j in punct) for i in range(n)) / n,
    }


@given(st.integers(1, 4), st.integers(2, 9), st.booleans(), st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_head_summary_matches_naive_loops(n_head, n_seq, causal, seed):
    tokens = [[",", "the", "cat", ".", "sat", "...", "on", "it", "!"][i] for i in range(n_seq)]
    w = random_weights(np.random.default_rng(seed), n_head, n_seq, causal)
    summary = heads.head_summary(w, tokens)
    for h in range(n_head):
        expected = naive_summary(w[h].astype(np.float64).tolist(), tokens)
        for name, value in expected.items():
            assert summary[name][h] == pytest.approx(value, abs=1e-5), name


@given(arrays(np.float32, (3, 5), elements=st.floats(-30, 30, width=32)))
@settings(max_examples=60, deadline=None)
def test_entropy_is_between_zero_and_log_n(scores):
    e = heads.entropy(softmax(scores))
    assert (e >= -1e-5).all() and (e <= math.log2(5) + 1e-4).all()


def test_entropy_extremes():
    one_hot, uniform = np.eye(4, dtype=np.float32), np.full((4, 4), 0.25, dtype=np.float32)
    np.testing.assert_allclose(heads.entropy(one_hot), 0.0, atol=1e-7)
    np.testing.assert_allclose(heads.entropy(uniform), 2.0, atol=1e-6)


def test_punctuation_detection():
    assert [heads.is_punctuation(t) for t in [",", "...", "«", "'s", "a", "", "##."]] == [
        True, True, True, False, False, False, True,
    ]  # fmt: skip


def test_head_grid_is_one_figure_with_a_shared_colour_scale():
    w = random_weights(np.random.default_rng(6), 6, 5)
    fig = heads.head_grid(w, ["a", "b", "a", "c", "d"])
    assert len(fig.data) == 6 and {t.coloraxis for t in fig.data} == {"coloraxis"}
    assert fig.layout.coloraxis.cmin == 0.0 and fig.layout.coloraxis.cmax == pytest.approx(float(w.max()))
    for h, trace in enumerate(fig.data):
        np.testing.assert_allclose(decoded(trace.z), w[h], rtol=1e-6)
    assert list(fig.data[0].x) == ["a (0)", "b", "a (2)", "c", "d"]
    assert heads.grid_shape(6) == (2, 4) and heads.grid_shape(1) == (1, 1)


def test_layer_head_grid_and_summary_table():
    w = np.stack([random_weights(np.random.default_rng(s), 3, 4) for s in range(2)])  # [2, 3, 4, 4]
    ent = heads.mean_entropy(w)
    assert ent.shape == (2, 3)
    fig = heads.layer_head_grid(ent, selected=(1, 2))
    np.testing.assert_allclose(decoded(fig.data[0].z), ent, rtol=1e-6)
    table = heads.summary_table(w[0], ["a", ",", "b", "."])
    assert list(table.index) == ["head 0", "head 1", "head 2"]
    assert table.shape == (3, 5)
    np.testing.assert_allclose(table["entropy (bits)"], ent[0], atol=1e-3)


@pytest.mark.parametrize("n_seq, max_side, size", [(300, 256, 2), (512, 256, 2), (257, 128, 3), (256, 256, 1)])
def test_a_heatmap_past_max_side_draws_block_means_and_says_so(n_seq, max_side, size):
    """/heads' one head at 512 tokens: each cell the mean of size × size tokens, checked against a loop over the
    blocks (a shorter last block too); the title and the hover say "mean"; up to max_side every cell is drawn."""
    w = random_weights(np.random.default_rng(n_seq), 1, n_seq, causal=True)[0]
    tokens = [f"w{i}" for i in range(n_seq)]
    fig = heatmaps.attention_heatmap(w, tokens, title="Head 0", max_side=max_side)
    z = decoded(fig.data[0].z)
    n_bin = -(-n_seq // size)
    naive = np.array([[w[i * size : (i + 1) * size, j * size : (j + 1) * size].mean() for j in range(n_bin)]
                      for i in range(n_bin)])  # fmt: skip
    np.testing.assert_allclose(z, naive, rtol=1e-5, atol=1e-7)
    assert len(fig.data[0].x) == len(fig.data[0].y) == n_bin
    if size == 1:
        assert fig.layout.title.text == "Head 0" and "mean" not in fig.data[0].hovertemplate
    else:
        assert fig.layout.title.text == f"Head 0 · each cell the mean of {size} × {size} tokens"
        assert "mean weight %{z:.3f}" in fig.data[0].hovertemplate
        assert fig.data[0].x[1] == f"w{size} … w{2 * size - 1}"  # a block is named by its first and last token
