"""Hostile links through the real app (AppTest): every parameter, wrong in every way, falls back to its default
with a visible notice and leaves the link; model names come only from the allowlist; no path or URL is ever used."""

import re
from dataclasses import fields
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from attention import registry
from ui import params
from ui.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
DEFAULTS = Settings()
KEYS = [f.name for f in fields(Settings) if f.name != "text"]  # text: any sentence is legal, see TEXT_BAD
# Values no non-text parameter may take. Each one, put in every parameter at once, must fall back everywhere.
BAD = {
    "wrong type": "abc",
    "HTML": "<script>window.__pwned=1</script>",
    "markdown link": "[x](https://evil.example)",
    "huge": "9" * 5000,
    "huge number": "1" + "0" * 60,
    "overflow": "1e400",
    "nan": "nan",
    "infinity": "-inf",
    "negative": "-1",
    "empty": "",
    "blank": "   ",
    "repeated": ["1", "1"],
    "repeated differently": ["true", "false"],
    "path traversal": "../../../../etc/passwd",
    "absolute path": "/etc/passwd",
    "windows path": "..\\..\\boot.ini",
    "url": "https://evil.example/model.safetensors",
    "file url": "file:///etc/passwd",
    "hub id": "bert-base-uncased",
    "NUL": "1\x00",
}
TEXT_BAD = {
    "empty": "",
    "repeated": ["the cat", "the dog"],
    "longer than the box": "a" * (params.MAX_TEXT + 1),
    "NUL": "apple\x00bank",
    "escape sequence": "apple\x1b[31mred",
}
PAGE_KEYS = {  # page -> its own URL parameters (ui.page.url_choice / compare's text2)
    "pages/scores.py": ["stage", "query"],
    "pages/pull.py": ["token", "view"],
    "pages/steps.py": ["sat", "part", "token"],
    "pages/compare.py": ["word"],  # text2 is a sentence: see test_second_sentence_falls_back
    "pages/overview.py": ["word"],
}
PAGE_BAD = ["wrong type", "HTML", "huge", "empty", "repeated", "path traversal", "url", "NUL"]


def open_link(query, page=None):  # -> AppTest after the first run of a session opened on this link
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)  # the url paths equal the file names, so the first run lands on this page
    at.run()
    return at


def notices(at):  # -> the warnings' text, with the markdown escapes removed
    return [w.value.replace("\\", "") for w in at.warning]


def unescaped(body):  # markdown -> what of it would be read as markup: every backslash-escaped character removed
    return re.sub(r"\\.", "", body, flags=re.S)


def assert_fell_back(at, keys):
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("plotly_chart"), "the page must still show its charts"
    said = notices(at)
    for key in keys:
        assert any(f"`{key}`" in n for n in said), f"no notice for {key}: {said}"
        assert key not in at.query_params, f"{key} kept its bad value in the link: {at.query_params[key]!r}"


@pytest.mark.parametrize("case", list(BAD))
def test_every_setting_falls_back_with_a_notice(case):
    at = open_link({key: BAD[case] for key in KEYS})
    assert_fell_back(at, KEYS)
    assert at.session_state["settings"] == DEFAULTS
    assert at.sidebar.slider(key="sb_temperature").value == DEFAULTS.temperature  # the widgets show the defaults
    assert at.sidebar.selectbox(key="sb_model").value == DEFAULTS.model


@pytest.mark.parametrize("key", KEYS)
def test_each_setting_alone(key):
    """One bad parameter at a time: its own notice names it, and the other settings of the link still apply."""
    at = open_link({key: "../../etc/passwd", "text": "the cat sat"})
    assert_fell_back(at, [key])
    assert at.session_state["settings"].text == "the cat sat"
    assert getattr(at.session_state["settings"], key) == getattr(DEFAULTS, key)


@pytest.mark.parametrize("case", list(TEXT_BAD))
def test_bad_text_falls_back(case):
    at = open_link({"text": TEXT_BAD[case]})
    assert_fell_back(at, ["text"])
    assert at.session_state["settings"].text == DEFAULTS.text


@pytest.mark.parametrize("page", list(PAGE_KEYS))
@pytest.mark.parametrize("case", PAGE_BAD)
def test_page_parameters_fall_back(page, case):
    at = open_link({key: BAD[case] for key in PAGE_KEYS[page]}, page=page)
    assert_fell_back(at, PAGE_KEYS[page])


