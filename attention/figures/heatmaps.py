"""Query × key heatmaps and a query's row as bars. Pure: arrays in, plotly figures out (usable in Jupyter).

Rows are queries (the token that looks), columns are keys (the token looked at). Signed scores use a
diverging scale centred on 0; weights use Viridis from 0 to the largest weight (the colour bar says which).
Masked cells (-inf) are drawn blank and labelled −∞.

    from attention.figures.heatmaps import attention_heatmap
    attention_heatmap(weights, ["the", "cat", "sat"]).show()
"""

import numpy as np
from plotly.colors import get_colorscale

from .common import SCORES_SCALE, WEIGHTS_SCALE, fast_figure, theme, token_labels

MAX_CELL_TEXT = 16  # n_seq up to which every cell shows its number
MAX_HOVER_TEXT = 64  # above this n_seq the hover reads z itself: n_seq² text strings would dominate the page's JSON
MAX_GAP = 32  # n_seq up to which cells are separated by a 1-pixel gap; beyond, gaps eat the cells and slow drawing
MAX_TICKS = 40  # category labels per axis at most: past that every k-th token is labelled (hover names each one)
MAX_BAR_TEXT = 24  # n_seq up to which every bar is labelled; beyond, the labels overlap and hover reads the value
MAX_SIDE = 128  # token cells a side of a /steps or /compare panel at most (about its height in pixels): 512 tokens
# are drawn as blocks of 4. At 256 a side /steps drew 785,000 cells at 512 MiniLM tokens, 3x the floor app's heatmap
STAGE_TITLES = {
    "raw": "Raw scores QKᵀ",
    "scaled": "Scaled scores QKᵀ / √d_head",
    "masked": "Masked scores",
    "weights": "Attention weights softmax(·)",
}


def cell_text(matrix, decimals=2):  # [n_rows, n_cols] -> [n_rows, n_cols] str: numbers, "−∞" where masked
    """The number in each cell as text; -inf (masked) reads −∞."""
    m = np.asarray(matrix, dtype=np.float64)
    text = np.char.mod(f"%.{decimals}f", np.where(np.isfinite(m), m, 0.0)).astype(object)
    text[np.isneginf(m)] = "−∞"
    text[np.isnan(m)] = ""
    return text


def finite(matrix):  # [..] -> [..] float32 with ±inf as NaN (plotly cannot colour infinities)
    m = np.asarray(matrix, dtype=np.float32)
    return np.where(np.isfinite(m), m, np.float32(np.nan))


def colour_range(matrix, kind):  # -> dict(colorscale=..., zmin=..., zmax=..., [zmid=...])
    """Weights: Viridis from 0 to the largest weight. Scores: a diverging scale symmetric around 0."""
    m = finite(matrix)
    if kind == "weights":  # anchored at 0; the top is the largest weight, so flat rows still show contrast
        top = float(np.nanmax(m)) if np.isfinite(m).any() else 1.0
        return dict(colorscale=get_colorscale(WEIGHTS_SCALE), zmin=0.0, zmax=max(top, 0.05))
    bound = float(np.nanmax(np.abs(m))) if np.isfinite(m).any() else 1.0
    bound = bound if bound > 0 else 1.0
    return dict(colorscale=get_colorscale(SCORES_SCALE), zmin=-bound, zmax=bound, zmid=0.0)


BLOCK = " … "  # joins a block's first and last label: "bank (14) … of (15)"


