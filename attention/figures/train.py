"""The /train page's figures: the loss as it falls, attention snapshots, the induction score along the way, the
√d_head comparison and the predictions before and after training. Pure: arrays in, plotly figures out."""

import numpy as np

from .common import axis_refs, escape, fast_figure, subplot_grid, theme
from .heatmaps import attention_heatmap

BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#888888"
SMOOTH = 20  # steps in the moving average drawn over a noisy curve


def smooth(values, window=SMOOTH):  # [steps] -> [steps]: mean of the last `window` values (fewer at the start)
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    c = np.cumsum(np.concatenate([[0.0], v]))
    lo = np.maximum(np.arange(1, v.size + 1) - window, 0)
    return (c[1:] - c[lo]) / (np.arange(1, v.size + 1) - lo)


def _line(y, name, color, x=None, cell=0, dash=None, width=2, show=True):  # -> one scatter trace dict
    y = np.asarray(y, dtype=np.float32)
    x = np.arange(1, y.size + 1) if x is None else np.asarray(x)
    return dict(type="scatter", mode="lines", x=x, y=y, name=name, legendgroup=name, showlegend=show,
                line=dict(color=color, width=width, dash=dash), **axis_refs(cell))  # fmt: skip


def loss_curve(losses, steps=None, unigram=None, present=False):  # [steps done], total steps -> go.Figure
    """The training loss per step (faint) and its moving average; the unigram baseline to beat, dashed."""
    data = [_line(losses, "loss per step", GREY, width=1), _line(smooth(losses), f"mean of {SMOOTH} steps", BLUE)]
    shapes = []
    if unigram is not None:
        data.append(_line([unigram, unigram], "unigram baseline", ORANGE, x=[1, max(steps or len(losses), 2)],
                          dash="dash"))  # fmt: skip
    layout = dict(xaxis=dict(title=dict(text="step"), range=[0, max(steps or len(losses), 1)]),
                  yaxis=dict(title=dict(text="cross-entropy (nats)")), shapes=shapes,
                  legend=dict(orientation="h", y=1.12))  # fmt: skip
    return theme(fast_figure(data, layout), present, height=300)


def snapshot_heatmap(weights, tokens, step, present=False):  # [n, n] attention at one snapshot -> go.Figure
    return attention_heatmap(weights, tokens, title=f"after {step} steps", present=present)


def along_the_way(losses, snapshot_steps, induction, copy_accuracy, step, present=False):
    """Left: the loss (moving average); right: the chosen head's induction score and the model's copy accuracy at
    every snapshot. A vertical line marks the snapshot shown."""  # [steps], [n_snap], [n_snap], [n_snap] -> go.Figure
    layout = subplot_grid(1, 2, titles=("loss", "induction score and copy accuracy"), horizontal_spacing=0.08)
    data = [
        _line(smooth(losses), "loss", BLUE, cell=0),
        _line(induction, "induction score (this head)", ORANGE, x=snapshot_steps, cell=1),
        _line(copy_accuracy, "copy accuracy (the model)", GREY, x=snapshot_steps, cell=1, dash="dot"),
    ]
    for trace in data[1:]:
        trace["mode"] = "lines+markers"
    layout["shapes"] = [dict(type="line", xref=x, yref=f"{y} domain", x0=step, x1=step, y0=0, y1=1,
                             line=dict(color="black", width=1, dash="dot")) for x, y in (("x", "y"), ("x2", "y2"))]  # fmt: skip
    layout["xaxis"]["title"] = layout["xaxis2"]["title"] = dict(text="step")
    layout["yaxis2"]["range"] = [0, 1.05]
    layout["legend"] = dict(orientation="h", y=-0.3)
    return theme(fast_figure(data, layout), present, height=320)


def scaling_comparison(runs, present=False):  # {label: TrainResult-like} -> go.Figure, four panels side by side
    """The same training with and without √d_head: the gradient the softmax passes back to its input S (both
    layers), the gradient reaching W_q and W_k (before clipping), the softmax's saturation (mean largest weight),
    and the loss. Each curve is a running mean over SMOOTH steps."""
    titles = ("‖∂loss/∂S‖ out of the softmax", "‖∇W_q‖ and ‖∇W_k‖", "saturation: mean largest weight", "loss")
    layout = subplot_grid(1, 4, titles=titles, horizontal_spacing=0.06)
    data = []
    for (label, r), color in zip(runs.items(), (BLUE, ORANGE), strict=False):
        norm = lambda a: np.sqrt((np.asarray(a, dtype=np.float64) ** 2).reshape(len(a), -1).sum(axis=1))  # noqa: E731
        curves = (norm(r.softmax_grad), norm(r.grad_norm_qk), r.saturation.mean(axis=1), r.losses)  # each [steps]
        data += [_line(smooth(y), label, color, cell=i, show=i == 0) for i, y in enumerate(curves)]
    for i in range(4):
        layout[f"xaxis{i + 1 if i else ''}"]["title"] = dict(text="step")
    layout["yaxis"]["type"] = layout["yaxis2"]["type"] = "log"
    layout["yaxis3"]["range"] = [0, 1.02]
    layout["legend"] = dict(orientation="h", y=-0.3)
    return theme(fast_figure(data, layout), present, height=340)


def prediction_bars(before, after, present=False):  # [(token, p)] untrained, [(token, p)] trained -> go.Figure
    """The most probable next tokens before training (step-0 weights) and after, side by side."""
    layout = subplot_grid(1, 2, titles=("before training", "after training"), horizontal_spacing=0.15)
    data = []
    for cell, (pairs, color) in enumerate(((before, GREY), (after, BLUE))):
        words = [escape(t) for t, _ in pairs][::-1]  # the most probable on top
        probs = np.array([p for _, p in pairs][::-1], dtype=np.float32)
        data.append(dict(type="bar", orientation="h", x=probs, y=words, marker=dict(color=color), showlegend=False,
                         text=[f"{p:.3f}" for p in probs], textposition="outside",
                         hovertemplate="%{y}: %{x:.3f}<extra></extra>", **axis_refs(cell)))  # fmt: skip
    top = max([p for _, p in [*before, *after]], default=1.0)
    for x in ("xaxis", "xaxis2"):  # one scale for both, so the bars compare; room for the numbers
        layout[x].update(title=dict(text="probability"), range=[0, min(1.0, top * 1.3) or 1.0])
    for y in ("yaxis", "yaxis2"):
        layout[y]["type"] = "category"
    return theme(fast_figure(data, layout), present, height=60 + 28 * max(len(before), len(after), 3))