@pytest.mark.parametrize("case", list(TEXT_BAD))
def test_second_sentence_falls_back(case):
    at = open_link({"text2": TEXT_BAD[case]}, page="pages/compare.py")
    assert_fell_back(at, ["text2"])


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"layer": "7"}, {"layer": 0}),  # the lecture model has 1 layer (steps = 1)
        ({"head": "5", "n_head": "2"}, {"head": 0, "n_head": 2}),
        ({"steps": "3", "layer": "3"}, {"steps": 3, "layer": 0}),
    ],
)
def test_layer_or_head_beyond_the_model(query, expected):
    at = open_link(query)
    bad = [k for k in ("layer", "head") if k in query]
    assert_fell_back(at, bad)
    for key, value in expected.items():
        assert getattr(at.session_state["settings"], key) == value


def test_a_good_link_applies_without_notices():
    """The positive control: legal values are taken as they are, so the fallbacks above are not vacuous."""
    query = {"text": "the bank by the river", "temperature": "2.0", "causal": "true", "similarity": "cosine",
             "n_head": "2", "head": "1", "preset": "designed", "alpha": "0.25", "steps": "2", "layer": "1"}  # fmt: skip
    at = open_link(query)
    assert not at.exception and notices(at) == []
    s = at.session_state["settings"]
    assert (s.text, s.temperature, s.causal, s.similarity) == ("the bank by the river", 2.0, True, "cosine")
    assert (s.n_head, s.head, s.preset, s.alpha, s.steps, s.layer) == (2, 1, "designed", 0.25, 2, 1)
    assert dict(at.query_params) == query | {"temperature": "2.0"}


@pytest.mark.parametrize(
    "model",
    ["../lecture", "lecture/../../etc", "/tmp/model", "https://huggingface.co/bert-base-uncased", "LECTURE",
     " lecture2", "sentence-transformers/all-MiniLM-L6-v2", "minilm;rm -rf /", "__import__('os')"],
)  # fmt: skip
def test_model_only_from_the_allowlist(model, monkeypatch):
    calls = []
    real = registry.run
    monkeypatch.setattr(registry, "run", lambda m, text, **kw: calls.append((m, kw)) or real(m, text, **kw))
    at = open_link({"model": model})
    assert_fell_back(at, ["model"])
    assert at.session_state["settings"].model == registry.LECTURE
    for name, kwargs in calls:
        assert name in registry.model_names() and "model_dir" not in kwargs


def test_known_but_missing_checkpoint_falls_back():
    """An allowlisted model whose weights are not installed is refused like any other bad name (no download)."""
    missing = [m for m in registry.model_names() if m not in registry.available_models()]
    if not missing:
        pytest.skip("every allowlisted checkpoint is installed here")
    at = open_link({"model": missing[0]})
    assert_fell_back(at, ["model"])


def test_unknown_keys_are_named_escaped_and_dropped():
    hostile = "![x](https://evil.example/x.png)"
    at = open_link({"utm_source": "mail", hostile: "1", "../../etc/passwd": "x", "<img src=x>": "1"})
    assert not at.exception
    toasts = [t.value for t in at.toast]
    assert len(toasts) == 1 and "doesn't know" in toasts[0].replace("\\", "")
    assert "](" not in unescaped(toasts[0]) and "<" not in unescaped(toasts[0])  # markdown-escaped: no image, no tag
    assert dict(at.query_params) == {}  # unknown keys leave the link
    at.run()  # the next run lists them with the other notices
    assert any("doesn't know" in n for n in notices(at))


def test_notices_do_not_render_the_link_as_markdown():
    at = open_link({"temperature": "$x$ **b** :red[r] <img src=x>", "preset": "[a](https://evil.example)"})
    for w in at.warning:
        for fragment in ("$x$", "**b**", ":red[", "<img", "](https"):
            assert fragment not in unescaped(w.value), w.value
    assert len(at.warning) == 2


def test_many_parameters_at_once():
    """A link stuffed with hundreds of keys and repeats still opens, and only 5 unknown names are listed."""
    query = {f"k{i}": "v" * 50 for i in range(300)} | {"temperature": [str(i) for i in range(100)]}
    at = open_link(query)
    assert_fell_back(at, ["temperature"])
    assert len(at.toast) == 1 and at.toast[0].value.count("k") <= 10