def block_size(n, max_n):  # -> positions a block holds so that n positions make at most max_n blocks
    return max(1, -(-n // max_n))


def blocks(n, max_n):  # -> starts [n_bin]: n positions cut into consecutive blocks (the last may be shorter)
    return np.arange(0, n, block_size(n, max_n))


def block_labels(labels, starts):  # n labels, [n_bin] -> n_bin labels: "first … last" (unique stays unique)
    ends = np.append(starts[1:], len(labels)) - 1
    return [labels[a] if a == b else f"{labels[a]}{BLOCK}{labels[b]}" for a, b in zip(starts, ends, strict=True)]


def block_tick(label):  # a block's label -> its first token, for a tick: "bank (14) …"
    first, sep, _ = label.partition(BLOCK)
    return first + sep.rstrip()


def block_reduce(matrix, row_starts, col_starts, how="mean"):  # [..., n_rows, n_cols] -> [..., n_row_bins, n_col_bins]
    """Each block's mean over its finite cells, or with how="max" its largest cell. A block with no finite cell is
    −∞ if it holds a −∞ (masked) and NaN otherwise."""
    m = np.asarray(matrix, dtype=np.float64)
    reduce = lambda ufunc, a: ufunc.reduceat(ufunc.reduceat(a, row_starts, axis=-2), col_starts, axis=-1)  # noqa: E731
    if how == "max":
        return reduce(np.maximum, m).astype(np.float32)
    ok = np.isfinite(m)
    sums, counts = reduce(np.add, np.where(ok, m, 0.0)), reduce(np.add, ok.astype(np.float64))
    masked = reduce(np.maximum, np.isneginf(m).astype(np.uint8)) > 0
    empty = np.where(masked, -np.inf, np.nan)
    return np.where(counts > 0, sums / np.maximum(counts, 1), empty).astype(np.float32)


def square_blocks(matrix, labels, max_side):  # [..., n, n], n labels -> (block means, block labels, tokens a block)
    """A query × key matrix (or a stack of them) past max_side tokens a side as the means of blocks of consecutive
    tokens, rows and columns alike (512 -> 128 blocks of 4 at max_side 128); shorter ones as they are."""
    size = block_size(len(labels), max_side)
    if size == 1:
        return np.asarray(matrix, dtype=np.float32), labels, 1
    starts = blocks(len(labels), max_side)
    return block_reduce(matrix, starts, starts), block_labels(labels, starts), size


def every_kth(labels, k):  # -> axis settings that name labels[::k]; a block of tokens by its first token
    shown = list(labels[::k])
    return dict(tickmode="array", tickvals=shown, ticktext=[block_tick(label) for label in shown])


def ticks(labels, max_ticks=MAX_TICKS):  # -> axis settings: every label, or every k-th when there are more
    """Left to plotly, hundreds of category labels are each measured and laid out (half a second at 512 tokens).
    A block of tokens (block_labels) is ticked with its first token; hover names the whole block."""
    if len(labels) <= max_ticks:
        return {}
    return every_kth(labels, -(-len(labels) // max_ticks))


def attention_heatmap(
    matrix, tokens, kind="weights", title=None, show_text=None, present=False, key_tokens=None, height=None,
    max_side=None,
):  # fmt: skip  # [n_seq, n_seq] -> go.Figure
    """One query × key matrix. kind="weights" (sequential) or "scores" (signed, diverging).
    key_tokens: column tokens when they differ from the rows' (defaults to tokens).
    max_side: past that many tokens a side, each cell is the mean of a block of tokens (block_reduce), and the
    title says how many; None draws every cell."""
    matrix = np.asarray(matrix, dtype=np.float32)
    rows = token_labels(tokens)
    cols = token_labels(tokens if key_tokens is None else key_tokens)
    if matrix.shape != (len(rows), len(cols)):
        raise ValueError(f"matrix must be [{len(rows)}, {len(cols)}] for these tokens (got {list(matrix.shape)})")
    size = 1
    if max_side:
        if key_tokens is not None:
            raise ValueError("max_side pools a square query × key matrix: give no key_tokens with it")
        matrix, rows, size = square_blocks(matrix, rows, max_side)
        cols = rows
    if size > 1:
        title = " · ".join(filter(None, [title, f"each cell the mean of {size} × {size} tokens"]))
    show_text = max(matrix.shape) <= MAX_CELL_TEXT if show_text is None else show_text
    what = "weight" if kind == "weights" else "score"
    small = max(matrix.shape) <= MAX_HOVER_TEXT or show_text  # large: z travels as binary, no text per cell
    gap = 1 if max(matrix.shape) <= MAX_GAP else 0
    value = "text" if small else "z:.3f" if size > 1 else "z:.2f"
    heatmap = dict(
        type="heatmap",
        z=finite(matrix),
        x=np.array(cols, dtype=object),
        y=np.array(rows, dtype=object),
        hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{'mean ' if size > 1 else ''}{what} %{{{value}}}<extra></extra>",
        colorbar=dict(title=dict(text=what), thickness=14),
        xgap=gap,
        ygap=gap,
        **colour_range(matrix, kind),
    )
    if small:
        heatmap["text"] = cell_text(matrix, 2)
    if show_text:
        heatmap.update(texttemplate="%{text}", textfont=dict(size=17 if present and len(rows) <= 10 else 12))
    layout = dict(
        title=dict(text=title) if title else {},
        plot_bgcolor="#f0f0f0",
        xaxis=dict(title=dict(text="key (looked at)"), side="bottom", tickangle=-45, type="category", **ticks(cols)),
        yaxis=dict(title=dict(text="query (looking)"), autorange="reversed", type="category", **ticks(rows)),
    )
    fig = fast_figure([heatmap], layout)
    n = len(rows)
    return theme(fig, present, height=height or min(720, 260 + 26 * n))


def stage_heatmap(stages, stage, tokens, **kwargs):  # Attention (n_head = 1), stage name -> go.Figure
    """One stage of a head's computation: raw, scaled, masked (signed scores) or weights."""
    matrix = {"raw": stages.scores, "scaled": stages.scaled, "masked": stages.masked, "weights": stages.weights}
    if stage not in matrix:
        raise ValueError(f"stage must be one of {list(matrix)} (got {stage!r})")
    kind = "weights" if stage == "weights" else "scores"
    kwargs.setdefault("title", STAGE_TITLES[stage])
    return attention_heatmap(matrix[stage][0], tokens, kind=kind, **kwargs)


def row_bars(row, tokens, query, kind="weights", present=False, title=None):  # [n_seq], n_seq, int -> go.Figure
    """Where one query token looks: its row of the matrix as bars, one per key."""
    row = np.asarray(row, dtype=np.float32)
    labels = token_labels(tokens)
    labelled = len(labels) <= MAX_BAR_TEXT  # every bar's label is measured and placed by the browser: costly
    bars = dict(
        type="bar",
        x=np.array(labels, dtype=object),
        y=finite(row),
        marker=dict(color=np.where(np.arange(len(labels)) == query, "#e45756", "#4c78a8")),
        hovertemplate=f"key %{{x}}<br>{'%{text}' if labelled else '%{y:.2f}'}<extra></extra>",
    )
    if labelled:
        bars.update(text=cell_text(row[None], 2)[0], textposition="outside")
    what = "weight" if kind == "weights" else "score"
    layout = dict(
        title=dict(text=title or f"Where “{labels[query]}” looks"),
        showlegend=False,
        xaxis=dict(title=dict(text="key (looked at)"), type="category", tickangle=-45, **ticks(labels)),
        yaxis=dict(title=dict(text=what), rangemode="tozero" if kind == "weights" else "normal"),
    )
    fig = fast_figure([bars], layout)
    return theme(fig, present, height=360)
