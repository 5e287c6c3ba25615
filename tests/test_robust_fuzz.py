"""Property-based fuzzing (hypothesis) of the two paths anyone can feed: text -> tokens -> attention (the lecture
model and MiniLM), and the URL parser (ui/params.py). Whatever comes in, the answer is a valid Run or Settings,
or a ValueError / notice that says what to do; never another exception."""

import math
import re
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from attention import registry
from attention.figures.common import token_labels
from attention.lecture import run_lecture
from ui import params
from ui.settings import Settings

ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=200)  # every code point, surrogates excluded
NASTY = st.sampled_from(
    ["<", ">", "&", "&lt;", "<script>", "**", "$", "\\", "\x00", "\u200b", "\u202e", "🍎", "ـ", "\n"]
)
TEXTS = st.one_of(ANY_TEXT, st.lists(st.one_of(NASTY, ANY_TEXT), max_size=20).map(" ".join))
CAP = 512
ENTITY = re.compile(r"&(?!(?:amp|lt|gt);)")


def check_labels(tokens):
    labels = token_labels(tokens)
    assert len(labels) == len(tokens) and len(set(labels)) == len(labels)  # duplicates stay distinct
    for s in labels:
        assert "<" not in s and ">" not in s and not ENTITY.search(s), s  # plotly sees no markup


def check_run(run, causal=False):
    assert 1 <= run.n_seq <= CAP
    w = run.weights.astype(np.float64)
    assert np.isfinite(w).all() and (w >= 0).all() and np.isfinite(run.hidden).all()
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)
    if causal:
        assert np.allclose(np.triu(w, k=1), 0.0)
    check_labels(run.tokens)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEXTS,
    n_head=st.sampled_from([1, 2, 3, 4, 6, 8]),
    preset=st.sampled_from(["identity", "random", "designed"]),
    temperature=st.floats(0.1, 5.0),
    causal=st.booleans(),
    similarity=st.sampled_from(["dot", "cosine"]),
)
def test_lecture_text_to_attention(text, n_head, preset, temperature, causal, similarity):
    kw = dict(n_head=n_head, preset=preset, temperature=temperature, causal=causal, similarity=similarity)
    if not text or text.isspace():  # independent expectation: only blank text has no tokens
        with pytest.raises(ValueError, match="type a sentence first"):
            run_lecture(text, **kw)
        return
    run = run_lecture(text, **kw)
    check_run(run, causal)
    # No character is lost or invented: the tokens are the lower-cased text without its whitespace.
    assert "".join(run.tokens) == re.sub(r"\s+", "", text.lower().replace("’", "'"))[: len("".join(run.tokens))]


@settings(max_examples=20, deadline=None)
@given(n=st.integers(CAP + 1, 3000))
def test_lecture_token_cap(n):
    run = run_lecture("! " * n)
    assert run.n_seq == CAP and any(f"has {n} tokens" in m and f"first {CAP}" in m for m in run.notices)


MINILM = pytest.mark.skipif("minilm" not in registry.available_models(), reason="MiniLM checkpoint not installed")


@MINILM
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, hide_special=st.booleans(), similarity=st.sampled_from(["dot", "cosine"]))
def test_minilm_text_to_attention(text, hide_special, similarity):
    try:
        run = registry.run("minilm", text, hide_special=hide_special, similarity=similarity)
    except ValueError as err:  # blank text, or only characters BERT's normaliser drops (controls, zero-width)
        assert "type a sentence" in str(err) or "no tokens" in str(err), str(err)
        assert not any(c.isalnum() for c in text), f"refused text with letters in it: {text!r}"
        return
    check_run(run)
    if not hide_special:
        assert run.tokens[0] == "[CLS]" and run.tokens[-1] == "[SEP]"


# --- the URL parser -------------------------------------------------------------------------------------

