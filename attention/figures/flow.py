"""Figures for /flow: raw weights beside value-weighted attention, rollout for one token, the ablation grid.
Pure: arrays in, plotly figures out. Long inputs are drawn as blocks of tokens (the title says so)."""

import numpy as np

from .common import fast_figure, subplot_grid, theme, token_labels
from .heads import layer_head_grid
from .heatmaps import block_labels, blocks, cell_text, colour_range, finite, square_blocks, ticks

MAX_SIDE = 128  # token cells a side at most: 512 tokens are drawn as blocks of 4 (block means)
MAX_ROLLOUT = 256  # source tokens at most in the rollout heatmap


def heat(z, x, y, what, cell, colorbar_x):  # -> one heatmap trace dict on subplot `cell`, from 0 to its largest cell
    n, top = max(len(x), len(y)), float(np.nanmax(z)) if np.isfinite(z).any() else 1.0
    refs = {} if cell == 0 else dict(xaxis=f"x{cell + 1}", yaxis=f"y{cell + 1}")
    return dict(type="heatmap", z=finite(z), x=np.array(x, dtype=object), y=np.array(y, dtype=object), **refs,
                hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{what} %{{z:.3f}}<extra></extra>",
                colorbar=dict(title=dict(text=what), thickness=12, x=colorbar_x),
                xgap=1 if n <= 32 else 0, ygap=1 if n <= 32 else 0,
                **colour_range(z, "weights") | dict(zmax=top if top > 0 else 1.0))  # fmt: skip


def value_pair(weights, norms, tokens, title=None, present=False):  # [n_seq, n_seq] x2, n_seq tokens -> go.Figure
    """Raw weights α_ij (left) and the value-weighted ‖α_ij f(x_j)‖ (right), rows = queries, one colour scale each."""
    labels = token_labels(tokens)
    both, shown, size = square_blocks(np.stack([weights, norms]), labels, MAX_SIDE)
    layout = subplot_grid(1, 2, titles=["raw weight α", "value-weighted ‖α f(x)‖"], horizontal_spacing=0.14)
    data = [heat(both[0], shown, shown, "α", 0, 0.43), heat(both[1], shown, shown, "‖αf‖", 1, 1.0)]
    for name in ("xaxis", "xaxis2"):
        layout[name] |= dict(type="category", tickangle=-45, title=dict(text="key (looked at)"), **ticks(shown, 16))
    for name in ("yaxis", "yaxis2"):
        layout[name] |= dict(type="category", autorange="reversed", **ticks(shown))
    layout["yaxis"]["title"] = dict(text="query (looking)")
    layout["yaxis2"]["showticklabels"] = False
    note = f" · block means of {size} × {size} tokens" if size > 1 else ""
    layout["title"] = dict(text=(title or "") + note)
    layout["plot_bgcolor"] = "#f0f0f0"
    fig = fast_figure(data, layout)
    return theme(fig, present, height=min(640, 300 + 22 * len(shown)))


def rollout_figure(rollout, tokens, token, present=False):  # [n_layer, n_seq, n_seq], n_seq, int -> go.Figure
    """Row l: R_{l+1}[token, :], how much of each input token has reached `token` after layer l (rows sum to 1)."""
    labels = token_labels(tokens)
    rows = np.asarray(rollout, np.float32)[:, token, :]  # [n_layer, n_seq]
    starts = blocks(len(labels), MAX_ROLLOUT)
    size = 1 if len(starts) == len(labels) else int(starts[1])
    if size > 1:  # a block's share is the sum of its tokens' shares: rows still sum to 1
        rows, labels = np.add.reduceat(rows, starts, axis=-1), block_labels(labels, starts)
    layer_names = [f"after layer {i}" for i in range(len(rows))]
    trace = dict(type="heatmap", z=rows, x=np.array(labels, dtype=object), y=np.array(layer_names, dtype=object),
                 hovertemplate="%{y}<br>from %{x}<br>share %{z:.3f}<extra></extra>",
                 colorbar=dict(title=dict(text="share"), thickness=12), xgap=1 if len(labels) <= 32 else 0,
                 ygap=1, **colour_range(rows, "weights"))  # fmt: skip
    note = f" (sums over blocks of {size} tokens)" if size > 1 else ""
    layout = dict(
        title=dict(text=f"Where “{token_labels(tokens)[token]}” gets its information from, layer by layer{note}"),
        xaxis=dict(type="category", tickangle=-45, title=dict(text="input token"), **ticks(labels, 24)),
        yaxis=dict(type="category", autorange="reversed"),
    )
    fig = fast_figure([trace], layout)
    return theme(fig, present, height=200 + 30 * len(rows))


def effect_grid(effects, label, selected=None, present=False):  # [n_layer, n_head] -> go.Figure
    """The effect of switching each head off, as a layer × head heatmap; cells read 3 decimals (effects are small)."""
    fig = layer_head_grid(effects, title=label, present=present, selected=selected)
    return fig.update_traces(text=cell_text(effects, 3))
