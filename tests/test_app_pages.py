"""The frame and the Overview, Scores and Heads pages through Streamlit's AppTest: every preset runs, widgets
change what the figures hold (decoded from the plotly spec and compared with the backend), links round-trip."""

import numpy as np
import pytest
from plotly_spec import figures, trace_values
from streamlit.testing.v1 import AppTest

from attention import registry
from attention.examples import EXAMPLES
from attention.run import stages
from ui import params
from ui.settings import Settings

APP = str(params.__file__).replace("ui/params.py", "app.py")
PAGES = {"overview": "pages/overview.py", "scores": "pages/scores.py", "heads": "pages/heads.py"}


def app(query=None, page=None):  # -> AppTest after its first run (on the overview), then on `page`
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query or {})
    at.run()
    if page:
        at.switch_page(PAGES[page]).run()
    assert not at.exception, at.exception
    return at


def backend(**settings):  # -> Run computed directly, the way the page should have
    s = Settings(**settings)
    options = dict(n_head=s.n_head, preset=s.preset, alpha=s.alpha, steps=s.steps, temperature=s.temperature,
                   causal=s.causal, similarity=s.similarity)  # fmt: skip
    return registry.run("lecture", s.text, **options)


def warnings(at):  # -> str: every warning and info on the page
    return " ".join(str(w.value) for w in [*at.warning, *at.info])


@pytest.mark.parametrize("page", list(PAGES))
def test_every_preset_runs_on_the_page(page):
    at = app(page=page)
    for name in EXAMPLES:
        at.selectbox(key="sb_example").set_value(name).run()
        assert not at.exception, (page, name, at.exception)
        assert at.text_area(key="sb_text").value == EXAMPLES[name]
        assert len(at.get("plotly_chart")) >= 1
        assert at.title[0].value  # every page has its title...
        assert len(at.expander) >= 1  # ...and the formula expander
        downloads = [b.proto.label for b in at.get("download_button")]
        assert any(label.startswith("CSV") for label in downloads)  # the numbers behind the figures
        assert {"Whole run as .npz", "Whole run as .json"} <= set(downloads)  # the whole state, via the exporter


def test_scores_weights_match_the_backend_and_follow_temperature():
    at = app({"stage": "weights"}, page="scores")
    at.slider(key="sb_temperature").set_value(2.5).run()  # stage was read on the first run only: re-pick it
    at.segmented_control(key="stage").set_value("weights").run()
    z = trace_values(figures(at)[0], "z")
    expected = stages(backend(temperature=2.5), 0, 0).weights[0]
    np.testing.assert_allclose(z, expected, rtol=1e-6)
    at.slider(key="sb_temperature").set_value(0.5).run()
    z_cold = trace_values(figures(at)[0], "z")
    np.testing.assert_allclose(z_cold, stages(backend(temperature=0.5), 0, 0).weights[0], rtol=1e-6)
    assert z_cold.max() > z.max()  # a lower temperature sharpens every row
    assert at.query_params["temperature"] == "0.5"


def test_scores_raw_stage_and_causal_mask():
    at = app(page="scores")
    at.toggle(key="sb_causal").set_value(True).run()
    at.segmented_control(key="stage").set_value("masked").run()
    z = trace_values(figures(at)[0], "z")
    run = backend(causal=True)
    upper = np.triu(np.ones((run.n_seq, run.n_seq), bool), 1)
    assert np.isnan(z[upper]).all()  # masked cells are blank (−∞ as text)
    np.testing.assert_allclose(z[~upper], stages(run, 0, 0).scaled[0][~upper], rtol=1e-6)
    at.segmented_control(key="stage").set_value("raw").run()
    np.testing.assert_allclose(trace_values(figures(at)[0], "z"), stages(run, 0, 0).scores[0], rtol=1e-6)


def test_query_picker_shows_that_row_as_bars():
    at = app(page="scores")
    at.segmented_control(key="stage").set_value("weights").run()
    run = backend()
    for query, label in [(0, "she"), (6, "a (6)")]:
        at.selectbox(key="query").set_value(label).run()
        bars = trace_values(figures(at)[-1], "y")
        np.testing.assert_allclose(bars, run.weights[0, 0, query], rtol=1e-6)
    assert at.query_params["query"] == "a (6)"  # the link names the token, not just a position


def test_heads_grid_holds_every_head_on_one_scale():
    at = app(page="heads")
    at.selectbox(key="sb_n_head").set_value(4).run()
    at.selectbox(key="sb_preset").set_value("designed").run()
    grid = figures(at)[0]
    run = backend(n_head=4, preset="designed")
    assert len(grid["data"]) == 4 and {t["coloraxis"] for t in grid["data"]} == {"coloraxis"}
    for h in range(4):
        np.testing.assert_allclose(trace_values(grid, "z", h), run.weights[0, h], rtol=1e-6)
    table = at.table[0].value
    assert len(table) == 4 and "entropy (bits)" in table.columns
    at.segmented_control(key="heads_pick").set_value(2).run()  # pick a head for detail
    assert at.selectbox(key="sb_head").value == 2
    np.testing.assert_allclose(trace_values(figures(at)[-1], "z"), run.weights[0, 2], rtol=1e-6)


