"""Context-pull figures: decode the plotly spec and compare it with the projected points passed in."""

import json

import numpy as np
import pytest
from test_figures_steps import decode

from attention.figures.labels import box
from attention.figures.pull import (
    axis_titles,
    before_after,
    clicked_token,
    compare_pull_figure,
    context_text,
    lecture_reference,
    pull_figure,
    pull_table,
)


def spec(fig):
    return json.loads(fig.to_json())


def traces(s, name):
    return [t for t in s["data"] if t.get("name") == name]


def points(trace):
    return np.stack([decode(trace[a]) for a in "xyz" if a in trace], axis=-1)


TOKENS = ["the", "apple", "and", "the", "<b>pie</b>"]


def notes(s):  # -> the placed labels: annotations with text (arrowheads have none)
    return [a for a in s["layout"].get("annotations", []) if a.get("text")]


def texts(s):
    return [a["text"] for a in notes(s)]


def random_paths(n_points=2, k=2, n_seq=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n_points, n_seq, k)).astype(np.float32)


def test_before_and_after_points_and_arrows_match_the_projection():
    paths = random_paths()
    s = spec(pull_figure(TOKENS, paths, evr=[0.5, 0.25], selected=1, context=[("pie", 0.4), ("the", 0.3)]))
    (before,), (after,) = traces(s, "tokens: before"), traces(s, "tokens: after")
    np.testing.assert_allclose(points(before), paths[0], rtol=1e-6)
    np.testing.assert_allclose(points(after), paths[1], rtol=1e-6)
    arrows = [a for a in s["layout"]["annotations"] if a.get("axref") == "x"]  # arrowheads: tail in data units
    assert len(arrows) == len(TOKENS)
    for i, a in enumerate(arrows):  # each arrow runs from the token's before point to its after point
        np.testing.assert_allclose([a["ax"], a["ay"], a["x"], a["y"]], [*paths[0, i], *paths[1, i]], rtol=1e-6)
    assert arrows[1]["arrowwidth"] > arrows[0]["arrowwidth"]  # the selected token stands out


def test_selected_token_is_annotated_with_its_context_weights():
    context = [("<b>pie</b>", 0.4), ("<i>", 0.1), ("and", 0.001)]  # a weight that rounds to 0.00 is not named
    s = spec(pull_figure(TOKENS, random_paths(), evr=[0.5, 0.25], selected=1, context=context))
    assert [a["text"] for a in notes(s) if a.get("bgcolor")] == [
        "<b>apple</b> ← &lt;b&gt;pie&lt;/b&gt; 0.40 · &lt;i&gt; 0.10"
    ]
    assert "<b>&lt;b&gt;pie&lt;/b&gt;</b>" in texts(s)  # the word that pulled it stands out in bold


def test_duplicate_and_markup_tokens_get_unique_escaped_labels():
    s = spec(pull_figure(TOKENS, random_paths(), evr=[0.5, 0.25]))
    assert sorted(texts(s)) == sorted(["the (0)", "apple", "and", "the (3)", "&lt;b&gt;pie&lt;/b&gt;"])


def test_reference_words_are_a_faint_background_at_their_projected_points():
    ref = np.array([[1.0, 2.0], [3.0, -1.0]])
    s = spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2], reference=ref, reference_words=["banana", "laptop"]))
    (background,) = traces(s, "reference words")
    np.testing.assert_allclose(points(background), ref)
    assert background["hovertext"] == ["banana", "laptop"]
    assert s["data"][0]["name"] == "reference words"  # drawn first: behind the tokens
    assert not any(a["text"] in ("banana", "laptop") for a in notes(s))  # hover names them: no crowd of labels


def test_explained_variance_labels_the_axes():
    s = spec(pull_figure(TOKENS, random_paths(), evr=[0.412, 0.2]))
    assert s["layout"]["xaxis"]["title"]["text"] == "PC1 (41% of variance)"
    assert axis_titles([0.5, 0.25, 0.125])[2] == "PC3 (12% of variance)"


def test_three_d_uses_scatter3d_and_a_scene_note():
    paths = random_paths(k=3)
    s = spec(pull_figure(TOKENS, paths, evr=[0.4, 0.3, 0.1], selected=4, context=[("the", 0.5)]))
    (after,) = traces(s, "tokens: after")
    assert after["type"] == "scatter3d"
    np.testing.assert_allclose(points(after), paths[1], rtol=1e-6)
    (note,) = s["layout"]["scene"]["annotations"]
    np.testing.assert_allclose([note["x"], note["y"], note["z"]], paths[1, 4], rtol=1e-6)


