"""The notebook API at the package top: run, show, from_arrays, load. Each view draws the numbers of the Run it is
given (decoded from the figure), the figure a page shows is the one `show` builds, and bad calls say what to pass."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from plotly_spec import decode, figures
from streamlit.testing.v1 import AppTest

import attention
from attention import views
from attention.figures.common import token_labels

TEXT = "she ate a sweet apple"


@pytest.fixture(scope="module")
def lecture():
    return attention.run("lecture", TEXT, n_head=4, preset="designed", steps=2)


def test_importing_the_package_loads_no_plotly_or_models():
    code = "import sys, attention; print(sorted(m for m in ('plotly', 'attention.registry', 'sklearn') if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_run_is_the_registry_run(lecture):
    from attention import registry

    direct = registry.run("lecture", TEXT, n_head=4, preset="designed", steps=2)
    np.testing.assert_array_equal(lecture.weights, direct.weights)
    assert lecture.weights.shape == (2, 4, 5, 5)


@pytest.mark.parametrize("layer, head", [(0, 0), (1, 3)])
def test_weights_view_draws_that_heads_weights(lecture, layer, head):
    fig = attention.show(lecture, "weights", layer=layer, head=head)
    z = decode(fig.to_plotly_json()["data"][0]["z"])
    np.testing.assert_allclose(z, lecture.weights[layer, head], rtol=1e-6)
    assert list(fig.data[0].x) == token_labels(lecture.tokens)


def test_heads_view_draws_every_head_of_the_layer(lecture):
    fig = attention.show(lecture, "heads", layer=1).to_plotly_json()
    assert len(fig["data"]) == lecture.n_head
    for h, trace in enumerate(fig["data"]):
        np.testing.assert_allclose(decode(trace["z"]), lecture.weights[1, h], rtol=1e-6)


def test_stages_view_ends_in_the_softmax_of_the_scaled_scores(lecture):
    fig = attention.show(lecture, "stages", layer=0, head=2).to_plotly_json()
    raw, scaled, _, weights = (decode(t["z"]) for t in fig["data"])
    q, k = lecture.queries[0, 2], lecture.keys[0, 2]
    np.testing.assert_allclose(raw, q @ k.T, rtol=1e-4, atol=1e-5)  # naive QKᵀ
    e = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(weights, e / e.sum(axis=-1, keepdims=True), rtol=1e-4, atol=1e-6)
    one = attention.show(lecture, "stages", stage="raw", layer=0, head=2).to_plotly_json()
    np.testing.assert_allclose(decode(one["data"][0]["z"]), raw, rtol=1e-6)


def test_every_view_builds_and_steps_parts_too(lecture):
    for name in views.VIEWS:
        assert attention.show(lecture, name).data
    for part in views.STEP_PARTS:
        assert attention.show(lecture, "steps", part=part).data
    pull = attention.show(lecture, "pull", word="apple", k=3)
    assert any(t.type == "scatter3d" for t in pull.data)


def test_the_page_shows_the_same_figure_as_show(lecture):
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.query_params.update({"n_head": "4", "preset": "designed", "steps": "2", "text": TEXT, "layer": "1", "head": "2"})
    at.run()
    at.switch_page("pages/heads.py").run()
    assert not at.exception, at.exception
    page = figures(at)[0]  # the heads grid, first on /heads
    ours = attention.show(lecture, "heads", layer=1, head=2).to_plotly_json()
    assert [t["x"] for t in page["data"]] == [list(t["x"]) for t in ours["data"]]
    for a, b in zip(page["data"], ours["data"], strict=True):
        np.testing.assert_allclose(decode(a["z"]), decode(b["z"]), rtol=1e-6)


def test_from_arrays_takes_transformers_attentions_and_torch_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(4), size=(3, 2, 4)).astype(np.float32)  # [n_layer, n_head, n_seq, n_seq]
    outputs = tuple(torch.from_numpy(w[i][None]) for i in range(3))  # transformers: n_layer x [1, n_head, n, n]
    run = attention.from_arrays(outputs, ["a", "b", "c", "d"])
    np.testing.assert_array_equal(run.weights, w)
    assert (run.n_layer, run.n_head, run.n_seq) == (3, 2, 4)
    single = attention.from_arrays(w[0, 0], list("abcd"))  # one head [n_seq, n_seq]
    assert single.weights.shape == (1, 1, 4, 4)
    np.testing.assert_allclose(decode(attention.show(single, "weights").to_plotly_json()["data"][0]["z"]), w[0, 0])


def test_load_reads_an_export_back(lecture, tmp_path):
    for suffix in (".npz", ".json"):
        back = attention.load(attention.export.write(lecture, tmp_path / f"run{suffix}"))
        assert back.tokens == lecture.tokens
        for field in ("weights", "queries", "keys", "values", "hidden"):
            np.testing.assert_allclose(getattr(back, field), getattr(lecture, field), rtol=1e-6)
        a = attention.show(back, "stages", layer=1, head=1).to_plotly_json()
        b = attention.show(lecture, "stages", layer=1, head=1).to_plotly_json()
        for ta, tb in zip(a["data"], b["data"], strict=True):
            np.testing.assert_allclose(decode(ta["z"]), decode(tb["z"]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda r: attention.show(r, "nope"), "pass one of \\['weights', 'stages', 'heads', 'pull', 'steps'"),
        (lambda r: attention.show(r, "weights", layer=2), "layer must be an integer from 0 to 1"),
        (lambda r: attention.show(r, "weights", head=-1), "head must be an integer from 0 to 3"),
        (lambda r: attention.show(r, "weights", colour="red"), "unexpected keyword argument 'colour'"),
        (lambda r: attention.show(r, "pull", word="pear"), "word 'pear' is not a token of this run"),
        (lambda r: attention.show(r, "stages", stage="soft"), "stage must be 'all' or one of"),
        (lambda r: attention.run("gpt5", TEXT), "unknown model 'gpt5'; pass one of"),
        (lambda r: attention.run("lecture", "  "), "text must be a non-empty string"),
        (lambda r: attention.run("lecture", TEXT, heads=2), "see help\\(attention.run\\)"),
        (lambda r: attention.from_arrays(r.weights, ["a"]), "there are 1 tokens: pass weights \\[..., 1, 1\\]"),
        (lambda r: attention.from_arrays(np.ones((2, 2, 2, 5, 5, 1)), list("abcde")), "must have 2 to 4 dimensions"),
        (lambda r: attention.show(attention.from_arrays(r.weights, r.tokens), "pull"), "needs \\['hidden'\\]"),
        (lambda r: attention.from_arrays(r.weights, r.tokens, queries=r.queries), "together"),
    ],
)
def test_bad_calls_say_what_to_pass(lecture, call, message):
    with pytest.raises(ValueError, match=message):
        call(lecture)
