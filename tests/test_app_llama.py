"""Every page with a tiny random Llama served as "smollm2" (ATTENTION_MODEL_DIR_SMOLLM2), through AppTest: the
predictions panel, RoPE before/after, KV groups, sink heads and the RMSNorm/SwiGLU steps hold the backend's numbers."""

import numpy as np
import pytest
from plotly_spec import figures, one_line, trace_values
from streamlit.testing.v1 import AppTest
from tiny_served import tiny_bert, tiny_decoder

from attention import registry
from attention.figures.heads import head_summary
from attention.internals import before_rope, kv_groups, rotated_score, shifted_scores, sink_heads
from attention.models import encode, layer_trace, load
from ui import cache, params
from ui.page import labels as page_labels

pytest.importorskip("transformers")
APP = str(params.__file__).replace("ui/params.py", "app.py")
PAGES = ["overview", "scores", "heads", "pull", "steps", "compare", "flow", "geometry"]
TEXT = "The animal didn't cross the street because it was too tired"


@pytest.fixture(scope="module")
def llama(tmp_path_factory):  # -> folder of a tiny random Llama, served as smollm2 for this module
    folder = tiny_decoder(tmp_path_factory.mktemp("tiny") / "llama")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTENTION_MODEL_DIR_SMOLLM2", str(folder))
        yield folder


def app(page, query):  # -> AppTest after its first run on `page`
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(query)
    at.run()
    if page != "overview":
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def text(at):  # -> every markdown, caption, info and warning on the page, joined
    return " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.info, *at.warning]).replace("\\", "")


def run_of(text_=TEXT):
    return registry.run("smollm2", text_, max_tokens=cache.MAX_TOKENS)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_a_tiny_llama(llama, page):
    at = app(page, {"model": "smollm2", "text": TEXT})
    assert at.selectbox(key="sb_model").value == "smollm2"
    assert len(at.get("plotly_chart")) >= 1
    assert "2 layers, 4 heads, 2 KV heads, d_model 32; causal" in " ".join(c.value for c in at.sidebar.caption).replace(
        "\\", ""
    )


def test_overview_shows_the_next_token_and_it_follows_a_context_word(llama):
    at = app("overview", {"model": "smollm2", "text": TEXT})
    run = run_of()
    bars = [f for f in figures(at) if f["data"][0].get("orientation") == "h"][0]
    assert list(bars["data"][0]["y"][:5]) == [t for t in run.predictions.top_tokens[-1][:5]]
    np.testing.assert_allclose(trace_values(bars, "x"), run.predictions.top_probs[-1, :5], atol=1e-6)
    other = TEXT.replace("tired", "wide")
    changed = run_of(other).predictions.top_ids[-1, 0] != run.predictions.top_ids[-1, 0]
    assert changed  # on this fixed checkpoint the last word moves the top prediction
    at.text_area(key="sb_text").set_value(other).run()
    bars = [f for f in figures(at) if f["data"][0].get("orientation") == "h"][0]
    assert bars["data"][0]["y"][0] == run_of(other).predictions.top_tokens[-1][0]


def test_scores_shows_predictions_rope_and_kv_groups(llama):
    run = run_of()
    query = run.n_seq - 1
    at = app("scores", {"model": "smollm2", "text": TEXT, "layer": "1", "head": "3"})
    at.selectbox(key="query").set_value(run.tokens[query]).run()  # (the link's page keys are read on the first page)
    at.selectbox(key="rope_key").set_value(run.tokens[0]).run()
    words = text(at)
    assert "KV head 0: query heads 0, 1; KV head 1: query heads 2, 3" in words and "Head 3 reads KV head 1" in words
    figs = figures(at)
    bars = [f for f in figs if f["data"][0].get("orientation") == "h"][0]
    np.testing.assert_allclose(trace_values(bars, "x"), run.predictions.top_probs[query, :10], atol=1e-6)
    q0, k0 = before_rope(run, 1, 3)
    rope = [f for f in figs if "q before RoPE" in str(f["layout"].get("annotations", ""))][0]
    np.testing.assert_allclose(trace_values(rope, "z", 0), q0, atol=1e-5)
    shift = [f for f in figs if "shifted positions" in str(f["layout"].get("title"))][0]
    together = trace_values(shift, "y", 0)
    np.testing.assert_allclose(together, together[0], atol=1e-6)  # moved together: one score
    key = 0
    i, j = run.positions[query], run.positions[key]
    assert together[0] == pytest.approx(float(run.queries[1, 3, query] @ run.keys[1, 3, key]), abs=1e-4)
    assert np.ptp(trace_values(shift, "y", 1)) > 1e-3  # moved apart: the score changes
    assert shifted_scores(q0[query], k0[key], run.rope, i, j, [0])[0][0] == pytest.approx(
        rotated_score(q0[query], k0[key], run.rope, i, j)
    )