def test_trajectories_pass_through_every_step():
    paths = random_paths(n_points=4)
    s = spec(pull_figure(TOKENS, paths, evr=[0.5, 0.2]))
    lines = [t for t in s["data"] if t.get("mode") == "lines"]
    assert len(lines) == len(TOKENS)
    for i, line in enumerate(lines):
        np.testing.assert_allclose(points(line), paths[:, i], rtol=1e-6)


def test_compare_puts_both_sentences_in_one_projection():
    a, b = random_paths(n_seq=3, seed=1), random_paths(n_seq=4, seed=2)
    fig = compare_pull_figure(["an", "apple", "pie"], a, ["apple", "made", "a", "phone"], b, [0.5, 0.2], 1, 0)
    s = spec(fig)
    np.testing.assert_allclose(points(traces(s, "A: after")[0]), a[1], rtol=1e-6)
    np.testing.assert_allclose(points(traces(s, "B: after")[0]), b[1], rtol=1e-6)
    assert traces(s, "B: after")[0]["hovertext"][0] == "apple ·B"


def test_bad_shapes_say_what_is_expected():
    with pytest.raises(ValueError, match="paths must be"):
        pull_figure(TOKENS, np.zeros((1, 5, 2)), [0.5, 0.5])
    with pytest.raises(ValueError, match="paths must be"):
        pull_figure(TOKENS, np.zeros((2, 4, 2)), [0.5, 0.5])


def test_context_text_and_table():
    assert context_text([("a&b", 0.123)]) == "a&amp;b 0.12"
    paths = random_paths(n_points=3)
    table = pull_table(TOKENS, paths)
    assert len(table) == 3 * len(TOKENS)
    row = table[(table.step == 2) & (table.position == 4)].iloc[0]
    assert row.token == "<b>pie</b>"  # CSV holds the raw token; only figures escape
    np.testing.assert_allclose([row.PC1, row.PC2], paths[2, 4], rtol=1e-6)


def test_grouped_reference_words_get_one_label_per_cluster_at_its_centre():
    ref = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    s = spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2], ref, ["pear", "plum", "laptop"], ["food", "food", "tech"]))
    names = {a["text"]: (a["x"], a["y"]) for a in notes(s) if a["text"].startswith("<i>")}
    assert names == {
        "<i>food (apple: fruit)</i>": (1.0, 0.0),
        "<i>tech</i>": (10.0, 10.0),
    }  # at its words' centre; a sense says so
    (food,), (tech,) = (
        traces(s, "food (apple: fruit)"),
        traces(s, "tech"),
    )  # and each a translucent region around its words
    assert food["fill"] == "toself" and tech["fill"] == "toself"
    x, y = decode(food["x"]), decode(food["y"])
    assert x.min() < 0.0 and x.max() > 2.0 and y.min() < 0.0 < y.max()  # it holds both food words
    assert traces(s, "reference words")[0]["hovertext"] == ["pear (food)", "plum (food)", "laptop (tech)"]


def test_the_selected_token_is_drawn_again_on_top():
    paths = random_paths()
    s = spec(pull_figure(TOKENS, paths, [0.5, 0.2], selected=3))
    (top,) = traces(s, "tokens: the (3) after")
    np.testing.assert_allclose(points(top), paths[1, [3]], rtol=1e-6)


def test_before_after_is_the_pull_for_the_lecture_model_and_the_residual_for_real_ones():
    from attention import registry

    run = registry.run("lecture", "the bank of the river", steps=3)
    before, after = before_after(run)
    np.testing.assert_array_equal(before, run.hidden[0])
    np.testing.assert_array_equal(after, run.hidden[3])
    run.model = "real"  # the same arrays read as a real model's: one layer's input and input + attention
    before, after = before_after(run, layer=1)
    np.testing.assert_array_equal(before, run.hidden[1])
    np.testing.assert_allclose(after, run.hidden[1] + run.attn_out[1])
    np.testing.assert_array_equal(before_after(run, layer=99)[0], run.hidden[2])  # clamped to the last layer


def test_lecture_reference_shows_the_sentences_topics_and_both_senses():
    from attention import lecture

    tokens = lecture.tokenize("she ate a sweet apple and a ripe banana")
    x, _ = lecture.embed(tokens)
    vectors, words, groups = lecture_reference(tokens, x)
    assert set(groups) >= {"food", "technology"}  # apple's two senses: fruit and technology
    assert len(set(groups)) <= 4  # not all sixteen clusters
    for v, w, g in zip(vectors, words, groups, strict=True):
        np.testing.assert_allclose(v, lecture.word_vector(w)[: len(lecture.AXES)])
        assert lecture.AXES[int(np.argmax(v))] == g