def test_heads_past_256_tokens_draws_its_one_head_as_2x2_block_means_and_says_where_every_cell_is():
    from attention.figures.heads import MAX_DETAIL

    text = " ".join(["the cat sat on the mat"] * 50)  # 300 tokens: 150 blocks of 2 a side
    at = app({"text": text, "n_head": "4", "preset": "designed"}, page="heads")
    run = backend(text=text, n_head=4, preset="designed")
    assert run.n_seq == 300 > MAX_DETAIL
    detail = figures(at)[-1]
    w = run.weights[0, 0]
    naive = np.array([[w[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean() for j in range(150)] for i in range(150)])
    np.testing.assert_allclose(trace_values(detail, "z"), naive, rtol=1e-5, atol=1e-7)
    assert detail["layout"]["title"]["text"].endswith("each cell the mean of 2 × 2 tokens")
    captions = " ".join(c.value for c in at.caption)
    assert (
        "300 tokens: each cell is the mean of 2 × 2 tokens" in captions and "Scores page draws every cell" in captions
    )
    assert "one head is below, in blocks of 2 × 2" in figures(at)[0]["layout"]["title"]["text"]  # the grid's note


def test_overview_shows_weights_and_the_pull():
    at = app()
    weights, pull = figures(at)[:2]
    run = backend()
    np.testing.assert_allclose(trace_values(weights, "z"), run.weights[0, 0], rtol=1e-6)
    assert list(trace_values(weights, "x")) == [
        "she",
        "ate",
        "a (2)",
        "sweet",
        "apple",
        "and",
        "a (6)",
        "ripe",
        "banana",
    ]
    assert at.selectbox(key="word").value == "apple"  # the ambiguous word is followed first
    assert any(t.get("name") == "reference words" for t in pull["data"])


def test_overview_pull_has_the_sentences_topics_and_the_same_points_as_the_pull_page():
    from attention.figures.pull import lecture_reference
    from attention.lecture import AXES
    from attention.pull import pca_trajectories

    at = app()
    pull = figures(at)[1]
    run = backend()
    reference, words, groups = lecture_reference(run.tokens, run.hidden[0], per_axis=5)  # as /pull draws it
    (background,) = [t for t in pull["data"] if t.get("name") == "reference words"]
    assert background["hovertext"] == [f"{w} ({g})" for w, g in zip(words, groups, strict=True)]
    assert len(words) < 64 and {"food", "technology"} <= set(groups)  # apple's two senses, not all sixteen axes
    paths, _, _ = pca_trajectories(run.hidden[:, :, : len(AXES)], reference=reference, n_components=2)
    (after,) = [t for t in pull["data"] if t.get("name") == "tokens: after"]
    after_points = np.stack([trace_values({"data": [after]}, a) for a in "xy"], axis=-1)
    np.testing.assert_allclose(after_points, paths[-1], atol=1e-5)
    assert pull["layout"]["yaxis"]["scaleanchor"] == "x"  # equal axes: distances and angles mean what they show
    (note,) = [a["text"] for a in pull["layout"]["annotations"] if a.get("bgcolor")]
    assert note.count("·") == 2 and "<br>" in note  # the three words that pull it, on a second line in half a page


def test_heads_subheading_reads_right_for_one_head_and_for_four():
    one = app(page="heads")
    assert [h.value for h in one.subheader][0] == "The one head of layer 0"  # not "All 1 heads"
    four = app({"n_head": "4"}, page="heads")
    assert [h.value for h in four.subheader][0] == "All 4 heads of layer 0"


def test_a_link_opens_the_view_it_describes():
    query = {"text": "the cat saw the dog", "temperature": "1.5", "similarity": "cosine", "n_head": "2",
             "preset": "random", "head": "1", "causal": "true"}  # fmt: skip
    at = app(query)
    assert at.text_area(key="sb_text").value == query["text"]
    assert at.selectbox(key="sb_head").value == 1 and at.toggle(key="sb_causal").value
    assert at.radio(key="sb_similarity").value == "cosine"
    run = backend(text=query["text"], temperature=1.5, similarity="cosine", n_head=2, preset="random", causal=True)
    np.testing.assert_allclose(trace_values(figures(at)[0], "z"), run.weights[0, 1], rtol=1e-6)
    assert dict(at.query_params) == query  # the link is kept as it came
    assert "in the link" not in warnings(at)  # nothing fell back


@pytest.mark.parametrize(
    "query, bad",
    [
        ({"temperature": "-3"}, "temperature"),
        ({"model": "../../etc/passwd"}, "model"),
        ({"model": "https://evil.example/x"}, "model"),
        ({"layer": "abc"}, "layer"),
        ({"text": ["a", "b"]}, "text"),
        ({"n_head": "999"}, "n_head"),
        ({"text": "<img src=x onerror=alert(1)>", "alpha": "2"}, "alpha"),
    ],
)
def test_a_bad_link_falls_back_with_a_notice(query, bad):
    at = app(query)
    assert f"{bad}" in warnings(at)
    assert bad not in at.query_params or bad == "text"  # the bad value left the link
    if "model" in query:
        assert at.selectbox(key="sb_model").value == "lecture"


def test_a_layer_beyond_the_model_moves_to_the_last_one():
    at = app({"steps": "3", "layer": "2"})
    assert at.selectbox(key="sb_layer").value == 2
    at.slider(key="sb_steps").set_value(1).run()
    assert not at.exception and at.selectbox(key="sb_layer").value == 0


@pytest.mark.parametrize("text", ["", "   ", "!!!", "<script>window.x=1</script>", "[link](http://x) $x$ :red[y]"])
@pytest.mark.parametrize("page", list(PAGES))
def test_odd_text_gives_a_message_or_a_result_never_a_traceback(text, page):
    at = app(page=page)
    at.text_area(key="sb_text").set_value(text).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 1 or at.warning  # a figure, or a clear warning instead


def test_presentation_mode_enlarges_the_figures():
    at = app()
    small = figures(at)[0]["layout"]["font"]["size"]
    at.toggle(key="sb_present").set_value(True).run()
    assert figures(at)[0]["layout"]["font"]["size"] > small
    assert at.query_params["present"] == "true"


def test_a_long_sentence_opens_scores_on_one_stage_unless_the_link_asks_for_all():
    """Past ALL_UP_TO tokens /scores shows the weights alone by default and says why; stage=all still works."""
    text = " ".join(["the cat sat on the mat"] * 25)  # 150 words, 150 tokens in the lecture model
    at = app({"text": text}, page="scores")
    assert at.segmented_control(key="stage").value == "weights"
    assert len(figures(at)) == 2  # the weights heatmap and the query's row
    assert any("150 tokens: one stage at a time" in c.value for c in at.caption)
    at.segmented_control(key="stage").set_value("all").run()  # (this helper's link is read on the overview)
    assert at.segmented_control(key="stage").value == "all" and len(figures(at)) == 5  # 4 stages + the row
    short = app({"text": "the cat sat on the mat"}, page="scores")
    assert short.segmented_control(key="stage").value == "all"


def test_the_json_download_is_offered_only_where_it_stays_small(monkeypatch):
    """Past ui.page.MAX_BYTES a file is not built (at 512 MiniLM tokens the .json is ~558 MB: ~19 s and ~2 GB of the
    server's memory per click); its button is disabled and the page says how to write it elsewhere."""
    from ui import page

    def button(at, ext):
        return next(b for b in at.get("download_button") if b.proto.label == f"Whole run as {ext}")

    at = app(page="scores")
    assert not button(at, ".json").proto.disabled and not any("too much to build" in c.value for c in at.caption)
    monkeypatch.setitem(page.MAX_BYTES, ".json", 1000)  # this short sentence is ~15 kB of JSON
    at.run()
    assert button(at, ".json").proto.disabled and not button(at, ".npz").proto.disabled
    [note] = [c.value for c in at.caption if "too much to build" in c.value]
    assert "as .json about" in note and "--model lecture" in note and "--out run.json" in note
    monkeypatch.setitem(page.MAX_BYTES, ".npz", 1000)
    at.run()
    assert button(at, ".json").proto.disabled and button(at, ".npz").proto.disabled
    [note] = [c.value for c in at.caption if "too much to build" in c.value]
    assert "as .npz about" in note and "--out run.npz" in note


def test_which_real_runs_are_past_the_download_limits():
    from types import SimpleNamespace

    from attention import export
    from ui import page

    def shapes(n_seq, n_layer, n_head, d_head, d_model):  # what estimated_size reads of a Run
        return SimpleNamespace(n_seq=n_seq, d_head=d_head, n_layer=n_layer, n_head=n_head,
                               hidden=np.zeros((n_layer + 1, n_seq, d_model)))  # fmt: skip

    minilm, gpt2 = (lambda n: shapes(n, 6, 12, 32, 384)), (lambda n: shapes(n, 12, 12, 64, 768))
    assert export.estimated_size(minilm(128), ".json") < page.MAX_BYTES[".json"]
    assert export.estimated_size(minilm(512), ".json") > page.MAX_BYTES[".json"]
    assert export.estimated_size(minilm(512), ".npz") < page.MAX_BYTES[".npz"]  # 171 MB: still offered
    assert export.estimated_size(gpt2(1024), ".npz") > page.MAX_BYTES[".npz"]  # ~1.2 GB: not built here
