"""The compare page: two sentences' attention side by side, and the same word's attention and pull, aligned.

Sentences differ in length, so rows cannot be subtracted cell by cell. We align by word instead: the
shared word's weight on each context word (summed over repeats), for both sentences, and their difference.
"""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale

from .common import (
    SCORES_SCALE,
    WEIGHTS_SCALE,
    axis_names,
    axis_refs,
    escape,
    fast_figure,
    subplot_grid,
    theme,
    token_labels,
)
from .heatmaps import MAX_SIDE, square_blocks, ticks

A_COLOUR, B_COLOUR = "#4c78a8", "#f58518"
MAX_PAIR_TICKS = 20  # key labels a panel names at most: half a page wide, 40 slanted labels overlap
MAX_PAIR_PX = 700  # the pair's plot height at most: 24 px a row up to 29 rows; 512 rows made a 12,500 px figure
PRONOUNS = ("it", "he", "she", "they", "this", "that")


def shared_words(tokens_a, tokens_b):  # -> words in both sentences, in sentence A's order, no repeats
    """Words the two sentences have in common (the candidates to compare)."""
    in_b = set(tokens_b)
    return list(dict.fromkeys(t for t in tokens_a if t in in_b))


def default_word(words, preferred=()):  # -> the word to compare first, or None
    """An ambiguous word if there is one, then a pronoun, then the longest shared word."""
    for group in (preferred, PRONOUNS):
        for w in words:
            if w in group:
                return w
    return max(words, key=len) if words else None


def aligned_row(tokens, row, words):  # n_seq tokens, [n_seq] weights, n_words -> [n_words]
    """One query's weights re-indexed by word: repeated words add up, absent words get 0."""
    out = dict.fromkeys(words, 0.0)
    for t, w in zip(tokens, np.asarray(row, dtype=np.float64), strict=True):
        out[t] += float(w)
    return np.array([out[w] for w in words], dtype=np.float32)


def aligned_attention(tokens_a, row_a, tokens_b, row_b):  # -> (words, [n_words] A, [n_words] B)
    """Both sentences' rows for the shared word over the union of their words (A's order, then B's new ones)."""
    words = list(dict.fromkeys([*tokens_a, *tokens_b]))
    return words, aligned_row(tokens_a, row_a, words), aligned_row(tokens_b, row_b, words)


def cosine_shift(before, after):  # [n_axes], [n_axes] -> [n_axes]
    """How much closer the word got to each axis: cos(after, axis) − cos(before, axis). Mixing shrinks a
    vector's length, so the change of direction, not of coordinates, says which meaning won."""
    b, a = np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)
    unit = lambda v: v / max(np.linalg.norm(v), 1e-12)  # noqa: E731
    return (unit(a) - unit(b)).astype(np.float32)


def shared_top(weights):  # [n_seq, n_seq] -> float: the largest finite weight (at least 0.05, as colour_range)
    w = np.asarray(weights, dtype=np.float32)
    w = w[np.isfinite(w)]
    return max(float(w.max()) if w.size else 1.0, 0.05)


