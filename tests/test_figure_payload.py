"""Long inputs stay light in the browser: large heatmaps send z as binary without per-cell text, and the
all-heads grid averages blocks of tokens above MAX_GRID (exactly, checked against a naive loop)."""

import numpy as np
import pytest

from attention.figures import compare, heads, heatmaps, predictions, pull, steps
from attention.figures import flow as flow_figures
from attention.figures import geometry as geometry_figures
from attention.figures.common import subplot_grid


def random_weights(rng, n_head, n_seq):  # -> [n_head, n_seq, n_seq], rows sum to 1
    w = rng.random((n_head, n_seq, n_seq), dtype=np.float32)
    return w / w.sum(axis=-1, keepdims=True)


def test_large_heatmap_sends_no_cell_text_and_hovers_on_z():
    n = heatmaps.MAX_HOVER_TEXT + 1
    w = random_weights(np.random.default_rng(0), 1, n)[0]
    fig = heatmaps.attention_heatmap(w, [f"t{i}" for i in range(n)])
    assert fig.data[0].text is None and "%{z" in fig.data[0].hovertemplate
    small = heatmaps.attention_heatmap(w[:8, :8], [f"t{i}" for i in range(8)])
    assert small.data[0].text is not None and "%{text}" in small.data[0].hovertemplate


