"""/compare: two sentences side by side; the same word's attention and pull, aligned by the word."""

from dataclasses import replace

import numpy as np
import streamlit as st

from attention.examples import EXAMPLES, PAIRS
from attention.figures.compare import (
    aligned_attention,
    attention_pair_figure,
    axis_shift_figure,
    cosine_shift,
    default_word,
    difference_figure,
    difference_table,
    shared_words,
)
from attention.figures.pull import (
    SHOWN_WEIGHT,
    before_after,
    compare_pull_figure,
    context_text,
    lecture_reference,
    pull_table,
)
from attention.lecture import AMBIGUOUS
from ui import cache, page, params, sidebar

SIDEBAR_TEXT, SIDEBAR_EXAMPLE = "sb_text", "sb_example"  # ui.sidebar's widget keys: sentence A is its sentence
TEXT_A, TEXT_B, PAIR = "cmp_text", "text2", "cmp_pair"
OWN = "(your own pair)"
DEFAULT_B = EXAMPLES[next(iter(PAIRS.values()))[1]]


def partner(text):  # -> the other sentence of the preset pair `text` belongs to, or None
    for a, b in PAIRS.values():
        if text == EXAMPLES[a]:
            return EXAMPLES[b]
        if text == EXAMPLES[b]:
            return EXAMPLES[a]
    return None


def pair_of(text_a, text_b):  # -> the PAIRS name these two sentences form, or OWN
    return next((n for n, (a, b) in PAIRS.items() if (EXAMPLES[a], EXAMPLES[b]) == (text_a, text_b)), OWN)


def use_pair():  # on_change of the pair picker (runs before the script, so it may set both sentences)
    name = st.session_state[PAIR]
    if name in PAIRS:
        a, b = PAIRS[name]
        st.session_state[TEXT_B] = EXAMPLES[b]
        set_text_a(EXAMPLES[a])


def set_text_a(text):  # sentence A is the sidebar's sentence: write it there (and keep its preset picker in step)
    st.session_state[SIDEBAR_TEXT] = text
    st.session_state[SIDEBAR_EXAMPLE] = next((n for n, s in EXAMPLES.items() if s == text), sidebar.CUSTOM)


def typed_a():  # on_change of this page's copy of sentence A
    set_text_a(st.session_state[TEXT_A])


def seed_text_b(text_a):  # the second sentence: from the link the first time (validated), else A's partner
    raw = sidebar.seed_once(TEXT_B)
    if raw is not None:
        # the same rules as the sidebar's `text` (ui.params), including its length limit
        value, notice = params.parse_value("text", raw, params.parse_text, DEFAULT_B)
        if notice:
            sidebar.add_notice(notice.replace("`text`", f"`{TEXT_B}`"))
        st.session_state[TEXT_B] = value
    if not isinstance(st.session_state.get(TEXT_B), str):
        st.session_state[TEXT_B] = partner(text_a) or DEFAULT_B


def load_b(settings):  # -> Run for sentence B, or stop with a message that names the sentence
    try:
        return cache.get_run(settings)
    except ValueError as err:
        st.warning(page.md_escape(f"Sentence B: {err}"), icon="✋")
        page.halt()


def content(run):  # -> the run's tokens without [CLS]/[SEP]/<s>: comparing those teaches nothing
    special = run.special if run.special is not None else [False] * run.n_seq
    return [t for t, s in zip(run.tokens, special, strict=True) if not s]


def first(tokens, word):  # -> index of the first occurrence of word
    return list(tokens).index(word)


settings = sidebar.current()
page.header(
    "Compare",
    "The same word in two sentences: does its context change where it looks, and where it moves?",
)
page.formula(
    r"\Delta w_{\text{word}}(u) = \sum_{j:\,t_j = u} w^{B}_{\text{word},j} - \sum_{j:\,t_j = u} w^{A}_{\text{word},j}",
    caption="Rows of different sentences are aligned by word: the weight the shared word gives each context word "
    "(repeats added up), in B minus in A.",
)
seed_text_b(settings.text)
st.session_state[TEXT_A] = settings.text  # this page's box mirrors the sidebar's sentence
st.session_state[PAIR] = pair_of(settings.text, st.session_state[TEXT_B])  # the picker follows the sentences
st.selectbox("Pair of sentences", [OWN, *PAIRS], key=PAIR, on_change=use_pair)
c1, c2 = st.columns(2)
c1.text_area("Sentence A (also the sidebar's)", key=TEXT_A, max_chars=params.MAX_TEXT, on_change=typed_a, height=70)
text_b = c2.text_area("Sentence B", key=TEXT_B, max_chars=params.MAX_TEXT, height=70, persist_state="session")
sidebar.claim(TEXT_B, text_b, DEFAULT_B)

