"""Step-by-step figures: decode the plotly spec and compare it with the matrices passed in."""

import base64
import json

import numpy as np
import pytest
from plotly_spec import one_line

from attention.core import causal_mask, multi_head_attention
from attention.figures.steps import (
    Panel,
    panels_table,
    pooled,
    saturation_figure,
    saturation_table,
    stage_grid,
    weighted_sum_text,
)
from attention.saturation import saturation


def decode(value):  # plotly >= 6 encodes numpy arrays as {"dtype", "bdata", "shape"}
    if isinstance(value, dict) and "bdata" in value:
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return a.reshape([int(s) for s in str(value.get("shape", a.size)).split(",")])
    return np.asarray(value)


def spec(fig):
    return json.loads(fig.to_json())


def lecture_like_stages(n_seq=5, d_model=4, n_head=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_seq, d_model)).astype(np.float32)
    w = {name: rng.normal(size=(d_model, d_model)).astype(np.float32) for name in ("w_q", "w_k", "w_v", "w_o")}
    return multi_head_attention(x, **w, n_head=n_head, mask=causal_mask(n_seq))


def test_every_panel_shows_its_matrix_labels_and_shape():
    mh = lecture_like_stages()
    tokens = ["the", "cat", "saw", "the (3)", "dog"]
    dims = ["d0", "d1"]
    panels = [
        Panel("Q", mh.heads.queries[0], tokens, dims, "[n_seq, d_head]"),
        Panel("QKᵀ", mh.heads.scores[0], tokens, tokens, "[n_seq, n_seq]"),
        Panel("softmax", mh.heads.weights[0], tokens, tokens, "[n_seq, n_seq]", kind="weights"),
    ]
    s = spec(stage_grid(panels))
    assert len(s["data"]) == 3
    for panel, trace in zip(panels, s["data"], strict=True):
        np.testing.assert_allclose(decode(trace["z"]), panel.matrix, rtol=1e-6)
        assert trace["y"] == tokens and trace["x"] == panel.cols
        assert trace["type"] == "heatmap"  # no WebGL
    titles = [one_line(a["text"]) for a in s["layout"]["annotations"]]
    assert "Q  [n_seq, d_head] = [5, 2]" in titles and "QKᵀ  [n_seq, n_seq] = [5, 5]" in titles
    top = float(mh.heads.weights[0].max())  # weights: 0 to the largest weight, as every weight heatmap
    assert s["data"][2]["zmin"] == 0 and s["data"][2]["zmax"] == pytest.approx(top, rel=1e-6)
    assert s["data"][1]["zmid"] == 0  # signed scores diverge around 0


def test_masked_cells_are_blank_and_say_minus_infinity():
    mh = lecture_like_stages()
    masked = mh.heads.masked[0]
    assert np.isneginf(masked).any()
    labels = list("abcde")
    s = spec(stage_grid([Panel("masked", masked, labels, labels, "[n_seq, n_seq]")]))
    z = decode(s["data"][0]["z"])
    np.testing.assert_array_equal(np.isnan(z), np.isneginf(masked))
    np.testing.assert_allclose(z[np.isfinite(masked)], masked[np.isfinite(masked)])
    text = np.array(s["data"][0]["text"])
    assert (text[np.isneginf(masked)] == "−∞").all()
    assert text[0, 0] == f"{masked[0, 0]:.2f}"


def test_mask_panel_marks_allowed_cells():
    labels = list("abc")
    s = spec(stage_grid([Panel("mask", causal_mask(3), labels, labels, "[n_seq, n_seq]", kind="mask")]))
    text = np.array(s["data"][0]["text"])
    assert (text == np.where(np.tril(np.ones((3, 3))) > 0, "✓", "·")).all()


def test_labels_are_escaped_so_typed_markup_is_shown_as_text():
    s = spec(stage_grid([Panel("X", np.ones((1, 1)), ["<b>hi</b>"], ["dim"], "[n_seq, d_model]")]))
    assert s["data"][0]["y"] == ["&lt;b&gt;hi&lt;/b&gt;"]


def test_cell_text_only_for_small_matrices():
    small = spec(stage_grid([Panel("s", np.ones((3, 3)), list("abc"), list("abc"), "[3, 3]")]))
    labels = [str(i) for i in range(20)]
    big = spec(stage_grid([Panel("b", np.ones((20, 20)), labels, labels, "[20, 20]")]))
    assert small["data"][0]["texttemplate"] == "%{text}"
    assert "texttemplate" not in big["data"][0]


