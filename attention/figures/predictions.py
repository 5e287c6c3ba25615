"""What the model predicts at one position (top-k bars), and RoPE's shift test as a small line chart.

prediction_bars(run.predictions, position, run.tokens).show()
"""

import numpy as np
import pandas as pd

from .common import escape, fast_figure, theme, token_labels

SHOWN = 10  # bars drawn of the 20 kept


def prediction_rows(pred, position, k=SHOWN):  # Predictions, int -> DataFrame: rank, token, probability
    """The top-k predictions at `position`, most probable first, as the bars show them."""
    tokens = pred.top_tokens[position][:k]
    return pd.DataFrame(
        {"token": tokens, "probability": np.round(pred.top_probs[position, :k].astype(np.float64), 4)},
        index=pd.RangeIndex(1, len(tokens) + 1, name="rank"),
    )


def what(pred, position, tokens):  # -> str: what the bars at `position` are, in words (escaped for figures)
    word = token_labels(tokens)[position]
    return f"Token after “{word}”" if pred.kind == "next" else f"Fill for “{word}” (position {position})"


def prediction_bars(pred, position, tokens, k=SHOWN, present=False, title=None):  # Predictions, int, n_seq -> Figure
    """The top-k tokens the model predicts at `position`, as horizontal bars of their probabilities."""
    probs = pred.top_probs[position, :k].astype(np.float64)
    labels = token_labels(pred.top_tokens[position][:k])  # unique: plotly would merge equal category labels
    bars = dict(
        type="bar",
        orientation="h",
        x=probs,
        y=np.array(labels, dtype=object),
        text=[f"{p:.1%}" for p in probs],
        textposition="outside",
        cliponaxis=False,
        marker=dict(color=np.where(np.arange(len(labels)) == 0, "#e45756", "#4c78a8")),
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    )
    entropy = float(pred.entropy[position]) / np.log(2)
    layout = dict(
        title=dict(text=title or f"{what(pred, position, tokens)} · entropy {entropy:.2f} bits"),
        showlegend=False,
        xaxis=dict(title=dict(text="probability"), range=[0, min(1.0, probs.max() * 1.25 + 0.02)]),
        yaxis=dict(type="category", autorange="reversed", title=dict(text="")),
    )
    return theme(fast_figure([bars], layout), present, height=90 + 26 * len(labels))


def shift_figure(shifts, together, apart, i, j, present=False):  # [n], [n], [n], positions -> Figure
    """RoPE's shift test: the same q and k moved together keep their score; moved apart, it changes."""
    shifts = np.asarray(shifts)
    lines = [
        dict(type="scatter", mode="lines+markers", x=shifts, y=np.asarray(together, np.float64),
             name=f"both moved: positions ({i}+s, {j}+s), distance {i - j}", line=dict(color="#4c78a8")),
        dict(type="scatter", mode="lines+markers", x=shifts, y=np.asarray(apart, np.float64),
             name=f"only the query moved: ({i}+s, {j}), distance {i - j}+s", line=dict(color="#e45756", dash="dot")),
    ]  # fmt: skip
    layout = dict(
        title=dict(text=escape("The same q and k content at shifted positions: q·k")),
        xaxis=dict(title=dict(text="shift s (positions)")),
        yaxis=dict(title=dict(text="q·k after rotation")),
        legend=dict(orientation="h", y=-0.3),
    )
    return theme(fast_figure(lines, layout), present, height=360)