def attention_pair_figure(tokens_a, weights_a, tokens_b, weights_b, titles=("A", "B"), present=False):
    """Two [n_seq, n_seq] weight heatmaps side by side on one shared colour scale, from 0 to the larger of the two
    largest weights (as every weight heatmap: a flat row of 0.1s would be all dark on a 0..1 scale). A sentence
    longer than MAX_SIDE tokens is drawn as the means of blocks of tokens, and its title says so."""
    pair = [square_blocks(w, token_labels(t), MAX_SIDE) for t, w in ((tokens_a, weights_a), (tokens_b, weights_b))]
    titles = [escape(t) + (f" · each cell the mean of {size} × {size} tokens" if size > 1 else "")
              for t, (_, _, size) in zip(titles, pair, strict=True)]  # fmt: skip
    layout = subplot_grid(1, 2, titles=titles, horizontal_spacing=0.12)
    top = max(shared_top(pair[0][0]), shared_top(pair[1][0]))
    data = []
    for i, (w, labels, size) in enumerate(pair):
        x_name, y_name = axis_names(i)
        data.append(
            dict(
                type="heatmap",
                z=np.asarray(w, dtype=np.float32),
                x=labels,
                y=labels,
                colorscale=get_colorscale(WEIGHTS_SCALE),
                zmin=0.0,
                zmax=top,
                showscale=i == 1,
                colorbar=dict(title=dict(text="weight")),
                hovertemplate="query %{y} → key %{x}: " + ("mean " if size > 1 else "") + "%{z:.3f}<extra></extra>",
                **axis_refs(i),
            )
        )
        layout[y_name].update(autorange="reversed", type="category", title=dict(text="query"), **ticks(labels))
        layout[x_name].update(type="category", tickangle=-45, title=dict(text="key"), **ticks(labels, MAX_PAIR_TICKS))
    for note in layout["annotations"]:  # the A / B titles: plotly's default 16 px is lost
        note["font"] = dict(size=24 if present else 17)
    n = max(len(tokens_a), len(tokens_b))
    fig = theme(fast_figure(data, layout), present, height=220 + min(24 * n, MAX_PAIR_PX))
    return fig.update_layout(margin=dict(t=54 if present else 40))  # room above the plots for those titles


def difference_figure(words, row_a, row_b, word, present=False):  # -> go.Figure
    """Where the shared word looks in A and in B (top), and B − A (bottom, diverging colours)."""
    labels = token_labels(words)
    diff = np.asarray(row_b, dtype=np.float32) - np.asarray(row_a, dtype=np.float32)
    layout = subplot_grid(2, 1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    data = [
        dict(type="bar", x=labels, y=row, name=f"sentence {name}", marker=dict(color=colour), **axis_refs(0),
             hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>")
        for name, row, colour in (("A", row_a, A_COLOUR), ("B", row_b, B_COLOUR))
    ]  # fmt: skip
    bound = float(np.abs(diff).max()) or 1.0
    data.append(
        dict(
            type="bar", x=labels, y=diff, name="B − A", showlegend=False,  # its axis says B − A; a pale swatch would not
            marker=dict(color=diff, colorscale=get_colorscale(SCORES_SCALE), cmin=-bound, cmax=bound),
            hovertemplate="%{x}: %{y:+.3f}<extra>B − A</extra>", **axis_refs(1),
        )
    )  # fmt: skip
    top = max(float(np.max(row_a, initial=0)), float(np.max(row_b, initial=0)), 0.05)
    layout["yaxis"].update(title=dict(text="weight"), range=[0, 1.15 * top])  # the bars fill their panel
    layout["yaxis2"].update(title=dict(text="B − A"), zeroline=True)
    layout["xaxis2"].update(type="category", tickangle=-45)
    layout.update(barmode="group", title=dict(text=f"Where “{escape(word)}” looks"))  # legend on the right
    return theme(fast_figure(data, layout), present, height=480)


def axis_shift_figure(axis_labels, shift_a, shift_b, word, present=False):  # [n_axes] each -> go.Figure
    """How much closer the word got to each named meaning in A and in B (see cosine_shift)."""
    fig = go.Figure()
    for name, shift, colour in (("A", shift_a, A_COLOUR), ("B", shift_b, B_COLOUR)):
        fig.add_trace(
            go.Bar(x=[escape(a) for a in axis_labels], y=np.asarray(shift, dtype=np.float32), name=f"sentence {name}",
                   marker_color=colour, hovertemplate="%{x}: %{y:+.3f}<extra>" + name + "</extra>")
        )  # fmt: skip
    fig.update_layout(
        barmode="group",
        title=f"Which meanings “{escape(word)}” turned toward: change of its cosine to each axis",
    )  # the legend stays on the right, clear of the long title
    fig.update_yaxes(title="Δ cosine", zeroline=True)
    return theme(fig, present, height=380)


def difference_table(words, row_a, row_b):  # -> DataFrame: word, A, B, B − A
    """The numbers behind the difference figure."""
    a, b = np.asarray(row_a, dtype=np.float32), np.asarray(row_b, dtype=np.float32)
    return pd.DataFrame({"word": list(words), "A": a, "B": b, "B_minus_A": b - a})