KEYS = [f.name for f in fields(Settings)]
VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "",
            " ",
            "nan",
            "inf",
            "-1",
            "1e400",
            "0x10",
            "1_0",
            "True",
            "../../etc/passwd",
            "https://x.y/z",
            "lecture",
            "minilm",
            "bert",
            "dot",
            "cosine",
            "designed",
            "0",
            "1",
            "2",
            "3",
            "0.5",
            "true",
        ]
    ),  # fmt: skip
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
RAW = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(max_size=20)),
    st.one_of(VALUES, st.lists(VALUES, min_size=0, max_size=3)),
    max_size=20,
)


def is_legal(settings_):  # an independent statement of what a Settings may hold
    s = settings_
    text_ok = 0 < len(s.text) <= params.MAX_TEXT and s.text.strip() and not any(ord(c) < 32 and c not in "\n\t" for c in s.text)  # fmt: skip
    return all(
        [
            text_ok and "\x7f" not in s.text,
            s.model in registry.model_names(),
            0 <= s.layer < params.MAX_LAYER and 0 <= s.head < params.MAX_HEAD,
            s.n_head in (1, 2, 3, 4, 6, 8),
            s.preset in ("identity", "random", "designed"),
            math.isfinite(s.temperature) and 0.1 <= s.temperature <= 5.0,
            math.isfinite(s.alpha) and 0.0 <= s.alpha <= 1.0,
            s.similarity in ("dot", "cosine"),
            1 <= s.steps <= 8,
            all(isinstance(getattr(s, k), bool) for k in ("causal", "hide_special", "present")),
        ]
    )


@settings(max_examples=500, deadline=None)
@given(raw=RAW)
def test_url_parser_never_fails_and_stays_legal(raw):
    result, notices = params.parse(raw)
    assert is_legal(result), result
    for key in KEYS:
        value = getattr(result, key)
        if key not in raw:
            assert value == getattr(params.DEFAULTS, key)
        elif any(n.startswith(f"`{key}`") for n in notices):
            assert value == getattr(params.DEFAULTS, key)  # refused: the default, and a notice says so
        else:  # accepted: the link said exactly this (one value, which writes back to itself)
            one = raw[key][0] if isinstance(raw[key], list) else raw[key]
            assert isinstance(raw[key], str) or len(raw[key]) == 1
            assert params.parse({key: params.encode(value)})[0] == params.parse({key: one})[0]
    assert len(notices) <= len(KEYS)
    for n in notices:  # a notice quotes at most 40 characters of what the link said
        assert len(n) < 400, n


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=["Cc"]), min_size=1, max_size=params.MAX_TEXT),
    model=st.sampled_from(params.model_choices()),
    layer=st.integers(0, params.MAX_LAYER - 1),
    head=st.integers(0, params.MAX_HEAD - 1),
    n_head=st.sampled_from(params.n_head_choices()),
    temperature=st.floats(0.1, 5.0),
    alpha=st.floats(0.0, 1.0),
    steps=st.integers(1, 8),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_every_legal_view_survives_its_link(text, model, layer, head, n_head, temperature, alpha, steps, flags):
    assume(text.strip())
    view = Settings(text=text, model=model, layer=layer, head=head, n_head=n_head, temperature=temperature,
                    alpha=alpha, steps=steps, causal=flags[0], hide_special=flags[1], present=flags[2])  # fmt: skip
    assert params.parse(params.to_query(view)) == (view, [])


@settings(max_examples=200, deadline=None)
@given(
    raw=st.one_of(VALUES, st.lists(VALUES, max_size=3)), options=st.lists(st.text(max_size=8), min_size=1, max_size=5)
)
def test_page_parameter_is_one_of_its_options(raw, options):
    value, notice = params.parse_choice_param("word", raw, options, options[0])
    assert value in options
    if notice is None:  # accepted: the link held exactly one value, naming this option
        one = raw[0] if isinstance(raw, list) else raw
        assert not isinstance(raw, list) or len(raw) == 1
        assert one.strip() == str(value)
    else:
        assert value == options[0] and notice.startswith("`word`")
