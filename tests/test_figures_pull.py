"""Context-pull figures: decode the plotly spec and compare it with the projected points passed in."""

import json

import numpy as np
import pytest
from test_figures_steps import decode

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


def random_paths(n_points=2, k=2, n_seq=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n_points, n_seq, k)).astype(np.float32)


def test_before_and_after_points_and_arrows_match_the_projection():
    paths = random_paths()
    s = spec(pull_figure(TOKENS, paths, evr=[0.5, 0.25], selected=1, context=[("pie", 0.4), ("the", 0.3)]))
    (before,), (after,) = traces(s, "tokens: before"), traces(s, "tokens: after")
    np.testing.assert_allclose(points(before), paths[0], rtol=1e-6)
    np.testing.assert_allclose(points(after), paths[1], rtol=1e-6)
    arrows = [a for a in s["layout"]["annotations"] if a.get("showarrow")]
    assert len(arrows) == len(TOKENS)
    for i, a in enumerate(arrows):  # each arrow runs from the token's before point to its after point
        np.testing.assert_allclose([a["ax"], a["ay"], a["x"], a["y"]], [*paths[0, i], *paths[1, i]], rtol=1e-6)
    assert arrows[1]["arrowwidth"] > arrows[0]["arrowwidth"]  # the selected token stands out


def test_selected_token_is_annotated_with_its_context_weights():
    s = spec(pull_figure(TOKENS, random_paths(), evr=[0.5, 0.25], selected=1, context=[("pie", 0.4), ("<i>", 0.1)]))
    notes = [a["text"] for a in s["layout"]["annotations"] if not a.get("showarrow")]
    assert notes == ["<b>apple</b> ← pie 0.40 · &lt;i&gt; 0.10"]


def test_duplicate_and_markup_tokens_get_unique_escaped_labels():
    s = spec(pull_figure(TOKENS, random_paths(), evr=[0.5, 0.25]))
    (after,) = traces(s, "tokens: after")
    assert after["text"] == ["the (0)", "apple", "and", "the (3)", "&lt;b&gt;pie&lt;/b&gt;"]


def test_reference_words_are_a_faint_background_at_their_projected_points():
    ref = np.array([[1.0, 2.0], [3.0, -1.0]])
    s = spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2], reference=ref, reference_words=["banana", "laptop"]))
    (background,) = traces(s, "reference words")
    np.testing.assert_allclose(points(background), ref)
    assert background["text"] == ["banana", "laptop"]
    assert s["data"][0]["name"] == "reference words"  # drawn first: behind the tokens


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
    assert traces(s, "B: after")[0]["text"][0] == "apple ·B"


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
    (labels,) = traces(s, "meanings")
    np.testing.assert_allclose(points(labels), [[1.0, 0.0], [10.0, 10.0]])
    assert labels["text"] == ["<i>food</i>", "<i>tech</i>"]
    assert traces(s, "reference words")[0]["hovertext"] == ["pear (food)", "plum (food)", "laptop (tech)"]


def test_the_selected_token_is_drawn_again_on_top():
    paths = random_paths()
    s = spec(pull_figure(TOKENS, paths, [0.5, 0.2], selected=3))
    (top,) = traces(s, "tokens: the (3)")
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
    assert {i for i, t in enumerate(after_b["text"]) if t} == expected
    assert after_b["hovertext"][5] == "and ·B"  # every point still names itself on hover
    starts = [t for name in ("A: before", "B: before") for t in traces(s, name)[0]["text"] if t]
    assert starts == ["apple ·A"]  # the shared word's start, labelled once


def test_compare_labels_skip_tokens_that_end_on_top_of_a_label():
    a = np.zeros((2, 2, 2), np.float32)
    a[1] = [[0.0, 1.0], [10.0, 0.0]]
    b = np.zeros((2, 5, 2), np.float32)
    b[1] = [[0.0, -1.0], [5.0, 5.0], [4.9, 4.95], [4.95, 4.9], [0.5, -8.0]]  # x, y, z end in one spot
    s = spec(compare_pull_figure(["apple", "pie"], a, ["apple", "x", "y", "z", "w"], b, [0.5, 0.2], 0, 0))
    shown = [t for t in traces(s, "B: after")[0]["text"] if t]
    assert shown == ["apple ·B", "x ·B", "w ·B"]  # one label for the pile (its biggest mover), then the next apart


