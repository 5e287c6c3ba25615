"""AppTest for /pull, /steps and /compare: every example runs, and each control changes the figures'
data to exactly what the backend computes (decoded from the plotly spec)."""

import json

import numpy as np
import pytest
from conftest import ROOT
from plotly_spec import one_line
from streamlit.testing.v1 import AppTest
from test_figures_steps import decode

from attention import registry
from attention.core import split_heads
from attention.examples import EXAMPLES, PAIRS
from attention.figures.compare import aligned_attention
from attention.figures.pull import before_after, lecture_reference
from attention.lecture import AXES
from attention.presets import preset_weights
from attention.pull import pca_project, pca_trajectories, top_context
from attention.saturation import saturation
from attention.views import STEP_PARTS
from ui.cache import run_options

N_AXES = len(AXES)


def app(page, **query):  # -> AppTest that has run `page` once, with `query` in the link
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(f"pages/{page}.py")
    return at.run()


def ok(at):  # the page ran: no exception box, and its figures are there
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at):  # -> list of plotly specs on the page, in order
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def backend(at, **changes):  # -> the Run the page's settings give, computed directly (no cache)
    from dataclasses import replace

    settings = replace(at.session_state["settings"], **changes)
    return registry.run(settings.model, settings.text, **dict(run_options(settings)))


def panel(spec, title_start):  # -> the heatmap whose subplot title starts with title_start, as an array
    titles = [one_line(a["text"]) for a in spec["layout"]["annotations"] if "=" in a["text"] and "[" in a["text"]]
    for i, title in enumerate(titles):
        if title.startswith(title_start):
            return decode(spec["data"][i]["z"])
    raise AssertionError(f"no panel {title_start!r} in {titles}")


def trace(spec, name):
    (found,) = [t for t in spec["data"] if t.get("name") == name]
    return found


def points(t):
    return np.stack([decode(t[a]) for a in "xyz" if a in t], axis=-1)


# ----------------------------------------------------------------------------------------------- /steps


PARTS = {"x": "Input X", "qkv": "Queries, keys, values", "scores": "Scores → weights",
         "output": "Weighted sum → output", "mlp": "Norms and MLP", "scale": "Why ÷√d_head"}  # fmt: skip


def show(at, part):  # -> at, run with /steps' tab `part` open, as a click on it does
    (label,) = [t.label for t in at.tabs if t.label.startswith(PARTS[part])]
    at.session_state["steps_part"] = label
    return ok(at.run())


def part_charts(at, part):  # -> the plotly specs of one /steps tab
    return charts(show(at, part))


def steps_charts(at):  # -> every /steps tab's plotly specs in page order, the first tab open again at the end
    labels = [t.label for t in at.tabs]
    found = [charts(show(at, part)) for part, start in PARTS.items() if any(x.startswith(start) for x in labels)]
    show(at, "x")
    return [spec for specs in found for spec in specs]


