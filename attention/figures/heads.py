"""Every head at once: small multiples in one figure, a layer × head overview, and what each head looks at.

The summaries are plain numpy on the weights; the figures share one colour scale so heads compare fairly.

    from attention.figures.heads import head_grid
    head_grid(weights[layer], tokens).show()   # weights: [n_layer, n_head, n_seq, n_seq]
"""

import unicodedata

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale

from .common import WEIGHTS_SCALE, axis_names, axis_refs, fast_figure, subplot_grid, theme, token_labels
from .heatmaps import MAX_GAP, MAX_HOVER_TEXT, block_reduce, block_size, blocks, cell_text

MAX_GRID = 128  # cells per side of one small multiple: 12 heads of 512 x 512 would send 3 M cells to the browser
MAX_DETAIL = 256  # cells per side of /heads' one head in detail: 512 tokens are drawn as 2 x 2 blocks, about 3 px a
# cell (512 cells a side were 1.5 px: no more to see), and the page draws much sooner (docs/PERFORMANCE.md, 13th
# round). The Scores page draws every cell

SUMMARY_COLUMNS = {
    "entropy": "entropy (bits)",
    "self": "on itself",
    "previous": "on the previous token",
    "first": "on the first token",
    "punctuation": "on punctuation",
}


def is_punctuation(token):  # str -> bool: every character is Unicode punctuation (",", "...", "'s" is not)
    t = str(token).removeprefix("##").strip()
    return bool(t) and all(unicodedata.category(c).startswith("P") for c in t)


def entropy(weights):  # [..., n_seq, n_seq] -> [..., n_seq] bits per query row
    """How spread out each query's attention is: 0 bits = one key, log2(n_seq) = uniform."""
    w = np.asarray(weights, dtype=np.float32)  # float32 throughout: at 6 × 12 × 512² weights float64 took seconds
    logs = np.log2(w, out=np.zeros_like(w), where=w > 0)  # 0 · log 0 counts as 0
    return -np.einsum("...k,...k->...", w, logs)


def head_summary(weights, tokens):  # [n_head, n_seq, n_seq], n_seq -> {name: [n_head]}
    """Per head, averaged over query rows: entropy and the share of attention on self, the previous token,
    the first token and punctuation."""
    w = np.asarray(weights, dtype=np.float64)
    n_seq = w.shape[-1]
    punct = np.array([is_punctuation(t) for t in tokens], dtype=bool)
    previous = np.diagonal(w, offset=-1, axis1=-2, axis2=-1)  # [n_head, n_seq - 1]: w[i, i-1]
    return {
        "entropy": entropy(w).mean(axis=-1),
        "self": np.diagonal(w, axis1=-2, axis2=-1).mean(axis=-1),
        "previous": previous.mean(axis=-1) if n_seq > 1 else np.zeros(w.shape[0]),
        "first": w[..., 0].mean(axis=-1),
        "punctuation": w[..., punct].sum(axis=-1).mean(axis=-1),
    }


def summary_table(weights, tokens, names=None):  # [n_head, n_seq, n_seq] -> DataFrame, one row per head
    """The per-head summary as a table with readable column names."""
    summary = head_summary(weights, tokens)
    index = pd.Index(names if names is not None else [f"head {h}" for h in range(len(summary["entropy"]))])
    df = pd.DataFrame({SUMMARY_COLUMNS[k]: np.round(v.astype(np.float64), 3) for k, v in summary.items()}, index=index)
    df.index.name = "head"
    return df


def mean_entropy(weights):  # [n_layer, n_head, n_seq, n_seq] -> [n_layer, n_head]
    return entropy(weights).mean(axis=-1)