def test_heads_marks_kv_groups_and_names_sink_heads(llama):
    run = run_of()
    at = app("heads", {"model": "smollm2", "text": TEXT, "layer": "1"})
    grid = figures(at)[0]
    titles = [a["text"] for a in grid["layout"]["annotations"]]
    assert all(any(f"head {h} · KV {h // 2}" in t for t in titles) for h in range(4))  # (the chosen one is bold)
    first = head_summary(run.weights[1], run.tokens)["first"]
    words = text(at)
    for h, share in sink_heads(first):
        assert f"head {h} ({share:.0%})" in words
    assert ("Attention sinks" in words) == bool(sink_heads(first))


def test_steps_shows_rmsnorm_and_swiglu_with_the_real_numbers(llama):
    at = app("steps", {"model": "smollm2", "text": TEXT, "layer": "1"})
    at.session_state["steps_part"] = "Norms and MLP"  # the tab that holds them, as a click opens it
    at.run()
    ckpt = load("smollm2")
    ids = encode(ckpt, TEXT)[0]
    trace = layer_trace(ckpt, ids, 1)
    figs = figures(at)
    swiglu = [f for f in figs if "silu(gate) · up" in str(f["layout"].get("annotations", ""))][0]
    names = [one_line(a["text"]).split("  ")[0] for a in swiglu["layout"]["annotations"]]
    np.testing.assert_allclose(trace_values(swiglu, "z", names.index("silu(gate) · up")), trace["product"], atol=1e-5)
    rms = [f for f in figs if "rms(x) = √" in str(f["layout"])][0]
    np.testing.assert_allclose(trace_values(rms, "z")[0], np.sqrt((trace["input"] ** 2).mean(-1) + 1e-6), rtol=1e-4)


def test_mask_and_no_head_models_say_why_they_predict_nothing():
    at = app("scores", {"model": "lecture"})
    assert "no output head" in text(at)
    minilm = registry.run("minilm", "a bank", max_tokens=8)
    assert minilm.predictions is None and "MiniLM" in minilm.predictions_note
    assert kv_groups(None, 3) == [[0], [1], [2]] and kv_groups(np.array([0, 0, 1, 1]), 4) == [[0, 1], [2, 3]]


def test_before_rope_gives_one_query_per_token_whatever_its_position(llama):
    run = run_of("the the the the the")  # layer 0 reads the token embeddings alone: no position is added
    q0, k0 = before_rope(run, 0, 1)
    same = [i for i, t in enumerate(run.tokens) if t == "␣the"]
    assert len(same) >= 3
    np.testing.assert_allclose(q0[same], np.broadcast_to(q0[same[0]], q0[same].shape), atol=1e-5)
    np.testing.assert_allclose(k0[same], np.broadcast_to(k0[same[0]], k0[same].shape), atol=1e-5)
    assert np.abs(run.queries[0, 1, same[1]] - run.queries[0, 1, same[0]]).max() > 1e-3  # after RoPE they differ


@pytest.fixture(scope="module")
def bert(tmp_path_factory):  # -> folder of a tiny random BERT with an MLM head, served as bert for this module
    folder = tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTENTION_MODEL_DIR_BERT", str(folder))
        yield folder


def test_an_mlm_encoder_fills_its_mask_and_says_how_to_get_one(bert):
    masked = "The animal didn't cross the [MASK] because it was too tired."
    run = registry.run("bert", masked, max_tokens=cache.MAX_TOKENS)
    [position] = run.predictions.mask_positions
    at = app("scores", {"model": "bert", "text": masked})
    at.selectbox(key="query").set_value(page_labels(run)[position]).run()
    bars = [f for f in figures(at) if f["data"][0].get("orientation") == "h"][0]
    np.testing.assert_allclose(trace_values(bars, "x"), run.predictions.top_probs[position, :10], atol=1e-6)
    assert "Fill for" in str(bars["layout"]["title"])
    overview = app("overview", {"model": "bert", "text": masked})
    assert "in place of the mask" in text(overview)
    plain = app("scores", {"model": "bert", "text": "The bank of the river"})
    assert "Type [MASK]" in text(plain)
    steps = app("steps", {"model": "bert", "text": masked})  # LayerNorm and GELU with the real numbers
    steps.session_state["steps_part"] = "Norms and MLP"
    steps.run()
    assert "GELU(up)" in str([f["layout"].get("annotations") for f in figures(steps)])


def test_a_long_text_is_cut_to_512_tokens_with_a_notice(llama):
    long = "the bank of the river " * 150  # ~3300 characters; the tiny Llama could read 8192 positions
    assert load("smollm2").config.n_max == 8192
    at = app("heads", {"model": "smollm2", "text": long})
    words = text(at)
    assert "truncated to the first 512" in words and "The dashboard reads at most 512 tokens" in words
    assert cache.get_run.__module__ == "ui.cache" and run_of(long).n_seq == 512