run_a = page.load(settings)
run_b = load_b(replace(settings, text=text_b))
words = shared_words(content(run_a), content(run_b))
word = page.url_choice("Shared word", words, "word", default=default_word(words, tuple(AMBIGUOUS))) if words else None
page.notices(run_a, settings)  # after every control that reads the link, so their notices show too
for notice in run_b.notices:
    st.info(page.md_escape(f"Sentence B: {notice}"), icon="ℹ️")
if not words:
    st.info("The two sentences share no word, so there is nothing to align. Type a word into both.")
layer = min(settings.layer, run_a.n_layer - 1, run_b.n_layer - 1)
head = min(settings.head, run_a.n_head - 1, run_b.n_head - 1)

st.subheader(f"Attention, layer {layer} head {head}")
page.chart(
    attention_pair_figure(
        run_a.tokens, run_a.weights[layer, head], run_b.tokens, run_b.weights[layer, head],
        titles=("A", "B"), present=settings.present,
    ),
    "compare-attention",
)  # fmt: skip
c1, c2 = st.columns(2)
with c1:
    page.csv_download(run_a.weights[layer, head], "compare-attention-A", rows=run_a.tokens, cols=run_a.tokens)
with c2:
    page.csv_download(run_b.weights[layer, head], "compare-attention-B", rows=run_b.tokens, cols=run_b.tokens)

if not words:
    page.halt()
i_a, i_b = first(run_a.tokens, word), first(run_b.tokens, word)

st.subheader(f"Where “{page.md_escape(word)}” looks, in A and in B")
if run_a.n_head > 1:
    st.caption(f"Layer {layer}, averaged over its {run_a.n_head} heads.")
row_a = run_a.weights[layer].mean(axis=0)[i_a]  # [n_seq]: averaged over the heads
row_b = run_b.weights[layer].mean(axis=0)[i_b]
aligned = aligned_attention(run_a.tokens, row_a, run_b.tokens, row_b)
page.chart(difference_figure(*aligned, word, present=settings.present), "compare-difference")
page.csv_download(difference_table(*aligned), "compare-difference")

st.subheader("How far it moves: both pulls in one PCA")
from attention.pull import pca_project, top_context  # noqa: E402  (the lecture model's PCA helpers)

lecture = settings.model == "lecture"
(before_a, after_a), (before_b, after_b) = before_after(run_a, layer), before_after(run_b, layer)
reference, ref_words, ref_groups, n_dims = None, None, None, None
if lecture:
    from attention.lecture import AXES

    n_dims = len(AXES)  # the meaning axes; position would only blur the picture
    tokens_ab = [*run_a.tokens, *run_b.tokens]
    reference, ref_words, ref_groups = lecture_reference(tokens_ab, np.vstack([before_a, before_b]), per_axis=5)
proj = pca_project(
    np.vstack([before_a, before_b])[:, :n_dims], np.vstack([after_a, after_b])[:, :n_dims], reference, n_components=2
)
n = run_a.n_seq
paths_a = np.stack([proj.before[:n], proj.after[:n]])
paths_b = np.stack([proj.before[n:], proj.after[n:]])
notes = tuple(
    f"{name}: "
    + context_text(
        [c for c in top_context(run.weights[layer].mean(axis=0)[i], run.tokens, k=3, exclude=i) if c[1] >= SHOWN_WEIGHT]
    )
    for name, run, i in (("A", run_a, i_a), ("B", run_b, i_b))
)
page.chart(
    compare_pull_figure(
        run_a.tokens, paths_a, run_b.tokens, paths_b, proj.explained_variance_ratio, i_a, i_b, notes,
        proj.reference, ref_words, ref_groups, present=settings.present,
        title="Sentence A (blue) and B (orange): before (hollow) → after (filled), one PCA",
    ),
    "compare-pull",
)  # fmt: skip
c1, c2 = st.columns(2)
with c1:
    page.csv_download(pull_table(run_a.tokens, paths_a, "before_after"), "compare-pull-A")
with c2:
    page.csv_download(pull_table(run_b.tokens, paths_b, "before_after"), "compare-pull-B")
if lecture:
    shift_a = cosine_shift(before_a[i_a, :n_dims], after_a[i_a, :n_dims])
    shift_b = cosine_shift(before_b[i_b, :n_dims], after_b[i_b, :n_dims])
    page.chart(axis_shift_figure(AXES, shift_a, shift_b, word, present=settings.present), "compare-meaning-shift")
    page.csv_download(
        page.table(np.stack([shift_a, shift_b], axis=1), rows=list(AXES), cols=["A", "B"]), "compare-meaning-shift"
    )
