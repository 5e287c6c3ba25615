"""/pull: each token before and after attention in one PCA, with arrows; the selected token's context named."""

import functools
import html

import numpy as np
import streamlit as st

from attention.figures.common import token_labels
from attention.figures.pull import before_after, pull_figure, pull_table
from attention.lecture import AMBIGUOUS
from ui import cache, page, sidebar

VIEWS = ("2-D", "3-D")
PLOT = "pull_plot"  # the 2-D chart's key: clicking a token there selects it
REFERENCE_PER_AXIS = 5


@st.cache_data(show_spinner=False, max_entries=64)
def lecture_projection(settings, k):  # -> (paths [n_layer+1, n_seq, k], reference [n_ref, k], words, groups, evr)
    """meanings.lecture_projection of the page's run (already computed and checked by the page), cached."""
    from attention.figures.meanings import lecture_projection as project

    return project(cache.get_run(settings), k, per_axis=REFERENCE_PER_AXIS)


@st.cache_data(show_spinner=False, max_entries=64)
def real_projections(settings, k):  # -> (trajectory paths, evr), (before/after paths of settings.layer, evr)
    """Real models: every layer's hidden state in one PCA, and one layer's attention before/after in another."""
    from attention.pull import pca_project, pca_trajectories

    run = cache.get_run(settings)
    trajectories, _, evr_t = pca_trajectories(run.hidden, n_components=k)
    before, after = before_after(run, settings.layer)
    proj = pca_project(before, after, n_components=k)
    return (trajectories, evr_t), (np.stack([proj.before, proj.after]), proj.explained_variance_ratio)


def default_token(run):  # -> index of the token to follow first: an ambiguous word, else the one that moves most
    for i, t in enumerate(run.tokens):
        if t.lower() in AMBIGUOUS:
            return i
    return int(np.argmax(np.linalg.norm(run.hidden[-1] - run.hidden[0], axis=-1)))


def context_of(run, i, layers, k=3):  # -> [(word, weight)]: where token i looked, averaged over heads and `layers`
    from attention.pull import top_context

    row = run.weights[layers].mean(axis=(0, 1))[i]  # [n_seq]
    return [(str(w), float(v)) for w, v in top_context(row, run.tokens, k=k, exclude=i)]


settings = sidebar.current()
lecture = settings.model == "lecture"
page.header(
    "Context pull",
    "Attention mixes each word with the words around it, so every word moves toward its context: "
    "watch “apple” drift toward fruit or toward technology.",
)
page.formula(
    r"x_i^{\text{after}} = (1-\alpha)\,x_i + \alpha \sum_j w_{ij}\, v_j W_o"
    if lecture
    else r"x_i^{\text{after}} = x_i + \sum_j w_{ij}\, v_j W_o \quad\text{(the residual stream)}",
    caption="Each token keeps (1 − α) of itself and takes α of the attention output: a weighted average of its context."
    if lecture
    else "A real transformer adds the attention output to each token's vector (then normalises it).",
)
run = page.load(settings)

labels = [html.unescape(t) for t in token_labels(run.tokens)]  # unique, as typed (widgets show plain text)
c1, c2 = st.columns([3, 1])
chosen = page.url_choice("Follow the token", labels, "token", default=labels[default_token(run)], widget=c1.selectbox)
view = page.url_choice("View", VIEWS, "view", widget=c2.segmented_control)
page.notices(run, settings)  # after the controls that read the link, so their notices show too
selected, k = labels.index(chosen), 3 if view == "3-D" else 2
if lecture:
    st.caption(f"α = {settings.alpha:g} and {settings.steps} step(s): change them in the sidebar.")

if lecture:
    paths, ref_points, words, groups, evr = lecture_projection(settings, k)
    context = context_of(run, selected, slice(None))
    fig = pull_figure(
        run.tokens, paths, evr, ref_points, words, groups, selected, context, settings.present,
        title="Before (hollow) → after (filled) attention, on the meaning axes",
    )  # fmt: skip
    st.session_state[PLOT + "_labels"] = labels
    pick = functools.partial(page.pick_point, PLOT, PLOT + "_labels", "token")  # a clicked point is followed
    select = dict(on_select=pick, selection_mode="points", key=PLOT) if k == 2 else {}
    page.chart(fig, f"pull-{view}", **select)
    st.caption(
        ("Click a token's point to follow it. " if k == 2 else "")
        + "A PCA of the meaning dimensions (position left out) keeps "
        f"{100 * float(np.sum(evr)):.0f}% of the spread. Shaded regions are the meanings (hover a grey dot for its "
        "word); labels that would overlap are left to hover, and the chart's title says how many."
    )
    page.csv_download(pull_table(run.tokens, paths), "pull-coordinates")
else:
    (trajectories, evr_t), (layer_paths, evr_l) = real_projections(settings, k)
    layer = min(settings.layer, run.n_layer - 1)
    st.subheader("Through the layers")
    fig = pull_figure(
        run.tokens, trajectories, evr_t, selected=selected, context=context_of(run, selected, slice(None)),
        present=settings.present, title=f"Every token's path through {run.n_layer} layers (one PCA)",
    )  # fmt: skip
    page.chart(fig, f"pull-layers-{view}")
    st.caption(f"These {k} components keep {100 * float(np.sum(evr_t)):.0f}% of the spread.")
    page.csv_download(pull_table(run.tokens, trajectories, "layer"), "pull-layers")
    st.subheader(f"Layer {layer}: before and after its attention")
    fig = pull_figure(
        run.tokens, layer_paths, evr_l, selected=selected, context=context_of(run, selected, slice(layer, layer + 1)),
        present=settings.present, title=f"Layer {layer}: x (hollow) → x + attention output (filled)",
    )  # fmt: skip
    page.chart(fig, f"pull-layer{layer}-{view}")
    st.caption(f"These {k} components keep {100 * float(np.sum(evr_l)):.0f}% of the spread.")
    page.csv_download(pull_table(run.tokens, layer_paths, "before_after"), f"pull-layer{layer}")