def test_a_clicked_point_names_its_token_through_customdata():
    paths = random_paths()
    s = spec(pull_figure(TOKENS, paths, [0.5, 0.2], selected=1))
    after = traces(s, "tokens: after")[0]
    assert list(decode(after["customdata"])) == list(range(len(TOKENS)))
    k = 3
    selection = {"selection": {"points": [{"curve_number": 7, "point_index": k, "customdata": k}]}}
    assert clicked_token(selection) == 3
    assert clicked_token({"selection": {"points": [{"customdata": [4]}]}}) == 4
    assert clicked_token({"selection": {"points": [{"x": 1.0}]}}) is None  # a reference word: no token
    assert clicked_token(None) is None


def test_compare_labels_only_the_shared_word_and_the_top_movers():
    rng = np.random.default_rng(5)
    tokens_b = ["apple", "made", "a", "new", "phone", "and", "a", "tablet"]
    a, b = random_paths(n_seq=3, seed=1), rng.normal(size=(2, 8, 2)).astype(np.float32)
    s = spec(compare_pull_figure(["an", "apple", "pie"], a, tokens_b, b, [0.5, 0.2], 1, 0))
    (after_b,) = traces(s, "B: after")
    moved = np.linalg.norm(b[1] - b[0], axis=-1)  # [n_seq]: how far each token of B moves
    expected = {0, *np.argsort(-moved)[:3].tolist()}  # the shared word and the three that move most (all far apart)
    labelled = {i for i, t in enumerate(after_b["hovertext"]) if any(t in x for x in texts(s))}
    assert labelled == expected
    assert after_b["hovertext"][5] == "and ·B"  # every point still names itself on hover
    assert sum("<i>before</i>" in t for t in texts(s)) == 1  # the shared word's start, labelled once (in A)


def test_compare_labels_skip_tokens_that_end_on_top_of_a_label():
    a = np.zeros((2, 2, 2), np.float32)
    a[1] = [[0.0, 1.0], [10.0, 0.0]]
    b = np.zeros((2, 5, 2), np.float32)
    b[1] = [[0.0, -1.0], [5.0, 5.0], [4.9, 4.95], [4.95, 4.9], [0.5, -8.0]]  # x, y, z end in one spot
    s = spec(compare_pull_figure(["apple", "pie"], a, ["apple", "x", "y", "z", "w"], b, [0.5, 0.2], 0, 0))
    shown = {t for t in texts(s) if "·B" in t}
    assert shown == {
        "<b>apple ·B</b>",
        "x ·B",
        "w ·B",
    }  # one label for the pile (its biggest mover), then the next apart


def pixel_boxes(s):  # -> [(x0, y0, x1, y1)] px: each placed label's estimated box, where the figure puts it
    lay = s["layout"]
    (x0, x1), (y0, y1), m = lay["xaxis"]["range"], lay["yaxis"]["range"], lay["margin"]
    scale = (lay["height"] - m["t"] - m["b"]) / (y1 - y0)  # equal axes: the plot's height sets the scale
    out = []
    for a in notes(s):  # pixels from the plot's centre, y down
        w, h = box(a["text"], a["font"]["size"], "bgcolor" in a)
        cx, cy = (a["x"] - (x0 + x1) / 2) * scale + a["ax"], -(a["y"] - (y0 + y1) / 2) * scale + a["ay"]
        out.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("present", [False, True])
def test_placed_labels_never_overlap_and_the_rest_is_left_to_hover(seed, present):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 21))
    tokens = [f"w{i}" * int(rng.integers(1, 4)) for i in range(n)]
    paths = (rng.normal(size=(2, n, 2)) * [1.0, rng.uniform(0.05, 1.0)]).astype(np.float32)  # flat ones too
    ref = rng.normal(size=(6, 2))
    s = spec(pull_figure(tokens, paths, [0.5, 0.2], ref, list("abcdef"), ["food"] * 3 + ["finance"] * 3,
                         selected=0, context=[(tokens[1], 0.3)], present=present))  # fmt: skip
    boxes = pixel_boxes(s)
    lay = s["layout"]
    half_h = (lay["height"] - lay["margin"]["t"] - lay["margin"]["b"]) / 2
    assert all(-450 <= b[0] and b[2] <= 450 and -half_h <= b[1] and b[3] <= half_h for b in boxes)  # inside the plot
    for i, p in enumerate(boxes):
        for q in boxes[i + 1 :]:
            assert min(p[2], q[2]) <= max(p[0], q[0]) or min(p[3], q[3]) <= max(p[1], q[1]), (p, q)
    shown = len([t for t in texts(s) if not t.startswith("<i>")]) - 1  # tokens' labels, less the followed one's start
    title = s["layout"].get("title", {}).get("text") or ""
    left = int(title.split("<sup>")[1].split(" ")[0]) if "<sup>" in title else 0
    assert shown + left == n  # every token is labelled or counted as left to hover, and the title says how many