def test_steps_opens_on_its_first_tab_and_each_tab_draws_only_its_own_charts():
    """A first visit computes and sends the first tab only (lazy tabs): the other steps wait for a click, the
    link names the open one, and each tab's Next button opens the one after it."""
    at = ok(app("steps"))
    assert [t.label for t in at.tabs] == ["Input X and the weights", *list(PARTS.values())[1:4], PARTS["scale"]]
    assert len(charts(at)) == 1 and "part" not in at.query_params  # X alone; the first tab is the default
    seen = []
    for part in ["qkv", "scores", "output", "scale"]:
        at.button(key=f"steps-next-{seen[-1] if seen else 'x'}").click().run()
        assert at.session_state["steps_part"].startswith(PARTS[part]) and at.query_params["part"] == part
        seen.append(part)
    assert not [b for b in at.button if b.key and b.key.startswith("steps-next")]  # the last tab has no Next
    counts = [len(part_charts(at, part)) for part in ["x", "qkv", "scores", "output", "scale"]]
    assert counts == [1, 1, 1, 1, 1] and set(STEP_PARTS) <= set(PARTS)  # the API's parts are tabs here
    fresh = ok(app("steps", part="scores"))  # a link opens its tab
    assert fresh.session_state["steps_part"] == PARTS["scores"]
    assert any("Scores become" in h.value for h in fresh.subheader) and len(charts(fresh)) == 1
    show(fresh, "qkv").switch_page("pages/pull.py").run()
    fresh.switch_page("pages/steps.py").run()
    assert ok(fresh).session_state["steps_part"] == PARTS["qkv"]  # the tab clicked last, not the link's
    at.switch_page("pages/pull.py").run()
    at.switch_page("pages/steps.py").run()
    assert ok(at).session_state["steps_part"] == PARTS["scale"]  # as left, after a visit to another page


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_steps_every_example_matches_the_backend(example):
    at = ok(app("steps"))
    at.selectbox(key="sb_example").select(example).run()
    ok(at)
    run = backend(at)
    assert run.tokens == registry.run("lecture", EXAMPLES[example]).tokens
    s = steps_charts(at)
    np.testing.assert_allclose(panel(s[0], "X "), run.hidden[0], atol=1e-6)
    np.testing.assert_allclose(panel(s[1], "Q = X·W_q"), run.queries[0, 0], atol=1e-5)
    np.testing.assert_allclose(panel(s[1], "V = X·W_v"), run.values[0, 0], atol=1e-5)
    np.testing.assert_allclose(panel(s[2], "softmax"), run.weights[0, 0], atol=1e-6)
    np.testing.assert_allclose(panel(s[3], "Concat·W_o"), run.attn_out[0], atol=1e-5)
    np.testing.assert_allclose(panel(s[3], "new X"), run.hidden[1], atol=1e-5)


def test_steps_heads_layers_and_causal_mask_follow_the_sidebar():
    at = ok(app("steps", n_head="2", head="1", causal="true", steps="2", layer="1"))
    run = backend(at)
    assert (run.n_head, run.n_layer) == (2, 2)
    s = steps_charts(at)
    np.testing.assert_allclose(panel(s[0], "X "), run.hidden[1], atol=1e-6)  # layer 1's input
    np.testing.assert_allclose(panel(s[1], "K = X·W_k"), run.keys[1, 1], atol=1e-5)
    weights = panel(s[2], "softmax")
    np.testing.assert_allclose(weights, run.weights[1, 1], atol=1e-6)
    assert np.all(np.triu(weights, 1) == 0)  # causal: nothing above the diagonal
    masked = panel(s[2], "mask")
    np.testing.assert_array_equal(masked, np.tril(np.ones_like(masked)))
    assert "[n_seq, d_head] = [" in json.dumps(s[1]["layout"]["annotations"])


def open_editors(at):  # -> at, run with /steps' weight editors open, as a click on their expander does
    at.session_state["steps_edit_open"] = True
    return at.run()


def edit(at, name, row, column, value, preset="identity", n_head=1, version=0, generation=0):
    """Type `value` into one cell of an editor, its expander open (a student opens it first)."""
    if not at.session_state["steps_edit_open"]:
        open_editors(at)
    key = f"edit_{name}_{preset}_{n_head}_{version}_{generation}"
    at.session_state[key] = {"edited_rows": {row: {column: value}}, "added_rows": [], "deleted_rows": []}
    return at.run()


def test_editing_w_q_changes_queries_downstream_and_nothing_upstream():
    at = ok(app("steps"))
    before = steps_charts(at)
    ok(edit(at, "w_q", 0, "technology", 2.0))  # W_q[food, technology] = 2: food now also asks about technology
    after = steps_charts(at)
    w = preset_weights("identity", 1)
    w["w_q"][0, AXES.index("technology")] = 2.0
    x = backend(at).hidden[0]
    expected_q = split_heads(x @ w["w_q"], 1)[0]
    np.testing.assert_allclose(panel(after[1], "Q = X·W_q"), expected_q, atol=1e-5)
    assert not np.allclose(panel(after[1], "Q = X·W_q"), panel(before[1], "Q = X·W_q"))
    np.testing.assert_allclose(panel(after[1], "K = X·W_k"), panel(before[1], "K = X·W_k"))  # keys untouched
    np.testing.assert_allclose(panel(after[0], "X "), panel(before[0], "X "))  # the input untouched
    edited_run = registry.run("lecture", at.session_state["settings"].text, weights=w)
    np.testing.assert_allclose(panel(after[2], "softmax"), edited_run.weights[0, 0], atol=1e-6)
    assert not np.allclose(panel(after[2], "softmax"), panel(before[2], "softmax"))