def test_big_matrices_hover_their_numbers_without_shipping_a_string_per_cell():
    labels = [str(i) for i in range(100)]
    s = spec(stage_grid([Panel("w", np.eye(100), labels, labels, "[n_seq, n_seq]", "weights")]))
    assert "text" not in s["data"][0] and "%{z:.3f}" in s["data"][0]["hovertemplate"]
    np.testing.assert_array_equal(decode(s["data"][0]["z"]), np.eye(100))


def test_panel_refuses_mismatched_labels():
    with pytest.raises(ValueError, match="needs 2 rows"):
        Panel("X", np.ones((3, 2)), ["a", "b"], ["c", "d"], "[n_seq, d_model]")


def test_panels_table_has_every_cell_once():
    mh = lecture_like_stages(n_seq=3, d_model=2, n_head=1)
    rows, cols = ["a", "b", "c"], ["x", "y"]
    table = panels_table([Panel("V", mh.heads.values[0], rows, cols, "[n_seq, d_head]")])
    assert len(table) == 6
    pivot = table.pivot(index="row", columns="column", values="value").loc[rows, cols].to_numpy()
    np.testing.assert_allclose(pivot, mh.heads.values[0], rtol=1e-6)


def test_saturation_figure_plots_the_backend_numbers():
    sat = saturation(d_heads=(1, 8, 64), n_rows=40)
    for stat in ("max_weight", "entropy", "gradient"):
        s = spec(saturation_figure(sat, stat))
        unscaled, scaled = s["data"]
        np.testing.assert_array_equal(decode(unscaled["x"]), sat.d_heads)
        np.testing.assert_allclose(decode(unscaled["y"]), getattr(sat, stat)["unscaled"])
        np.testing.assert_allclose(decode(scaled["y"]), getattr(sat, stat)["scaled"])
        assert s["layout"]["xaxis"]["type"] == "log"
    marked = spec(saturation_figure(sat, d_head=24))
    (line,) = [t for t in marked["data"] if t["name"] == "this model: d_head = 24"]
    assert list(decode(line["x"])) == [24, 24]  # a trace in data units on the log axis
    table = saturation_table(sat)
    np.testing.assert_allclose(table["max_weight_unscaled"], sat.max_weight["unscaled"])
    with pytest.raises(ValueError, match="stat must be one of"):
        saturation_figure(sat, "speed")


def test_weighted_sum_text_spells_out_the_heaviest_value_rows():
    text = weighted_sum_text("apple", [0.1, 0.6, 0.0, 0.3], ["a", "b", "c", "d"], k=2)
    assert text == "apple: out = 0.60·v(b) + 0.30·v(d) + …   (4 weights, sum 1.00)"
    assert "…" not in weighted_sum_text("x", [0.5, 0.5, 0.0], ["a", "b", "c"], k=2)  # the zero is not missing


def test_weights_panel_colours_run_to_its_largest_weight_and_crowded_columns_turn_upright():
    weights = np.random.default_rng(4).dirichlet(np.ones(6), size=6).astype(np.float32)  # rows sum to 1, max < 1
    features = [f"f{i}" for i in range(24)]
    panels = [
        Panel("softmax", weights, list("abcdef"), list("abcdef"), "[n_seq, n_seq]", kind="weights"),
        Panel("Q", np.ones((6, 24), np.float32), list("abcdef"), features, "[n_seq, d_head]"),
    ]
    s = spec(stage_grid(panels))
    assert s["data"][0]["zmax"] == pytest.approx(float(weights.max()), rel=1e-6) and weights.max() < 0.9
    assert s["layout"]["xaxis"]["tickangle"] == -45  # six columns: slanted labels fit
    assert s["layout"]["xaxis2"]["tickangle"] == -90 and s["layout"]["xaxis2"]["tickvals"] == features  # all kept


def test_long_panels_stay_a_screen_tall_and_name_every_kth_token():
    from attention.figures.steps import MAX_PANEL_PX, MAX_TICKS

    n = 128  # up to MAX_SIDE: every token its own cell
    tokens = [f"t{i}" for i in range(n)]
    fig = stage_grid([Panel("W", np.eye(n, dtype=np.float32), tokens, tokens, "[n_seq, n_seq]", "weights")])
    assert fig.layout.height == 120 + MAX_PANEL_PX
    shown = list(fig.layout.yaxis.tickvals)
    assert MAX_TICKS >= len(shown) > 1 and set(shown) <= set(tokens) and len(fig.data[0].y) == n
    small = stage_grid([Panel("W", np.eye(4, dtype=np.float32), tokens[:4], tokens[:4], "[4, 4]", "weights")])
    assert list(small.layout.yaxis.tickvals) == tokens[:4]  # short: every token named


