"""Overview: the sixty-second lecture. Who looks at whom (weights), and where that moves each word (the pull)."""

import numpy as np
import streamlit as st

from attention.figures.heatmaps import attention_heatmap
from attention.figures.pull import pull_figure, pull_table
from attention.pull import top_context
from ui import cache, internals, page, sidebar

OVERVIEW_PLOT_PX = {False: 460, True: 570}  # the pull's plot area in half a 1600 px window (present: no sidebar)


@st.fragment
def follow_word(run, labels, settings):  # the pull and the sentence under it, with the word they follow
    """Picking another word reruns only this column (st.fragment): the pull moves on, the heatmap stays."""
    word = page.token_choice("Follow one word", run, key="word")
    paths, reference, words, groups, evr = cache.get_pull(settings, k=2)
    context = top_context(run.weights[:, :, word].mean(axis=(0, 1)), run.tokens, k=3, exclude=word)
    fig = pull_figure(run.tokens, paths, evr, reference=reference, reference_words=words, reference_groups=groups,
                      selected=word, context=context, present=settings.present, min_width=OVERVIEW_PLOT_PX[settings.present],
                      title="Context pull: before (hollow) → after (filled)")  # fmt: skip
    page.chart(fig, "overview-context-pull")
    moved = float(np.linalg.norm(run.hidden[-1, word] - run.hidden[0, word]))
    looks = ", ".join(f"{page.md_escape(w)} ({v:.0%})" for w, v in context) or "only itself"
    st.markdown(
        f"**{page.md_escape(labels[word])}** looks mostly at {looks}, and moves {moved:.2f} units in embedding space "
        "as its context pulls on it."
    )
    page.csv_download(pull_table(labels, paths), "context-pull-pca")
    sidebar.sync_url()  # a fragment's own rerun skips app.py, which otherwise writes the link


settings = sidebar.current()
page.header(
    "Attention, visible",
    "Every word looks at every other word and takes in a little of each, in proportion to how well they match. "
    "Left: how much each word looks at each other word. Right: how that moves each word's meaning.",
)
run = page.load(settings)
labels = page.labels(run)
notice_slot = st.container()  # filled at the end, once the word picker has read the link too

left, right = st.columns(2, gap="medium")
with left:
    layer, head = settings.layer, settings.head
    st.caption(f"Layer {layer}, head {head} (change them in the sidebar). Each row is a word looking; "
               "each column, a word looked at. Darker means more weight; every row adds up to 1.")  # fmt: skip
    weights = run.weights[layer, head]
    fig = attention_heatmap(weights, run.tokens, title=f"Attention weights · layer {layer}, head {head}",
                            present=settings.present, height=560)  # fmt: skip
    page.chart(fig, f"overview-weights-L{layer}-H{head}")
    page.csv_download(weights, f"weights-L{layer}-H{head}", rows=labels, cols=labels)
    internals.last_prediction(run, present=settings.present)
with right:
    follow_word(run, labels, settings)
with notice_slot:
    page.notices(run, settings)
page.formula(
    r"\text{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{QK^\top}{\sqrt{d_{head}}}\right) V"
    r"\qquad x' = (1-\alpha)\,x + \alpha\,\text{Attention}(x)",
    caption="Q = XW_q, K = XW_k, V = XW_v. Each row of the softmax adds up to 1; α sets how far each word "
    f"moves toward what it looked at (α = {settings.alpha:g} for the lecture model).",
)
page.state_downloads(run, "attention-run")