def test_pull_figure_labels_every_after_point_but_only_the_selected_start():
    s = spec(pull_figure(TOKENS, random_paths(), evr=[0.5, 0.25], selected=1))
    (before,) = traces(s, "tokens: before")
    assert before["hovertext"][0] == "the (0)"
    assert sorted(texts(s)) == sorted(
        ["<b>apple</b>", "apple <i>before</i>", "the (0)", "and", "the (3)", "&lt;b&gt;pie&lt;/b&gt;"]
    )


def test_axes_are_equal_and_tall_enough_that_the_height_sets_the_scale():
    paths = random_paths() * np.array([10.0, 0.1], dtype=np.float32)  # wide and flat
    s = spec(pull_figure(TOKENS, paths, [0.5, 0.2], min_width=500))
    lay = s["layout"]
    assert lay["yaxis"]["scaleanchor"] == "x"
    (x0, x1), (y0, y1) = lay["xaxis"]["range"], lay["yaxis"]["range"]
    plot_h = lay["height"] - lay["margin"]["t"] - lay["margin"]["b"]
    assert (x1 - x0) / (y1 - y0) <= 500 / plot_h + 1e-6  # any plot >= 500 px wide is limited by its height


def test_the_axes_hold_every_point_and_region():
    ref = np.array([[-5.0, 0.0], [4.0, 3.0]])
    s = spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2], ref, ["pear", "laptop"], ["food", "tech"]))
    (x0, x1), (y0, y1) = s["layout"]["xaxis"]["range"], s["layout"]["yaxis"]["range"]
    assert x0 < -5.0 and x1 > 4.0 and y0 < min(random_paths()[..., 1].min(), 0.0) and y1 > 3.0


def test_presentation_mode_enlarges_the_labels_and_the_followed_arrow():
    ref, words, groups = np.array([[0.0, 0.0], [2.0, 1.0]]), ["pear", "laptop"], ["food", "tech"]
    figs = [spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2], ref, words, groups, selected=1, present=p)) for p in (False, True)]  # fmt: skip
    sizes = [next(a["font"]["size"] for a in notes(f) if a["text"].startswith("<i>food")) for f in figs]
    assert sizes[1] > sizes[0] and sizes[1] > 20  # above the projector's 20 px token labels
    widths = [max(a["arrowwidth"] for a in f["layout"]["annotations"] if a.get("axref") == "x") for f in figs]
    assert widths[1] > widths[0]


def test_both_senses_of_an_ambiguous_word_are_named_even_when_crowded():
    from attention.figures.meanings import lecture_projection
    from attention.lecture import DEFAULTS, run_lecture

    for text in ("apple apple apple banana laptop phone fruit bread", "she ate a sweet apple and a ripe banana"):
        run = run_lecture(text, **DEFAULTS)
        paths, ref, words, groups, evr = lecture_projection(run)
        s = spec(pull_figure(run.tokens, paths, evr, ref, words, groups, selected=run.tokens.index("apple")))
        names = [t for t in texts(s) if t.startswith("<i>")]
        assert any("food (apple: fruit" in t for t in names) and any("technology (apple)" in t for t in names)


def test_a_long_sentence_labels_only_the_followed_word_and_hover_names_every_point():
    from attention.figures.pull import MAX_PATH_TRACES

    n = MAX_PATH_TRACES + 1
    tokens = [f"w{i}" for i in range(n)]
    paths = np.random.default_rng(0).standard_normal((2, n, 2)).astype(np.float32)
    s = spec(pull_figure(tokens, paths, [0.5, 0.3], selected=7))
    (after,) = traces(s, "tokens: after")
    assert texts(s) == ["<b>w7</b>", "w7 <i>before</i>"] and after["hovertext"] == tokens
    short = spec(pull_figure(tokens[:5], paths[:, :5], [0.5, 0.3], selected=1))
    assert len(texts(short)) == 6  # a short sentence keeps every label (and the followed word's start)