def test_compare_notes_sit_on_opposite_sides_of_their_points():
    a, b = np.zeros((2, 2, 2), np.float32), np.zeros((2, 2, 2), np.float32)
    a[1, 0], b[1, 0] = [1.0, 0.0], [-1.0, 0.0]  # the shared word ends right in A, left in B
    s = spec(compare_pull_figure(["apple", "pie"], a, ["apple", "phone"], b, [0.5, 0.2], 0, 0, notes=("A: x", "B: y")))
    sides = {a["text"]: a["xanchor"] for a in s["layout"]["annotations"] if not a.get("showarrow")}
    assert sides == {"A: x": "left", "B: y": "right"}  # A's note extends right, B's extends left: no overlap


def test_pull_figure_labels_every_after_point_but_only_the_selected_start():
    s = spec(pull_figure(TOKENS, random_paths(), evr=[0.5, 0.25], selected=1))
    (before,) = traces(s, "tokens: before")
    assert before["text"] == ["", "apple", "", "", ""] and before["hovertext"][0] == "the (0)"
    assert traces(s, "tokens: after")[0]["text"] == ["the (0)", "apple", "and", "the (3)", "&lt;b&gt;pie&lt;/b&gt;"]


def test_equal_axes_can_be_turned_off_for_a_narrow_chart():
    assert spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2]))["layout"]["yaxis"]["scaleanchor"] == "x"
    assert (
        "scaleanchor" not in spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2], equal_axes=False))["layout"]["yaxis"]
    )


def test_the_axes_leave_room_for_labels_at_the_edges():
    ref = np.array([[-5.0, 0.0], [4.0, 3.0]])
    s = spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2], ref, ["pear", "laptop"], ["food", "tech"]))
    (x0, x1), (y0, y1) = s["layout"]["xaxis"]["range"], s["layout"]["yaxis"]["range"]
    assert x0 < -5.0 - 0.5 and x1 > 4.0 + 0.5  # the cluster names centred on the outermost points are not cut off
    assert y0 < min(random_paths()[..., 1].min(), 0.0) and y1 > 3.0


def test_the_note_opens_toward_the_emptier_side():
    paths = np.zeros((2, 3, 2), np.float32)
    paths[1, :, 0] = [0.0, 5.0, 10.0]
    for selected, anchor in ((0, "left"), (2, "right"), (1, "center")):  # edges open inward; the middle, below
        s = spec(pull_figure(["a", "b", "c"], paths, [0.5, 0.2], selected=selected, context=[("b", 0.5)]))
        (note,) = [a for a in s["layout"]["annotations"] if not a.get("showarrow")]
        assert note["xanchor"] == anchor


def test_presentation_mode_enlarges_the_meaning_names():
    ref, words, groups = np.array([[0.0, 0.0], [2.0, 1.0]]), ["pear", "laptop"], ["food", "tech"]
    sizes = [
        traces(spec(pull_figure(TOKENS, random_paths(), [0.5, 0.2], ref, words, groups, present=p)), "meanings")[0][
            "textfont"
        ]["size"]
        for p in (False, True)
    ]
    assert sizes[1] > sizes[0] and sizes[1] > 20  # above the projector's 20 px token labels


def test_a_long_sentence_labels_only_the_followed_word_and_hover_names_every_point():
    from attention.figures.pull import MAX_PATH_TRACES

    n = MAX_PATH_TRACES + 1
    tokens = [f"w{i}" for i in range(n)]
    paths = np.random.default_rng(0).standard_normal((2, n, 2)).astype(np.float32)
    s = spec(pull_figure(tokens, paths, [0.5, 0.3], selected=7))
    (after,) = traces(s, "tokens: after")
    assert [t for t in after["text"] if t] == ["w7"] and after["hovertext"] == tokens
    short = spec(pull_figure(tokens[:5], paths[:, :5], [0.5, 0.3], selected=1))
    assert traces(short, "tokens: after")[0]["text"] == tokens[:5]  # a short sentence keeps every label
