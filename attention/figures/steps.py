"""The step-by-step page's figures: labelled matrices with their shapes, and the √d_head saturation chart.

Each stage is a `Panel` (a matrix with row and column labels); `stage_grid` draws several panels side by
side in ONE figure (plain heatmaps, no WebGL), so the page stays light however many stages it shows.
Past MAX_SIDE tokens a panel is drawn as the means of blocks of tokens, and of features past MAX_FEATURES
(`pooled`), and its title says so.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import get_colorscale

from .common import SCORES_SCALE, axis_names, axis_refs, escape, fast_figure, subplot_grid, theme
from .heatmaps import MAX_SIDE, block_labels, block_reduce, block_size, blocks, colour_range, every_kth, ticks
from .labels import box

CELL_TEXT_MAX = 16  # write the numbers into the cells when both sides are at most this long
KINDS = ("signed", "weights", "mask")
MAX_TICKS = 64  # label every row / column up to this many
MAX_PANEL_PX = 760  # a panel's height at most: 26 px a row up to 29 rows; 512 rows would make a 13,000 px figure
GRID_PX = 900  # the narrowest plot area a stage grid is laid out for: a laptop's page, less sidebar and margins
TITLE_PX = {False: 16, True: 22}  # a panel title's font size: as common.subplot_grid's, larger in presentation mode
LABEL_PX = {-45: 22, -90: 14}  # the room one column label needs along the axis, slanted or upright (10 px font)
NICE_STEPS = (1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 256, 500, 512, 1000, 1024)
MAX_FEATURES = 192  # a pooled (long) panel's feature side at most: wider ones are drawn as blocks of features
HOVER_TEXT_MAX = 64 * 64  # cells; bigger matrices hover their raw number (no per-cell strings to ship)


@dataclass
class Panel:
    """One stage of the computation, e.g. Q = X·W_q with shape [n_seq, d_head]."""

    name: str  # "Q = X·W_q"
    matrix: np.ndarray  # [n_rows, n_cols]; -inf allowed (masked scores)
    rows: list  # n_rows labels (unique: use token_labels for tokens)
    cols: list  # n_cols labels
    shape: str  # "[n_seq, d_head]"
    kind: str = "signed"  # signed (diverging around 0) | weights (0 to the largest) | mask (allowed or not)
    block: int = 1  # tokens a cell holds along each token axis: > 1 once a long panel is pooled (see pooled)
    feature_block: int = 1  # features a cell holds along a wide feature axis of a pooled panel (see pooled)

    def __post_init__(self):
        self.matrix = np.asarray(self.matrix, dtype=np.float32)
        if self.matrix.ndim != 2 or self.matrix.shape != (len(self.rows), len(self.cols)):
            raise ValueError(
                f"{self.name}: matrix {self.matrix.shape} needs {len(self.rows)} rows x {len(self.cols)} cols"
            )
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS} (got {self.kind!r})")

    @property
    def token_axes(self):  # (bool, bool): which sides count tokens, read from the shape: "[n_seq, d_head]"
        """Only a side the shape names n_seq is ever pooled; a panel whose shape reads "[9, 9]" is drawn whole."""
        dims = [d.strip() for d in self.shape.strip("[]").split(",")]
        return (len(dims) == 2 and dims[0] == "n_seq", len(dims) == 2 and dims[1] == "n_seq")

    @property
    def block_note(self):  # "" or what a pooled panel's cells are: " · means of 2-token blocks"
        if self.block == 1:
            return ""
        if self.kind == "mask":
            return f" · {self.block}-token blocks, allowed if any pair is"
        features = f" × {self.feature_block}-feature" if self.feature_block > 1 else ""
        return f" · means of {self.block}-token{features} blocks"

    def title(self, mark=""):  # "Q = X·W_q  [n_seq, d_head] = [9, 4]"; mark: after the name ("*": clipped)
        return "".join(sep + part for sep, part in self.title_parts(mark))

    def title_parts(self, mark=""):  # -> [(separator, part)]: the name, the shape, and what a pooled cell holds
        parts = [
            ("", f"{self.name}{mark}"),
            ("  ", self.shape),
            (" ", f"= [{self.matrix.shape[0]}, {self.matrix.shape[1]}]"),
        ]
        return parts + ([(" · ", self.block_note.removeprefix(" · "))] if self.block_note else [])  # fmt: skip


def pooled(panel, max_side=MAX_SIDE, max_features=MAX_FEATURES):  # Panel -> Panel with fewer cells a long side
    """A long input's panel as blocks of consecutive tokens: each cell is a block's mean (a mask's block is allowed
    if any of its pairs is). 512 tokens -> 128 blocks of 4 a side: a sixteenth of the cells, each about a pixel or more.
    In such a panel a feature side wider than max_features is cut into blocks of consecutive features too (MiniLM's
    d_model 384 -> 192 blocks of 2, its MLP's 1536 -> 192 of 8): a half-width panel has fewer pixels than that.
    Narrower feature sides (d_head) stay whole, and shorter inputs are returned as they are."""
    n_rows, n_cols = panel.matrix.shape
    tok_rows, tok_cols = panel.token_axes
    size = block_size(n_rows if tok_rows else n_cols, max_side) if (tok_rows or tok_cols) else 1
    if size == 1:
        return panel
    rows = blocks(n_rows, max_side) if tok_rows else blocks(n_rows, max_features)
    cols = blocks(n_cols, max_side) if tok_cols else blocks(n_cols, max_features)
    features = 1 if tok_rows and tok_cols else block_size(n_cols if tok_rows else n_rows, max_features)
    z = block_reduce(panel.matrix, rows, cols, "max" if panel.kind == "mask" else "mean")
    return Panel(panel.name, z, block_labels(panel.rows, rows), block_labels(panel.cols, cols), panel.shape,
                 panel.kind, block=size, feature_block=features)  # fmt: skip


def cell_text(matrix, kind):  # [r, c] -> [r, c] str
    """What each cell says: 2 decimals, −∞ for masked scores, ✓ / · for the mask."""
    if kind == "mask":
        return np.where(matrix > 0, "✓", "·")
    text = np.char.mod("%.2f", np.nan_to_num(matrix, neginf=0.0, posinf=0.0))
    return np.where(np.isneginf(matrix), "−∞", text)


OUTLIER_RATIO = 4.0  # a signed panel whose largest |value| is this many times its 99.5th percentile is clipped
CLIP_PERCENTILE = 99.5


def signed_bound(matrix):  # [r, c] -> (bound, clipped): the colour scale's ±bound of a signed panel
    """±the largest |value|, unless a few outliers dwarf the rest (a real model's massive activations: one MLP
    feature at 50 where the others stay within ±2 would leave the panel white): then ±the 99.5th percentile, and the
    outliers saturate. Hover and the CSV keep every true value."""
    a = np.abs(matrix[np.isfinite(matrix)])
    if a.size == 0:
        return 1.0, False
    top, typical = float(a.max()), float(np.percentile(a, CLIP_PERCENTILE))
    if typical > 0 and top > OUTLIER_RATIO * typical:
        return typical, True
    return (top if top > 0 else 1.0), False


CLIPPED = "*"  # a clipped panel's mark, after its name in the title; CLIPPED_NOTE says what it means
CLIPPED_NOTE = (
    "Panels marked * hold a few values far larger than the rest (in a trained model, a few outlier features): "
    "their colours stop at the 99.5th percentile of |value| and those few cells saturate, so the others keep their "
    "colours. Hover over a cell for its true value; the CSV holds every number."
)


def is_clipped(fig):  # -> bool: a stage_grid figure has a panel whose colours stop short of a few outliers
    return bool((fig.layout.meta or {}).get("clipped"))


def heatmap(panel, show_text=None, scale=None):  # Panel -> heatmap trace (a dict, for common.fast_figure)
    """One panel as a heatmap; -inf (masked) cells are left blank and labelled −∞. scale: a signed panel's
    signed_bound (bound, clipped), if already computed."""
    m = panel.matrix
    z = np.where(np.isfinite(m), m, np.nan)  # JSON has no -inf; a gap reads as "masked"
    if panel.kind == "mask":
        z = (m > 0).astype(np.uint8)  # 1 byte a cell: a 512 x 512 mask ships as 256 KB, not 1 MB
    if show_text is None:
        show_text = max(m.shape) <= CELL_TEXT_MAX
    clipped = False
    if panel.kind == "mask":
        colour = dict(colorscale=[[0, "#eeeeee"], [1, "#4c78a8"]], zmin=0.0, zmax=1.0)
    elif panel.kind == "weights":  # as every heatmap: weights from 0 to the largest (flat rows show contrast)
        colour = colour_range(m, "weights")
    else:  # signed: symmetric around 0, outliers clipped (signed_bound)
        bound, clipped = scale or signed_bound(m)
        colour = dict(colorscale=get_colorscale(SCORES_SCALE), zmin=-bound, zmax=bound, zmid=0.0)
    # per-cell strings only where they can be read; a 512 x 512 matrix hovers its number instead
    small = m.size <= HOVER_TEXT_MAX
    trace = dict(
        type="heatmap",
        z=z,
        x=[escape(c) for c in panel.cols],
        y=[escape(r) for r in panel.rows],
        hovertemplate=f"%{{y}} · %{{x}}: {'mean ' if panel.block > 1 and panel.kind != 'mask' else ''}"
        f"{'%{text}' if small else '%{z:.3f}'}<extra>{escape(panel.name)}"
        + (f" (colour clipped at ±{bound:.3g})" if clipped else "")
        + "</extra>",
        showscale=False,
        xgap=1 if max(m.shape) <= MAX_TICKS else 0,  # gaps would swallow cells a pixel wide
        ygap=1 if max(m.shape) <= MAX_TICKS else 0,
        **colour,
    )
    if small:
        trace["text"] = cell_text(m, panel.kind)
        if show_text:
            trace["texttemplate"] = "%{text}"
    return trace


def fitted_title(parts, width_px, size=TITLE_PX[False]):  # [(separator, part)], px -> "name<br>shape = […]", escaped
    """The parts on as few lines as fit a panel's width: a narrow panel (MiniLM's 384-wide "down" beside two
    1536-wide ones) breaks its title rather than letting it run into its neighbour's or off the figure. A shape
    and its sizes ("[n_seq, 384] = [11, 384]") stay on one line unless that line alone is too wide."""

    def pack(units):  # [(separator, text)] -> lines, each unit joined to the last line while it fits
        lines = [units[0][1]]
        for sep, text in units[1:]:
            if box(escape(lines[-1] + sep + text), size)[0] <= width_px:
                lines[-1] += sep + text
            else:
                lines.append(text)
        return lines

    units = []  # the shape and its sizes as one unit, if that fits on a line
    for sep, part in parts:
        joined = units[-1][1] + sep + part if units else ""
        if sep == " " and box(escape(joined), size)[0] <= width_px:
            units[-1] = (units[-1][0], joined)
        else:
            units.append((sep, part))
    return "<br>".join(escape(line) for line in pack(units))


def column_ticks(labels, width_px, angle):  # n labels, the panel's px, tick angle -> axis settings
    """Every column named while they fit (a lecture model's named features always do); past that every k-th,
    k a round step (0, 25, 50, … or 0, 64, 128, …), so that upright labels do not overlap."""
    fit = max(2, int(width_px // LABEL_PX[angle]))
    if len(labels) <= max(fit, CELL_TEXT_MAX):
        return dict(tickmode="array", tickvals=list(labels))
    return every_kth(labels, next((s for s in NICE_STEPS if s * fit >= len(labels)), -(-len(labels) // fit)))


def stage_grid(panels, n_cols=None, present=False, title=None):  # list[Panel] -> go.Figure
    """Several stages side by side, each titled with its formula and shape; rows read top to bottom. Long panels
    are pooled into blocks of tokens (`pooled`); titles keep the computed shape and name the blocks, on as many
    lines as the panel's width needs (laid out for GRID_PX; wider pages only have more room).
    Built from dicts (common.subplot_grid, fast_figure): make_subplots and plotly's per-axis updates took ~80 ms a
    grid, four grids on every rerun of /steps."""
    n_cols = n_cols or len(panels)
    n_rows = -(-len(panels) // n_cols)
    drawn = [pooled(p) for p in panels]
    scales = [None if d.kind in ("mask", "weights") else signed_bound(d.matrix) for d in drawn]  # (bound, clipped)
    clipped = [bool(sc and sc[1]) for sc in scales]
    widths = [max(d.matrix.shape[1] for d in drawn[c::n_cols]) + 3 for c in range(n_cols)]
    spacing = 0.06 if n_cols > 1 else 0.0
    panel_px = [GRID_PX * (1 - spacing * (n_cols - 1)) * w / sum(widths) for w in widths]  # [n_cols]
    # full shapes, the blocks drawn, and a mark where a few outliers are clipped (CLIPPED_NOTE)
    title_px = TITLE_PX[bool(present)]
    titles = [fitted_title(p.title_parts(CLIPPED if c else "") + d.title_parts()[3:], panel_px[i % n_cols], title_px)
              for i, (p, d, c) in enumerate(zip(panels, drawn, clipped, strict=True))]  # fmt: skip
    lines = [max(t.count("<br>") + 1 for t in titles[r * n_cols : (r + 1) * n_cols]) for r in range(n_rows)]
    layout = subplot_grid(
        n_rows,
        n_cols,
        titles=titles,
        column_widths=widths,
        horizontal_spacing=spacing,
        vertical_spacing=0.16 if n_rows > 1 else 0.0,
    )
    for i, note in enumerate(layout["annotations"]):  # a title wider than an edge panel reads inward, not cut off
        c, (lo, hi) = i % n_cols, layout[axis_names(i)[0]]["domain"]
        note["font"] = dict(size=title_px)
        if box(note["text"], title_px)[0] > panel_px[c] and n_cols > 1 and c in (0, n_cols - 1):
            note.update(x=lo, xanchor="left") if c == 0 else note.update(x=hi, xanchor="right")
    data = []
    for i, panel in enumerate(drawn):
        trace = heatmap(panel, scale=scales[i]) | axis_refs(i)
        x_name, y_name = axis_names(i)
        data.append(trace)
        # every row named (plotly skips some on crowded axes, and a skipped token is a lost row), unless there
        # are too many to read anyway: then every k-th, as on the other heatmaps
        rows = dict(tickmode="array", tickvals=trace["y"]) if len(trace["y"]) <= MAX_TICKS else ticks(trace["y"])
        layout[y_name].update(autorange="reversed", type="category", **rows)
        angle = -90 if len(trace["x"]) > CELL_TEXT_MAX else -45
        font = dict(tickfont=dict(size=10)) if angle == -90 else {}
        layout[x_name].update(type="category", tickangle=angle, **font,
                              **column_ticks(trace["x"], panel_px[i % n_cols], angle))  # fmt: skip
    if title:
        layout["title"] = dict(text=title)
    layout["meta"] = dict(clipped=sum(clipped))  # is_clipped reads it: the page says what the mark means
    tallest = max(d.matrix.shape[0] for d in drawn)
    line_px = round(1.25 * title_px)  # a title line's height (16 px: the 20 px theme leaves above the plots)
    above = max(0, (line_px + 2) * lines[0] - 22)  # what the top row's titles need past those 20 px
    extra = line_px * (sum(lines) - n_rows) + above  # px for titles' second and third lines, and larger ones
    fig = theme(fast_figure(data, layout), present, height=n_rows * (120 + min(26 * tallest, MAX_PANEL_PX)) + extra)
    return fig.update_layout(margin_t=fig.layout.margin.t + above) if above else fig


def panels_table(panels):  # list[Panel] -> DataFrame (stage, shape, row, column, value)
    """The numbers behind a stage grid, one row per cell (long format, ready for CSV)."""
    frames = []
    for p in panels:
        r, c = np.meshgrid(np.arange(len(p.rows)), np.arange(len(p.cols)), indexing="ij")
        frames.append(
            pd.DataFrame(
                {
                    "stage": p.name,
                    "shape": p.shape,
                    "row": np.asarray(p.rows, dtype=object)[r.ravel()],
                    "column": np.asarray(p.cols, dtype=object)[c.ravel()],
                    "value": p.matrix.ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def weighted_sum_text(query, weights_row, tokens, k=3):  # str, [n_seq], n_seq -> str
    """One output row spelled out: "apple: out = 0.29·v(apple) + 0.14·v(sweet) + … (9 weights, sum 1.00)"."""
    w = np.asarray(weights_row, dtype=np.float64)
    order = sorted(range(len(w)), key=lambda j: (-w[j], j))[:k]
    terms = " + ".join(f"{w[j]:.2f}·v({tokens[j]})" for j in order if w[j] > 0)
    more = " + …" if np.count_nonzero(w) > k else ""
    return f"{query}: out = {terms or '0'}{more}   ({len(w)} weights, sum {w.sum():.2f})"


STATS = {
    "max_weight": "largest softmax weight",
    "entropy": "entropy of the weights (nats)",
    "gradient": "size of softmax's gradient ‖J‖",
}


def saturation_figure(sat, stat="max_weight", present=False, d_head=None):  # Saturation -> go.Figure
    """One statistic against d_head (log axis): unscaled QKᵀ saturates, QKᵀ/√d_head stays put.
    d_head, if given, marks the current model's head size."""
    if stat not in STATS:
        raise ValueError(f"stat must be one of {list(STATS)} (got {stat!r})")
    fig = go.Figure()
    styles = {"unscaled": ("QKᵀ (no scaling)", "#d62728", "dash"), "scaled": ("QKᵀ / √d_head", "#1f77b4", "solid")}
    for kind, (name, colour, dash) in styles.items():
        fig.add_trace(
            go.Scatter(
                x=sat.d_heads,
                y=getattr(sat, stat)[kind],
                name=name,
                mode="lines+markers",
                line=dict(color=colour, dash=dash, width=3),
                hovertemplate="d_head %{x}: %{y:.3f}<extra>" + name + "</extra>",
            )
        )
    if stat == "max_weight":
        fig.add_hline(y=1.0, line_dash="dot", line_color="grey", annotation_text="one-hot (saturated)")
        fig.add_hline(y=1.0 / sat.n_keys, line_dash="dot", line_color="grey", annotation_text="uniform")
    if stat == "entropy":
        fig.add_hline(y=float(np.log(sat.n_keys)), line_dash="dot", line_color="grey", annotation_text="uniform")
    if d_head:
        top = 1.0 if stat == "max_weight" else float(max(np.max(getattr(sat, stat)[k]) for k in styles))
        fig.add_trace(  # a trace, not a shape: traces use data units on a log axis, shapes and annotations don't
            go.Scatter(
                x=[d_head, d_head], y=[0.0, top], mode="lines", name=f"this model: d_head = {d_head}",
                line=dict(color="#2ca02c", dash="dot", width=2), hoverinfo="skip",
            )
        )  # fmt: skip
    fig.update_xaxes(type="log", title="d_head (features per head)", tickvals=list(sat.d_heads))
    fig.update_yaxes(title=STATS[stat], rangemode="tozero")
    fig.update_layout(
        title=f"Softmax over {sat.n_keys} random keys as d_head grows", legend=dict(orientation="h", y=-0.25)
    )
    return theme(fig, present, height=380)


def saturation_table(sat):  # Saturation -> DataFrame, one row per d_head
    """The numbers behind the saturation chart."""
    columns = {"d_head": sat.d_heads}
    for stat in ("score_std", *STATS):
        for kind in ("unscaled", "scaled"):
            columns[f"{stat}_{kind}"] = getattr(sat, stat)[kind]
    return pd.DataFrame(columns)