def naive_blocks(m, size_r, size_c, reduce):  # the reference: a loop over blocks
    r, c = -(-m.shape[0] // size_r), -(-m.shape[1] // size_c)
    return np.array([[reduce(m[i * size_r : (i + 1) * size_r, j * size_c : (j + 1) * size_c]) for j in range(c)]
                     for i in range(r)])  # fmt: skip


@pytest.mark.parametrize(
    "n_rows,n_cols,max_n", [(512, 384, 256), (300, 7, 128), (9, 9, 4), (5, 5, 5), (257, 259, 256), (10, 3, 4)]
)  # the last two leave a shorter last block
def test_block_reduce_matches_a_loop_and_skips_masked_cells(n_rows, n_cols, max_n):
    from attention.figures.heatmaps import block_labels, block_reduce, block_tick, blocks

    rng = np.random.default_rng(n_rows)
    m = rng.standard_normal((n_rows, n_cols)).astype(np.float32)
    m[rng.random(m.shape) < 0.3] = -np.inf  # masked scores
    rows, cols = blocks(n_rows, max_n), blocks(n_cols, max_n)
    assert len(rows) <= max_n and rows[0] == 0 and len(set(np.diff(rows))) <= 1
    size_r, size_c = (int(np.diff(s)[0]) if len(s) > 1 else n for s, n in ((rows, n_rows), (cols, n_cols)))

    def mean_finite(b):
        f = b[np.isfinite(b)]
        return f.mean() if f.size else -np.inf

    np.testing.assert_allclose(
        block_reduce(m, rows, cols), naive_blocks(m, size_r, size_c, mean_finite), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(block_reduce(m, rows, cols, "max"), naive_blocks(m, size_r, size_c, np.max))
    labels = block_labels([f"t{i}" for i in range(n_rows)], rows)
    assert len(labels) == len(set(labels)) == len(rows)
    assert labels[0] == ("t0" if size_r == 1 else f"t0 … t{size_r - 1}")
    assert labels[-1] == (f"t{n_rows - 1}" if rows[-1] == n_rows - 1 else f"t{rows[-1]} … t{n_rows - 1}")
    assert block_tick(labels[0]) == ("t0" if size_r == 1 else "t0 …")


def test_a_block_of_only_nan_stays_nan_and_one_of_only_masked_cells_stays_masked():
    from attention.figures.heatmaps import block_reduce

    m = np.array([[np.nan, np.nan, -np.inf, np.nan], [np.nan, np.nan, -np.inf, -np.inf]], dtype=np.float32)
    got = block_reduce(m, np.array([0]), np.array([0, 2]))  # two 2 x 2 blocks
    assert np.isnan(got[0, 0]) and np.isneginf(got[0, 1])


def test_a_512_token_grid_draws_blocks_of_four_tokens_but_keeps_the_features_and_the_full_shapes():
    from attention.figures.heatmaps import MAX_SIDE

    n, d = 4 * MAX_SIDE, 24  # 512 tokens: blocks of 4
    rng = np.random.default_rng(5)
    tokens, features = [f"t{i}" for i in range(n)], [f"f{i}" for i in range(d)]
    scores = rng.standard_normal((n, n)).astype(np.float32)
    mask = np.tril(np.ones((n, n), dtype=bool))
    q = rng.standard_normal((n, d)).astype(np.float32)
    panels = [Panel("QKᵀ", scores, tokens, tokens, "[n_seq, n_seq]"),
              Panel("mask", mask, tokens, tokens, "[n_seq, n_seq]", "mask"),
              Panel("Q", q, tokens, features, "[n_seq, d_head]")]  # fmt: skip
    s = spec(stage_grid(panels, n_cols=3))
    z_scores, z_mask, z_q = (decode(t["z"]) for t in s["data"])
    np.testing.assert_allclose(z_scores, naive_blocks(scores, 4, 4, np.mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(z_mask, naive_blocks(mask.astype(np.uint8), 4, 4, np.max))  # diagonal stays allowed
    np.testing.assert_allclose(z_q, naive_blocks(q, 4, 1, np.mean), rtol=1e-5, atol=1e-6)  # rows pooled, features whole
    assert list(decode(s["data"][2]["x"])) == features and list(decode(s["data"][2]["y"])[:1]) == ["t0 … t3"]
    ticks = s["layout"]["yaxis"]
    assert ticks["ticktext"][:2] == ["t0 …", "t16 …"] and ticks["tickvals"][:2] == ["t0 … t3", "t16 … t19"]
    titles = [one_line(a["text"]) for a in s["layout"]["annotations"]]
    assert titles[0].endswith("[512, 512] · means of 4-token blocks")  # what was computed, and what is drawn
    assert titles[1].endswith("[512, 512] · 4-token blocks, allowed if any pair is")
    assert titles[2].endswith("[512, 24] · means of 4-token blocks")
    assert "mean" in s["data"][0]["hovertemplate"] and "mean" not in s["data"][1]["hovertemplate"]
    short = Panel("Q", q[:MAX_SIDE], tokens[:MAX_SIDE], features, "[n_seq, d_head]")
    assert pooled(short) is short  # up to MAX_SIDE tokens every cell is drawn


def test_a_long_panels_wide_feature_side_is_drawn_as_blocks_of_features_too():
    """512 tokens x MiniLM's 384 (d_model) and 1536 (MLP) features: blocks of 4 tokens x 2 and x 8 features, each
    cell the block's mean (checked against a loop); d_head-wide sides and short inputs stay whole."""
    from attention.figures.heatmaps import MAX_SIDE
    from attention.figures.steps import MAX_FEATURES

    n = 4 * MAX_SIDE
    rng = np.random.default_rng(6)
    tokens = [f"t{i}" for i in range(n)]
    x = rng.standard_normal((n, 2 * MAX_FEATURES)).astype(np.float32)
    mlp = rng.standard_normal((n, 8 * MAX_FEATURES)).astype(np.float32)
    panels = [Panel("X", x, tokens, [f"d{i}" for i in range(x.shape[1])], "[n_seq, d_model]"),
              Panel("MLP", mlp, tokens, [f"m{i}" for i in range(mlp.shape[1])], "[n_seq, d_ff]")]  # fmt: skip
    s = spec(stage_grid(panels, n_cols=2))
    z_x, z_mlp = (decode(t["z"]) for t in s["data"])
    assert z_x.shape == (MAX_SIDE, MAX_FEATURES) and z_mlp.shape == (MAX_SIDE, MAX_FEATURES)
    np.testing.assert_allclose(z_x, naive_blocks(x, 4, 2, np.mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z_mlp, naive_blocks(mlp, 4, 8, np.mean), rtol=1e-5, atol=1e-6)
    assert list(decode(s["data"][0]["x"])[:2]) == ["d0 … d1", "d2 … d3"]
    titles = [one_line(a["text"]) for a in s["layout"]["annotations"]]
    assert titles[0].endswith("[512, 384] · means of 4-token × 2-feature blocks")
    assert titles[1].endswith("[512, 1536] · means of 4-token × 8-feature blocks")
    short = Panel("X", x[:MAX_SIDE], tokens[:MAX_SIDE], [f"d{i}" for i in range(x.shape[1])], "[n_seq, d_model]")
    assert pooled(short) is short  # a short input keeps every feature too


def test_a_few_outliers_are_clipped_so_the_rest_of_a_signed_panel_keeps_its_colours():
    """A real model's MLP has a few features far larger than the rest (massive activations): on a scale set by them
    every other cell is white. Past 4x the 99.5th percentile of |value| the scale stops there, and the title and
    the hover say so; the z values (hover) keep every true number. Without such outliers the scale is ±the largest |value|."""
    rng = np.random.default_rng(0)
    m = rng.normal(size=(64, 48)).astype(np.float32)
    rows, cols = [f"t{i}" for i in range(64)], [str(j) for j in range(48)]
    plain = spec(stage_grid([Panel("up", m, rows, cols, "[n_seq, d]")]))
    assert plain["data"][0]["zmax"] == pytest.approx(float(np.abs(m).max())) and plain["data"][0]["zmin"] < 0
    assert (
        one_line(plain["layout"]["annotations"][0]["text"]).startswith("up  [")
        and "clipped" not in plain["data"][0]["hovertemplate"]
    )
    spiked = m.copy()
    spiked[3, 7], spiked[40, 7] = 60.0, -55.0  # one feature, two tokens
    s = spec(stage_grid([Panel("up", spiked, rows, cols, "[n_seq, d]")]))
    bound = s["data"][0]["zmax"]
    assert s["data"][0]["zmin"] == -bound and 2.0 < bound < 5.0  # the normal cells' range, not 60
    assert np.mean(np.abs(spiked) > bound) <= 0.006  # only the top half-percent saturates
    assert one_line(s["layout"]["annotations"][0]["text"]).startswith("up*  [n_seq, d]")  # the title marks it
    assert f"colour clipped at ±{bound:.3g}" in s["data"][0]["hovertemplate"]
    np.testing.assert_array_equal(decode(s["data"][0]["z"]), spiked)  # every true value is still there


def test_a_title_breaks_only_where_its_panel_is_too_narrow_and_reads_the_same_joined():
    from attention.figures.labels import box
    from attention.figures.steps import TITLE_PX, fitted_title

    m = np.zeros((512, 384), np.float32)
    panel = Panel("attention out", m, [f"t{i}" for i in range(512)], [str(j) for j in range(384)], "[n_seq, d_model]")
    parts = panel.title_parts("*") + pooled(panel).title_parts()[3:]  # as stage_grid builds them
    whole = "attention out*  [n_seq, d_model] = [512, 384] · means of 4-token × 2-feature blocks"
    counts = []
    for width in (60, 120, 200, 300, 420, 2000):
        title = fitted_title(parts, width)
        lines = title.split("<br>")
        assert one_line(title) == whole
        for line in lines:  # each line fits, unless it is one part that cannot break further
            assert box(line, TITLE_PX[False])[0] <= width or line in {p for _, p in parts}, (width, line)
        counts.append(len(lines))
    assert counts == sorted(counts, reverse=True) and counts[0] == 4 and counts[-1] == 1
    assert "[n_seq, d_model] = [512, 384]" in fitted_title(parts, 300).split("<br>")  # a shape breaks last


def test_a_wide_real_model_grid_names_every_kth_feature_and_keeps_narrow_titles_inside():
    """MiniLM's MLP: two 1536-wide panels and a 384-wide one. Each feature axis names every k-th column, k a round
    step, as many as fit its width; the narrow panel's title breaks, and at the grid's edge it reads inward."""
    from attention.figures.labels import box
    from attention.figures.steps import GRID_PX, LABEL_PX, NICE_STEPS, TITLE_PX

    rng = np.random.default_rng(0)
    rows = [f"t{i}" for i in range(11)]
    panels = [Panel(name, rng.normal(size=(11, d)), rows, [str(j) for j in range(d)], f"[n_seq, {d}]")
              for name, d in (("up", 1536), ("GELU(up)", 1536), ("down", 384))]  # fmt: skip
    s = spec(stage_grid(panels, n_cols=3))
    for i, trace in enumerate(s["data"]):
        x_axis = s["layout"]["xaxis" + (str(i + 1) if i else "")]
        lo, hi = x_axis["domain"]
        px = (hi - lo) * GRID_PX
        shown = x_axis["tickvals"]
        assert set(shown) <= set(trace["x"]) and shown[0] == "0"
        step = int(shown[1]) - int(shown[0])
        assert step in NICE_STEPS and len(shown) <= (px + 1e-6) // LABEL_PX[-90]  # upright labels do not overlap
        assert len(shown) >= px / LABEL_PX[-90] / 2.5  # not thinned to nothing either
    down = s["layout"]["annotations"][2]
    assert down["text"].count("<br>") >= 1 and one_line(down["text"]) == "down  [n_seq, 384] = [11, 384]"
    assert down["xanchor"] == "right" and down["x"] == s["layout"]["xaxis3"]["domain"][1]
    up = s["layout"]["annotations"][0]
    assert (
        "<br>" not in up["text"] and box(up["text"], TITLE_PX[False])[0] < (s["layout"]["xaxis"]["domain"][1]) * GRID_PX
    )
    big = spec(stage_grid(panels, n_cols=3, present=True))  # a projector: larger titles, fitted at their size
    notes = big["layout"]["annotations"]
    assert [n["font"]["size"] for n in notes] == [TITLE_PX[True]] * 3 and TITLE_PX[True] > TITLE_PX[False]
    for note, x_name in zip(notes[:2], ("xaxis", "xaxis2"), strict=True):  # the wide panels: every line fits
        lo, hi = big["layout"][x_name]["domain"]
        assert all(box(line, TITLE_PX[True])[0] <= (hi - lo) * GRID_PX for line in note["text"].split("<br>"))
    assert notes[2]["text"].count("<br>") >= down["text"].count("<br>") >= 1
    assert s["layout"]["margin"]["t"] > spec(stage_grid(panels[:2], n_cols=2))["layout"]["margin"]["t"]  # room above
