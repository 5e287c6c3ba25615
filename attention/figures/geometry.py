"""Figures for /geometry: one head's queries and keys in one PCA plane, and the neuron view of one score.
Pure: arrays in, plotly figures out."""

import numpy as np

from .common import fast_figure, theme, token_labels
from .heatmaps import colour_range, ticks

QUERY, KEY, CHOSEN = "#4c78a8", "#f58518", "#e45756"
MAX_POINT_TEXT = 40  # n_seq up to which every point is labelled; beyond, only the chosen query and its top keys


def qk_plane(queries, keys, tokens, query, top, weights_row, evr, present=False):
    """queries, keys [n_seq, 2]; query: the chosen query's position; top: its top keys' positions;
    weights_row [n_seq]: its weights; evr [2] explained variance ratio -> go.Figure."""
    labels = token_labels(tokens)
    n = len(labels)
    every = n <= MAX_POINT_TEXT
    named = set(top) | {query}

    def points(xy, name, symbol, colour, kind):
        text = [label if every or i in named else "" for i, label in enumerate(labels)]
        return dict(type="scatter", mode="markers+text", x=xy[:, 0], y=xy[:, 1], name=name, text=text,
                    textposition="top center", marker=dict(symbol=symbol, size=10, color=colour, opacity=0.8),
                    customdata=np.array([[label, f"{w:.3f}"] for label, w in zip(labels, weights_row, strict=True)],
                                        dtype=object),
                    hovertemplate=f"{kind} %{{customdata[0]}}<br>weight from the chosen query %{{customdata[1]}}"
                                  "<extra></extra>")  # fmt: skip

    lines_x, lines_y = [], []
    for j in top:
        lines_x += [queries[query, 0], keys[j, 0], None]
        lines_y += [queries[query, 1], keys[j, 1], None]
    data = [
        dict(type="scatter", mode="lines", x=lines_x, y=lines_y, name="to its top keys", hoverinfo="skip",
             line=dict(color=CHOSEN, width=2)),
        points(queries, "queries ●", "circle", QUERY, "query"),
        points(keys, "keys ◆", "diamond", KEY, "key"),
        dict(type="scatter", mode="markers", x=[queries[query, 0]], y=[queries[query, 1]], name="chosen query",
             marker=dict(symbol="circle-open", size=20, color=CHOSEN, line=dict(width=3)), hoverinfo="skip"),
    ]  # fmt: skip
    layout = dict(
        title=dict(text=f"Queries and keys of one head in one PCA · lines from “{labels[query]}” to its top keys"),
        xaxis=dict(title=dict(text=f"PC1 ({evr[0]:.0%} of variance)"), zeroline=False),
        yaxis=dict(title=dict(text=f"PC2 ({evr[1]:.0%} of variance)"), zeroline=False, scaleanchor="x"),
        legend=dict(orientation="h", y=-0.15),
    )
    fig = fast_figure(data, layout)
    return theme(fig, present, height=560)


def neuron_figure(neuron, query_label, key_label, present=False):  # geometry.Neuron -> go.Figure
    """Three rows over d_head: q_i, k_j and q_i ⊙ k_j; the title gives their sum and the scaled score."""
    z = np.stack([neuron.query, neuron.key, neuron.product]).astype(np.float32)  # [3, d_head]
    d_head = z.shape[1]
    rows = [f"q “{query_label}”", f"k “{key_label}”", "q ⊙ k"]
    dims = [f"d{d}" for d in range(d_head)]
    trace = dict(type="heatmap", z=z, x=np.array(dims, dtype=object), y=np.array(rows, dtype=object), xgap=1, ygap=2,
                 hovertemplate="%{y}<br>%{x}: %{z:.3f}<extra></extra>", colorbar=dict(thickness=12),
                 **colour_range(z, "scores"))  # fmt: skip
    title = f"Σ q ⊙ k = raw score {neuron.raw:.3f};  ÷ √{d_head} = scaled score {neuron.scaled:.3f}"
    layout = dict(title=dict(text=title), xaxis=dict(type="category", title=dict(text="dimension of the head"),
                  **ticks(dims)), yaxis=dict(type="category", autorange="reversed"))  # fmt: skip
    return theme(fast_figure([trace], layout), present, height=300)