def test_editing_w_v_changes_values_and_the_output():
    at = ok(app("steps"))
    before = steps_charts(at)
    ok(edit(at, "w_v", AXES.index("food"), "food", -1.0))
    after = steps_charts(at)
    assert not np.allclose(panel(after[1], "V = X·W_v"), panel(before[1], "V = X·W_v"))
    np.testing.assert_allclose(panel(after[2], "softmax"), panel(before[2], "softmax"))  # weights don't use V
    assert not np.allclose(panel(after[3], "Concat·W_o"), panel(before[3], "Concat·W_o"))


@pytest.mark.parametrize(("value", "message"), [(None, "not a number"), (1e9, "too large")])
def test_a_bad_edit_gets_a_clear_message_and_the_preset_is_used(value, message):
    at = ok(app("steps"))
    before = steps_charts(at)
    ok(edit(at, "w_k", 1, "food", value))
    shown = [e.value.replace("\\", "") for e in at.error]  # markdown-escaped on the page
    assert any(message in text and "W_k[technology, food]" in text for text in shown), shown
    np.testing.assert_allclose(panel(part_charts(at, "qkv")[0], "K = X·W_k"), panel(before[1], "K = X·W_k"))


def test_reset_brings_back_the_preset():
    at = ok(app("steps"))
    before = steps_charts(at)
    ok(edit(at, "w_q", 0, "food", 5.0))
    assert not np.allclose(panel(steps_charts(at)[1], "Q = X·W_q"), panel(before[1], "Q = X·W_q"))
    at.button[0].click().run()  # Reset, in the first tab (steps_charts ends there)
    ok(at)
    np.testing.assert_allclose(panel(part_charts(at, "qkv")[0], "Q = X·W_q"), panel(before[1], "Q = X·W_q"))


def test_saturation_chart_follows_its_switch():
    at = show(ok(app("steps")), "scale")
    sat = saturation()
    spec = charts(at)[-1]
    np.testing.assert_allclose(decode(spec["data"][0]["y"]), sat.max_weight["unscaled"], rtol=1e-6)
    at.button_group(key="sat").set_value("entropy").run()
    spec = charts(ok(at))[-1]
    np.testing.assert_allclose(decode(spec["data"][0]["y"]), sat.entropy["unscaled"], rtol=1e-6)
    np.testing.assert_allclose(decode(spec["data"][1]["y"]), sat.entropy["scaled"], rtol=1e-6)