@pytest.mark.parametrize("n_seq, max_n", [(10, 4), (9, 3), (512, 128), (130, 128)])
def test_block_mean_matches_a_naive_loop(n_seq, max_n):
    w = random_weights(np.random.default_rng(n_seq), 2, n_seq)
    got, starts, size = heads.block_mean(w, max_n)
    assert len(starts) <= max_n and size == -(-n_seq // max_n)
    ends = list(starts[1:]) + [n_seq]
    for h in range(2):
        for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
            for j, (c, d) in enumerate(zip(starts, ends, strict=True)):
                assert got[h, i, j] == pytest.approx(w[h, a:b, c:d].mean(), rel=1e-5)
    counts = np.diff(list(starts) + [n_seq])
    np.testing.assert_allclose((got * counts).sum(axis=-1), 1.0, rtol=1e-5)  # each block of rows still sums to 1


def test_head_grid_at_512_tokens_is_binned_and_says_so():
    n_head, n_seq = 12, 512
    fig = heads.head_grid(random_weights(np.random.default_rng(1), n_head, n_seq), [f"t{i}" for i in range(n_seq)])
    assert len(fig.data) == n_head
    assert all(np.asarray(t.z).shape == (heads.MAX_GRID, heads.MAX_GRID) and t.text is None for t in fig.data)
    assert "block of 4 × 4 tokens" in fig.layout.title.text
    assert len(set(fig.data[0].x)) == heads.MAX_GRID  # block labels stay distinct


def test_long_pull_figure_joins_the_paths_into_one_trace():
    from attention.figures.pull import MAX_PATH_TRACES, pull_figure

    n_seq, selected = MAX_PATH_TRACES + 6, 3
    paths = np.random.default_rng(5).normal(size=(3, n_seq, 2)).astype(np.float32)
    fig = pull_figure([f"t{i}" for i in range(n_seq)], paths, [0.5, 0.2], selected=selected, context=[("t1", 0.5)])
    joined, own = [t for t in fig.data if t.mode == "lines"]
    xy = np.stack([np.asarray(joined.x, dtype=np.float64), np.asarray(joined.y, dtype=np.float64)], axis=-1)
    segments = xy.reshape(n_seq - 1, 4, 2)  # 3 points and a NaN gap per token
    others = [i for i in range(n_seq) if i != selected]
    np.testing.assert_allclose(segments[:, :3], paths[:, others].transpose(1, 0, 2), rtol=1e-6)
    assert np.isnan(segments[:, 3]).all()
    np.testing.assert_allclose(np.stack([own.x, own.y], axis=-1), paths[:, selected], rtol=1e-6)
    arrows = [a for a in fig.layout.annotations if a.axref == "x"]  # arrowheads (a label points back in pixels)
    assert len(arrows) == 1 and arrows[0].x == pytest.approx(float(paths[-1, selected, 0]))


def fast_cases():  # -> figures built with common.fast_figure (plotly's property checks skipped when built)
    rng = np.random.default_rng(3)
    for n in (3, heatmaps.MAX_GAP + 1, heatmaps.MAX_HOVER_TEXT + 1, heatmaps.MAX_SIDE + 3):  # the last one pooled
        w = random_weights(rng, 1, n)[0]
        tokens = [f"t{i}" for i in range(n)]
        scores = np.log(w)
        scores[0, 1:] = -np.inf  # masked cells
        yield heatmaps.attention_heatmap(w, tokens, title="weights", present=True)
        yield heatmaps.attention_heatmap(scores, tokens, kind="scores", show_text=True, key_tokens=tokens[::-1])
        yield heatmaps.row_bars(w[0], tokens, 0)
        yield heatmaps.row_bars(scores[1], tokens, 1, kind="scores", present=True, title="a row")
        dims = [f"d{j}" for j in range(4)]
        panels = [steps.Panel("Q", rng.normal(size=(n, 4)), tokens, dims, "[n_seq, d_head]"),
                  steps.Panel("QKᵀ", scores, tokens, tokens, "[n_seq, n_seq]"),
                  steps.Panel("softmax", w, tokens, tokens, "[n_seq, n_seq]", kind="weights"),
                  steps.Panel("mask", np.tril(np.ones((n, n))), tokens, tokens, "[n_seq, n_seq]", kind="mask")]  # fmt: skip
        yield steps.stage_grid(panels, n_cols=2, present=True, title="a <b>grid</b>")
        yield heads.head_grid(random_weights(rng, 4, n), tokens, present=True, selected=1)
        yield compare.attention_pair_figure(tokens, w, tokens[:-1], w[:-1, :-1], present=True)
        yield compare.difference_figure(tokens, w[0], w[1], "t0")
        yield flow_figures.value_pair(w, w * rng.random(n), tokens, title="layer 0", present=True)
        yield flow_figures.rollout_figure(random_weights(rng, 2, n), tokens, n - 1)
        q, k = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
        yield geometry_figures.qk_plane(q, k, tokens, 0, [1, 2][: n - 1], w[0], [0.4, 0.2], present=True)
        from attention.geometry import neuron_view

        yield geometry_figures.neuron_figure(neuron_view(q[0], k[1]), tokens[0], tokens[1])
    for k in (2, 3):
        paths = rng.normal(size=(3, 5, k))
        tokens, reference = ["an", "apple", "pie", "and", "a"], rng.normal(size=(4, k))
        yield pull.pull_figure(tokens, paths, [0.5, 0.2, 0.1][:k], reference, list("abcd"), ["x", "x", "y", "y"],
                               selected=1, context=[("pie", 0.4)], present=True, title="pull")  # fmt: skip
        yield pull.compare_pull_figure(tokens, paths, tokens[:3], paths[:, :3], [0.5, 0.2, 0.1][:k], 1, 1,
                                       notes=("A: pie", "B: an"))  # fmt: skip
    from test_figures_predictions import predictions as random_predictions

    yield predictions.prediction_bars(random_predictions(rng)[0], 1, ["a", "b", "c", "a"], present=True)
    yield predictions.shift_figure([0, 4, 8], [1.0, 1.0, 1.0], [1.0, -0.5, 2.0], 5, 2)


N_FAST = sum(1 for _ in fast_cases())


@pytest.mark.parametrize("index", range(N_FAST))
def test_fast_figures_pass_plotlys_own_checks(index):
    """fast_figure skips plotly's validation for speed; here every such figure (heatmaps, bars, stage and head
    grids, the compare and pull figures in 2-D and 3-D) goes through it, so a misspelt or invalid property fails a
    test instead of being dropped silently by the browser."""
    import plotly.graph_objects as go

    fig = list(fast_cases())[index]
    checked = go.Figure(fig.to_dict())  # raises ValueError on any invalid property or value
    assert checked.to_json() == go.Figure(checked.to_dict()).to_json()
    assert len(checked.data) >= 1 and checked.layout.template.layout.paper_bgcolor == "white"
    for trace in (t for t in checked.data if t.type != "scatter3d"):  # on axes the layout defines (a grid's cells)
        x, y = trace.xaxis or "x", trace.yaxis or "y"
        assert f"xaxis{x[1:]}" in checked.layout and f"yaxis{y[1:]}" in checked.layout


@pytest.mark.parametrize(
    "grid",
    [
        dict(rows=1, cols=1, subplot_titles=["a"]),
        dict(rows=1, cols=3, subplot_titles=["Q", "K", "V"], column_widths=[4, 7, 9], horizontal_spacing=0.06),
        dict(rows=2, cols=2, subplot_titles=["a", "b", "c"], column_widths=[0.3, 0.7], horizontal_spacing=0.06,
             vertical_spacing=0.16),
        dict(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45]),
        dict(rows=3, cols=3, subplot_titles=list("abcdefg"), horizontal_spacing=0.05, vertical_spacing=0.1,
             shared_xaxes=True),
    ],
)  # fmt: skip
def test_subplot_grid_lays_out_what_make_subplots_does(grid):
    """The figures built from dicts place their cells, axes and cell titles exactly where plotly's make_subplots
    puts them (compared up to float rounding)."""
    from plotly.subplots import make_subplots

    expected = make_subplots(**grid).layout.to_plotly_json()
    expected.pop("template")
    got = subplot_grid(grid["rows"], grid["cols"], titles=grid.get("subplot_titles", ()),
                       column_widths=grid.get("column_widths"), row_heights=grid.get("row_heights"),
                       horizontal_spacing=grid.get("horizontal_spacing", 0.0),
                       vertical_spacing=grid.get("vertical_spacing", 0.0), shared_xaxes=grid.get("shared_xaxes", False))  # fmt: skip
    assert set(got) == set(expected)
    for key, value in expected.items():
        if key == "annotations":
            assert len(got[key]) == len(value)
            for a, b in zip(got[key], value, strict=True):
                assert (a.pop("x"), a.pop("y")) == pytest.approx((b.pop("x"), b.pop("y"))) and a == b
        else:
            assert got[key].pop("domain") == pytest.approx(value.pop("domain")) and got[key] == value