def grid_shape(n_head, max_cols=4):  # -> (rows, cols)
    cols = min(n_head, max_cols)
    return -(-n_head // cols), cols


def block_mean(weights, max_n=MAX_GRID):  # [n_head, n_seq, n_seq] -> ([n_head, n_bin, n_bin], starts [n_bin], size)
    """Average the weights over blocks of `size` consecutive tokens, so each side has at most max_n cells."""
    starts = blocks(weights.shape[-1], max_n)
    return block_reduce(weights, starts, starts), starts, block_size(weights.shape[-1], max_n)


def head_grid(weights, tokens, titles=None, present=False, selected=None):  # [n_head, n_seq, n_seq] -> go.Figure
    """Every head of one layer as small multiples in ONE figure, on one shared colour scale (0 to the top weight).
    Above MAX_GRID tokens each cell is the mean over a block of tokens (the figure's title says so)."""
    weights = np.asarray(weights, dtype=np.float32)
    n_head, n_seq = weights.shape[0], weights.shape[-1]
    labels = np.array(token_labels(tokens), dtype=object)
    note, size = None, 1
    if n_seq > MAX_GRID:
        weights, starts, size = block_mean(weights)
        ends = np.append(starts[1:], n_seq) - 1
        labels = np.array([f"{labels[a]} … {labels[b]} ({a}–{b})" for a, b in zip(starts, ends, strict=True)], object)
        fine = block_size(n_seq, MAX_DETAIL)  # the detail's blocks (heads.py's page draws it below)
        detail = "in full" if fine == 1 else f"in blocks of {fine} × {fine}"
        note = (f"Each cell averages a block of {size} × {size} tokens ({n_seq} tokens → {len(starts)} per side), "
                f"so every head stays quick to draw; one head is below, {detail}.")  # fmt: skip
        n_seq = len(starts)
    titles = list(titles) if titles is not None else [f"head {h}" for h in range(n_head)]
    if selected is not None:
        titles[selected] = f"<b>{titles[selected]} ◀</b>"
    rows, cols = grid_shape(n_head)
    layout = subplot_grid(
        rows, cols, titles=titles, horizontal_spacing=0.04, vertical_spacing=0.12 if rows > 1 else 0.1
    )  # dicts, not make_subplots: ~40 ms less on every rerun of /heads
    show_labels = n_seq <= 14
    data = []
    for h in range(n_head):
        (r, c), (x_name, y_name) = divmod(h, cols), axis_names(h)
        trace = dict(
            type="heatmap",
            z=weights[h],
            x=labels,
            y=labels,
            coloraxis="coloraxis",
            hovertemplate=f"head {h}<br>query %{{y}}<br>key %{{x}}<br>"
            + ("mean " if size > 1 else "")
            + ("weight %{text}" if n_seq <= MAX_HOVER_TEXT else "weight %{z:.3f}")
            + "<extra></extra>",
            xgap=1 if n_seq <= MAX_GAP else 0,  # n_seq here counts blocks
            ygap=1 if n_seq <= MAX_GAP else 0,
            **axis_refs(h),
        )
        if n_seq <= MAX_HOVER_TEXT:
            trace["text"] = cell_text(weights[h])
        data.append(trace)
        layout[x_name].update(type="category", showticklabels=show_labels and r == rows - 1, tickangle=-45)
        layout[y_name].update(type="category", autorange="reversed", showticklabels=show_labels and c == 0)
    layout.update(
        coloraxis=dict(
            colorscale=get_colorscale(WEIGHTS_SCALE),
            cmin=0.0,
            cmax=max(float(weights.max(initial=0.0)), 0.05),
            colorbar=dict(title=dict(text="weight")),
        ),  # fmt: skip
        plot_bgcolor="#f0f0f0",
    )
    if note:
        layout["title"] = dict(text=note, font=dict(size=13))
    per_row = 300 if cols > 2 else 380
    return theme(fast_figure(data, layout), present, height=120 + per_row * rows)


def layer_head_grid(values, title="Mean entropy (bits) per layer and head", present=False, selected=None):
    """A layer × head overview of one number per head (e.g. mean entropy): [n_layer, n_head] -> go.Figure."""
    values = np.asarray(values, dtype=np.float32)
    n_layer, n_head = values.shape
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=np.array([f"head {h}" for h in range(n_head)], dtype=object),
            y=np.array([f"layer {layer}" for layer in range(n_layer)], dtype=object),
            text=cell_text(values),
            texttemplate="%{text}" if values.size <= 150 else None,
            colorscale="Cividis",
            hovertemplate="%{y}, %{x}<br>%{text}<extra></extra>",
            xgap=2,
            ygap=2,
            colorbar=dict(thickness=14),
        )
    )
    if selected is not None:
        layer, head = selected
        fig.add_shape(
            type="rect",
            x0=head - 0.5,
            x1=head + 0.5,
            y0=layer - 0.5,
            y1=layer + 0.5,
            line=dict(color="#e45756", width=3),
        )
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(title=title)
    return theme(fig, present, height=180 + 34 * n_layer)
