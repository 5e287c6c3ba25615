"""/generate through Streamlit's AppTest on tiny random checkpoints in named folders (a Llama as smollm2, a GPT-2
as gpt2): the page shows the backend's generation, its figures hold the step's numbers, and a link regenerates."""

import numpy as np
import pytest
from plotly_spec import figures, trace_values
from streamlit.testing.v1 import AppTest

pytest.importorskip("transformers")

from tiny_models import build, gpt2_lm  # noqa: E402

from attention.generate import Sampling, generate  # noqa: E402
from attention.models import loading  # noqa: E402
from ui import params  # noqa: E402
from ui.page import md_escape  # noqa: E402

APP = str(params.__file__).replace("ui/params.py", "app.py")
PROMPT = "She sat on the bank of the river"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):  # -> {model: folder} of tiny random checkpoints
    root = tmp_path_factory.mktemp("tiny")
    (root / "gpt2").mkdir()
    gpt2_lm(root / "gpt2")
    return {"smollm2": build("llama-gqa-untied-llama3", "float32", root)[1].path, "gpt2": root / "gpt2"}


@pytest.fixture
def env(folders, monkeypatch):
    for name, folder in folders.items():
        monkeypatch.setenv(loading.env_var(name), str(folder))
    return folders


def app(query):  # -> AppTest after its first run on /generate
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update(query)
    at.switch_page("pages/generate.py").run()
    assert not at.exception, at.exception
    return at


def test_a_link_regenerates_the_same_text_and_the_figures_hold_its_numbers(env):
    query = {"model": "smollm2", "text": PROMPT, "gen": "1", "new": "6", "mode": "sample", "temp": "1.5",
             "top_k": "20", "seed": "3", "step": "4", "layer": "1", "head": "2"}  # fmt: skip
    at = app(query)
    gen = generate(loading.load_dir(str(env["smollm2"])), PROMPT, 6, Sampling(False, 1.5, 20, 1.0, 3))
    new = loading.load_dir(str(env["smollm2"])).tokenizer.decode([s.id for s in gen.steps])
    assert f"{md_escape(PROMPT)} **{md_escape(new)}**" in [m.value for m in at.markdown]
    triangle, bars, cache, heads = figures(at)[:4]
    z = trace_values(triangle, "z")
    n_prompt = len(gen.prompt_ids)
    np.testing.assert_allclose(z[n_prompt + 3, : n_prompt + 4], gen.steps[4].attention[1, 2], atol=1e-6)
    assert np.isnan(z[n_prompt + 4]).all()  # step 5's row is not shown yet
    np.testing.assert_allclose(trace_values(bars, "x", 0), gen.steps[4].top_probs, atol=1e-6)
    np.testing.assert_allclose(trace_values(bars, "x", 1), gen.steps[4].after_probs, atol=1e-6)
    assert f"{gen.steps[4].cache_bytes:,} bytes" in cache["layout"]["title"]["text"]
    assert gen.steps[4].cache_bytes == 2 * 2 * 2 * (n_prompt + 4) * 8 * 4
    np.testing.assert_allclose(trace_values(heads, "z"), gen.steps[4].attention[1], atol=1e-6)
    for key, value in query.items():
        assert at.query_params[key] == [value] or at.query_params[key] == value, key
    again = app(query)  # another session opens the link: the shared cache gives the same generation
    assert f"{md_escape(PROMPT)} **{md_escape(new)}**" in [m.value for m in again.markdown]


def test_the_button_generates_and_greedy_is_the_default(env):
    at = app({"model": "gpt2", "text": PROMPT, "new": "3"})
    assert not figures(at)
    at.button(key="generate").click().run()
    assert not at.exception
    gen = generate(loading.load_dir(str(env["gpt2"])), PROMPT, 3)
    np.testing.assert_allclose(trace_values(figures(at)[1], "x", 0), gen.steps[-1].top_probs, atol=1e-6)
    assert at.query_params["gen"] in ("1", ["1"])


@pytest.mark.parametrize(
    "query, message",
    [
        ({"model": "lecture"}, "lecture model has no output head"),
        ({"model": "minilm"}, "minilm is an encoder"),
        ({"model": "gpt2", "text": "river bank " * 60, "gen": "1"}, "reads at most 64"),
    ],
)
def test_bad_choices_get_a_clear_message(env, query, message):
    at = app(query)
    said = " ".join(e.value for e in [*at.info, *at.warning])
    assert message in said.replace("\\", ""), said