def test_steps_long_input_leaves_out_the_score_panels_that_show_nothing_new():
    from test_figures_steps import naive_blocks

    from attention.run import stages

    short = part_charts(ok(app("steps")), "scores")[0]
    assert len(short["data"]) == 4  # raw, scaled, mask, weights
    text = " ".join(["the cat sat on the mat"] * 25)  # 150 tokens: past the 128 up to which all four are drawn
    for causal, kept in (("false", ["QKᵀ", "softmax"]), ("true", ["QKᵀ", "mask", "softmax"])):
        at = ok(app("steps", text=text, causal=causal))
        run = backend(at)
        assert run.n_seq == 150
        (scores,) = part_charts(at, "scores")
        titles = [one_line(a["text"]) for a in scores["layout"]["annotations"] if "=" in a["text"] and "[" in a["text"]]
        assert [t.split(" ")[0].split("(")[0] for t in titles] == kept, titles
        head = stages(run, 0, 0)  # past MAX_SIDE (128) tokens too: blocks of 2
        np.testing.assert_allclose(
            panel(scores, "QKᵀ"), naive_blocks(head.scores[0], 2, 2, np.mean), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(panel(scores, "softmax"), naive_blocks(head.weights[0], 2, 2, np.mean), atol=1e-6)
        if causal == "true":
            np.testing.assert_array_equal(
                panel(scores, "mask"), naive_blocks(np.tril(np.ones((150, 150))), 2, 2, np.max)
            )
        captions = " ".join(c.value for c in at.caption)
        assert f"× {head.scale:.3g}" in captions and "the CSV holds all four" in captions
        assert ("the mask (which allows every key)" in captions) == (causal == "false")


def test_steps_past_max_side_tokens_draws_blocks_and_says_so():
    from test_figures_steps import naive_blocks

    from attention.run import stages

    text = " ".join(["the cat sat on the mat"] * 50)  # 300 tokens: 100 blocks of 3 a side (MAX_SIDE 128)
    at = ok(app("steps", text=text, causal="true"))
    run = backend(at)
    assert run.n_seq == 300
    (scores,), head = part_charts(at, "scores"), stages(run, 0, 0)
    np.testing.assert_allclose(panel(scores, "QKᵀ"), naive_blocks(head.scores[0], 3, 3, np.mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(panel(scores, "mask"), naive_blocks(np.tril(np.ones((300, 300))), 3, 3, np.max))
    titles = [one_line(a["text"]) for a in scores["layout"]["annotations"] if "[" in a["text"]]
    assert all("[300, 300]" in t and "3-token blocks" in t for t in titles), titles
    (qkv,) = part_charts(at, "qkv")
    np.testing.assert_allclose(panel(qkv, "Q"), naive_blocks(head.queries[0], 3, 1, np.mean), rtol=1e-5, atol=1e-6)
    captions = " ".join(c.value for c in at.caption)
    assert "every 9th token" in captions and "a cell stands for 3 consecutive tokens" in captions  # 3 × ⌈100 / 40⌉


@pytest.mark.parametrize("n, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (13, "13th"),
                                     (22, "22nd"), (101, "101st"), (112, "112th")])  # fmt: skip
def test_ordinals_read_as_english(n, text):
    from ui.page import ordinal

    assert ordinal(n) == text


def test_steps_page_stays_light_on_webgl():
    at = ok(app("steps"))
    every = steps_charts(at)
    webgl = [t for s in every for t in s["data"] if t["type"].endswith("gl") or t["type"].endswith("3d")]
    assert len(every) <= 8 and not webgl


# ------------------------------------------------------------------------------------------------ /pull


def expected_pull(run, k=2):
    reference, _, _ = lecture_reference(run.tokens, run.hidden[0], per_axis=5)
    return pca_trajectories(run.hidden[:, :, :N_AXES], reference=reference, n_components=k)


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_pull_every_example_matches_the_backend_pca(example):
    at = ok(app("pull", text=EXAMPLES[example]))
    run = backend(at)
    paths, ref_points, evr = expected_pull(run)
    spec = charts(at)[0]
    np.testing.assert_allclose(points(trace(spec, "tokens: before")), paths[0], atol=1e-5)
    np.testing.assert_allclose(points(trace(spec, "tokens: after")), paths[-1], atol=1e-5)
    np.testing.assert_allclose(points(trace(spec, "reference words")), ref_points, atol=1e-5)
    assert spec["layout"]["xaxis"]["title"]["text"] == f"PC1 ({100 * evr[0]:.0f}% of variance)"


def test_alpha_and_steps_move_the_after_points():
    at = ok(app("pull"))
    first = points(trace(charts(at)[0], "tokens: after"))
    at.slider(key="sb_alpha").set_value(0.9).run()
    at.slider(key="sb_steps").set_value(3).run()
    run = backend(ok(at))
    assert run.n_layer == 3
    paths, _, _ = expected_pull(run)
    spec = charts(at)[0]
    np.testing.assert_allclose(points(trace(spec, "tokens: after")), paths[-1], atol=1e-5)
    assert not np.allclose(points(trace(spec, "tokens: after")), first)
    lines = [t for t in spec["data"] if t.get("mode") == "lines" and not t.get("fill")]  # not the meaning regions
    assert len(decode(lines[0]["x"])) == 4  # each path passes through all 3 steps


def test_alpha_zero_means_no_movement():
    at = ok(app("pull", alpha="0.0"))
    spec = charts(at)[0]
    np.testing.assert_allclose(points(trace(spec, "tokens: after")), points(trace(spec, "tokens: before")), atol=1e-5)


def test_choosing_a_token_annotates_its_arrow_with_its_context():
    at = ok(app("pull", text="she ate a sweet apple and a ripe banana"))
    at.selectbox(key="token").select("banana").run()
    run = backend(ok(at))
    i = run.tokens.index("banana")
    context = top_context(run.weights[:, :, i].mean(axis=(0, 1)), run.tokens, k=3, exclude=i)
    (note,) = [a["text"] for a in charts(at)[0]["layout"]["annotations"] if a.get("bgcolor")]
    assert note.startswith("<b>banana</b> ←")
    for word, weight in context:
        assert f"{word} {weight:.2f}" in note
    arrows = [a for a in charts(at)[0]["layout"]["annotations"] if a.get("axref") == "x"]  # the arrowheads
    assert arrows[i]["arrowwidth"] > arrows[0]["arrowwidth"]


def test_three_d_view():
    at = ok(app("pull"))
    at.button_group(key="view").set_value("3-D").run()
    run = backend(ok(at))
    paths, _, evr = expected_pull(run, k=3)
    after = trace(charts(at)[0], "tokens: after")
    assert after["type"] == "scatter3d"
    np.testing.assert_allclose(points(after), paths[-1], atol=1e-5)


def test_a_link_picks_the_token_and_a_bad_one_falls_back_with_a_notice():
    at = ok(app("pull", text="the bank of the river", token="river"))
    assert at.selectbox(key="token").value == "river"
    at = ok(app("pull", text="the bank of the river", token="<script>"))
    assert at.selectbox(key="token").value == "bank"  # the ambiguous word is the default
    assert any("token" in w.value for w in at.warning)


def test_empty_sentence_is_a_message_not_a_traceback():
    at = ok(app("pull"))
    at.text_area(key="sb_text").input("   ").run()
    ok(at)
    assert at.warning and not charts(at)


# --------------------------------------------------------------------------------------------- /compare


@pytest.mark.parametrize("pair", list(PAIRS))
def test_compare_every_pair_matches_the_backend(pair):
    at = ok(app("compare"))
    at.selectbox(key="cmp_pair").select(pair).run()
    ok(at)
    a, b = (EXAMPLES[name] for name in PAIRS[pair])
    assert at.session_state["settings"].text == a and at.text_area(key="text2").value == b
    run_a, run_b = backend(at), backend(at, text=b)
    heatmaps, difference, pulls = charts(at)[:3]
    np.testing.assert_allclose(decode(heatmaps["data"][0]["z"]), run_a.weights[0, 0], atol=1e-6)
    np.testing.assert_allclose(decode(heatmaps["data"][1]["z"]), run_b.weights[0, 0], atol=1e-6)
    word = at.selectbox(key="word").value
    i_a, i_b = run_a.tokens.index(word), run_b.tokens.index(word)
    words, row_a, row_b = aligned_attention(
        run_a.tokens, run_a.weights[0].mean(0)[i_a], run_b.tokens, run_b.weights[0].mean(0)[i_b]
    )
    assert difference["data"][0]["x"] == words
    np.testing.assert_allclose(decode(difference["data"][2]["y"]), row_b - row_a, atol=1e-6)
    # both pulls come from ONE PCA fit over both sentences
    (ba, aa), (bb, ab) = before_after(run_a), before_after(run_b)
    proj = pca_project(np.vstack([ba, bb])[:, :N_AXES], np.vstack([aa, ab])[:, :N_AXES],
                       lecture_reference([*run_a.tokens, *run_b.tokens], np.vstack([ba, bb]))[0])  # fmt: skip
    np.testing.assert_allclose(points(trace(pulls, "A: after")), proj.after[: run_a.n_seq], atol=1e-5)
    np.testing.assert_allclose(points(trace(pulls, "B: after")), proj.after[run_a.n_seq :], atol=1e-5)


def test_the_ambiguous_word_turns_toward_its_sense_in_each_sentence():
    at = ok(app("compare"))
    at.selectbox(key="cmp_pair").select("bank: river vs money").run()
    assert at.selectbox(key="word").value == "bank"
    shift = charts(ok(at))[3]
    nature, finance = AXES.index("nature"), AXES.index("finance")
    in_a, in_b = decode(shift["data"][0]["y"]), decode(shift["data"][1]["y"])
    assert in_a[nature] > in_a[finance] and in_b[finance] > in_b[nature]


def test_compare_reads_both_sentences_from_the_link():
    at = ok(app("compare", text="the dog ate the bread", text2="the dog chased the cat"))
    assert at.text_area(key="text2").value == "the dog chased the cat"
    assert at.selectbox(key="cmp_pair").value == "(your own pair)"
    assert set(at.selectbox(key="word").options) == {"the", "dog"}


def test_typing_sentence_a_on_the_page_changes_the_sidebar_sentence():
    at = ok(app("compare"))
    at.text_area(key="cmp_text").input("a cat and a dog").run()
    ok(at)
    assert at.session_state["settings"].text == "a cat and a dog"
    assert at.text_area(key="sb_text").value == "a cat and a dog"


def test_sentences_without_a_shared_word_get_a_message():
    at = ok(app("compare", text="apples are red", text2="cars go fast"))
    assert any("share no word" in i.value for i in at.info)


def test_an_empty_or_hostile_second_sentence_is_a_message():
    at = ok(app("compare"))
    at.text_area(key="text2").input(" ").run()
    assert any(w.value.startswith("Sentence B") for w in ok(at).warning)
    at = ok(app("compare", text2="bad\x00text"))
    assert any("text2" in w.value for w in at.warning)  # fell back to the default, with a notice
    long_b = "the river bank " * 20  # longer than other parameters may be, but a fine sentence
    assert ok(app("compare", text2=long_b)).text_area(key="text2").value == long_b


# ------------------------------------------------------------------------------------------ real models


@pytest.mark.skipif("minilm" not in registry.available_models(), reason="MiniLM checkpoint not installed")
@pytest.mark.parametrize("page", ["pull", "steps", "compare"])
def test_real_model_pages_show_the_models_numbers(page):
    at = ok(app(page, model="minilm", layer="2", head="3"))
    run = backend(at)
    s = steps_charts(at) if page == "steps" else charts(at)
    if page == "steps":
        np.testing.assert_allclose(panel(s[1], "Q "), run.queries[2, 3], atol=1e-4)
        np.testing.assert_allclose(panel(s[2], "softmax"), run.weights[2, 3], atol=1e-5)
    if page == "pull":
        paths, _, _ = pca_trajectories(run.hidden, n_components=2)
        np.testing.assert_allclose(points(trace(s[0], "tokens: after")), paths[-1], atol=1e-3)
        assert len([t for t in s[0]["data"] if t.get("mode") == "lines"][0]["x"]["bdata"]) > 0
        before, after = before_after(run, 2)
        proj = pca_project(before, after)
        np.testing.assert_allclose(points(trace(s[1], "tokens: after")), proj.after, atol=1e-3)
    if page == "compare":
        np.testing.assert_allclose(decode(s[0]["data"][0]["z"]), run.weights[2, 3], atol=1e-6)
        assert "[CLS]" not in at.selectbox(key="word").options  # special tokens are not words to compare


# ------------------------------------------------------------------------------------------- shared links


def reopen(at, page):  # -> a fresh session opened on the link `at` shows now
    link = {k: v[0] if isinstance(v, list) else v for k, v in dict(at.query_params).items()}
    return ok(app(page, **link)), link


def test_a_pull_link_reopens_the_same_view():
    at = ok(app("pull", text="we sat on the bank of the river and watched the water"))
    at.selectbox(key="token").select("river").run()
    at.button_group(key="view").set_value("3-D").run()
    at.slider(key="sb_alpha").set_value(0.8).run()
    fresh, link = reopen(ok(at), "pull")
    assert {"token": "river", "view": "3-D", "alpha": "0.8"}.items() <= link.items()
    assert charts(fresh) == charts(at)


def test_a_compare_link_holds_both_sentences_and_the_word():
    at = ok(app("compare"))
    at.selectbox(key="cmp_pair").select("it: tired vs wide").run()
    at.selectbox(key="word").select("street").run()
    fresh, link = reopen(ok(at), "compare")
    assert link["text2"] == EXAMPLES["it = the street (too wide)"] and link["word"] == "street"
    assert fresh.text_area(key="cmp_text").value == EXAMPLES["it = the animal (too tired)"]
    assert charts(fresh) == charts(at)


def test_a_steps_link_reopens_the_same_view():
    at = show(ok(app("steps", n_head="2", head="1")), "scale")
    at.button_group(key="sat").set_value("gradient").run()
    fresh, link = reopen(ok(at), "steps")
    assert link["sat"] == "gradient" and link["part"] == "scale"
    assert charts(fresh) == charts(at) and fresh.session_state["steps_part"] == PARTS["scale"]


def test_a_steps_link_keeps_the_choices_of_tabs_that_are_not_open():
    """A link's row and statistic apply when their tab opens; a choice survives a visit to another tab."""
    at = ok(app("steps", text="she ate a sweet apple and a ripe banana", token="banana", sat="entropy"))
    assert len(charts(at)) == 1 and not at.warning  # the first tab; both link keys are known
    assert show(at, "output").selectbox(key="token").value == "banana"
    assert show(at, "scale").button_group(key="sat").value == "entropy"
    at.button_group(key="sat").set_value("gradient").run()
    assert show(show(at, "x"), "scale").button_group(key="sat").value == "gradient"  # kept through the X tab
    assert show(at, "output").selectbox(key="token").value == "banana"


def test_steps_spells_out_the_chosen_row_as_a_weighted_sum():
    at = show(ok(app("steps", text="she ate a sweet apple and a ripe banana")), "output")
    assert at.selectbox(key="token").value == "apple"  # the ambiguous word first
    at.selectbox(key="token").select("banana").run()
    run = backend(ok(at))
    row = run.weights[0, 0, run.tokens.index("banana")]
    (code,) = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("banana\\: out \\=")]
    j = int(np.argmax(row))
    assert f"{row[j]:.2f}·v({run.tokens[j]})" in code and "sum 1.00" in code


def test_the_second_sentence_survives_a_visit_to_another_page():
    at = ok(app("compare"))
    at.text_area(key="text2").input("the apple pie was sweet").run()
    at.switch_page("pages/pull.py").run()
    at.switch_page("pages/compare.py").run()
    assert ok(at).text_area(key="text2").value == "the apple pie was sweet"


@pytest.mark.skipif("minilm" not in registry.available_models(), reason="MiniLM checkpoint not installed")
def test_panels_clipped_for_a_few_outliers_say_so_and_keep_every_value():
    """MiniLM's MLP has outlier features: those panels' colours stop short of them (a * after the panel's name, a
    caption says what it means); every other signed panel spans ±its largest |value|; z keeps the true numbers."""
    from attention.figures.steps import CLIPPED_NOTE

    at = ok(app("steps", model="minilm", part="mlp"))
    marked = 0
    for s in charts(at):
        titles = [t for t in (one_line(a["text"]) for a in s["layout"]["annotations"]) if "] = [" in t]
        for title, trace in zip(titles, s["data"], strict=True):
            top = float(np.nanmax(np.abs(decode(trace["z"]))))
            if title.split("  ")[0].endswith("*"):  # the panel's name carries the mark
                marked += 1
                assert trace["zmax"] < top / 4 and "colour clipped at ±" in trace["hovertemplate"]
            elif trace.get("zmid") == 0:
                assert trace["zmax"] == pytest.approx(top, rel=1e-5)
    assert marked and any(CLIPPED_NOTE in c.value for c in at.caption)
