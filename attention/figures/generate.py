"""Figures for /generate: the growing attention triangle, the next-token bars before and after sampling's reshaping,
the KV cache as a picture, and every head of a layer at one step. Pure: a Generation in, plotly figures out."""

import numpy as np
import plotly.graph_objects as go

from .common import WEIGHTS_SCALE, theme, token_labels
from .heatmaps import finite, ticks

BEFORE, AFTER, CHOSEN = "#9aa5b1", "#2a6fdb", "#e4572e"


def sequence_rows(gen, layer, head, upto):  # -> [n_rows, n_rows] float: the causal matrix known after step `upto`
    """Row i is token i's attention over tokens 0..i: the prompt's rows from its own pass, then each generated
    token's row from the step that read it. Rows not computed yet are NaN, so the triangle fills in step by step."""
    n_prompt, n_new = len(gen.prompt_ids), len(gen.steps)
    n = n_prompt + n_new - 1  # the last chosen token is never read back
    z = np.full((n, n), np.nan)
    z[:n_prompt, :n_prompt] = np.where(np.tril(np.ones((n_prompt, n_prompt), bool)),
                                       gen.prompt_attention[layer, head], np.nan)  # fmt: skip
    for t in range(1, upto + 1):
        row = gen.steps[t].attention[layer, head]
        z[n_prompt + t - 1, : len(row)] = row
    return z


def triangle(gen, layer, head, upto, present=False):  # -> go.Figure: the causal attention matrix, filled to step upto
    labels = token_labels(gen.tokens[:-1])
    z = sequence_rows(gen, layer, head, upto)
    current = len(gen.prompt_ids) - 1 + upto
    fig = go.Figure(go.Heatmap(z=finite(z), x=labels, y=labels, colorscale=WEIGHTS_SCALE, zmin=0, zmax=1,
                               hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.3f}<extra></extra>",
                               colorbar=dict(title=dict(text="weight"), thickness=12), xgap=1, ygap=1))  # fmt: skip
    fig.add_shape(type="rect", x0=-0.5, x1=current + 0.5, y0=current - 0.5, y1=current + 0.5, xref="x", yref="y",
                  line=dict(color=CHOSEN, width=2))  # fmt: skip
    fig.update_xaxes(type="category", tickangle=-45, title=dict(text="key (an earlier token)"), **ticks(labels))
    fig.update_yaxes(type="category", autorange="reversed", title=dict(text="query (the token read)"), **ticks(labels))
    fig.update_layout(title=dict(text=f"Layer {layer}, head {head}: row {current} is step {upto}'s newest token"))
    return theme(fig, present, height=min(900, max(320, 22 * len(labels) + 140)))


def next_token_bars(step, title="", present=False):  # Step -> go.Figure: top-20 before and after, the choice marked
    """The model's top-20 next-token probabilities (grey) beside what temperature / top-k / top-p left of them
    (blue); the chosen token's bars are outlined and named in the title."""
    labels = token_labels(step.top_tokens)
    line = [3 if int(i) == step.id else 0 for i in step.top_ids]
    marker = dict(line=dict(color=CHOSEN, width=line))
    fig = go.Figure([
        go.Bar(y=labels, x=step.top_probs, orientation="h", name="model (before)", marker=dict(color=BEFORE, **marker),
               hovertemplate="%{y}: %{x:.3f}<extra>before</extra>"),
        go.Bar(y=labels, x=step.after_probs, orientation="h", name="reshaped (after)",
               marker=dict(color=AFTER, **marker), hovertemplate="%{y}: %{x:.3f}<extra>after</extra>"),
    ])  # fmt: skip
    inside = any(int(i) == step.id for i in step.top_ids)
    where = "" if inside else " (outside the top 20)"
    chosen = token_labels([step.token])[0]
    fig.update_layout(
        barmode="group",
        legend=dict(orientation="h", y=-0.12),
        title=dict(text=f"{title}“{chosen}”{where}, p {step.prob:.3f} → {step.prob_after:.3f}"),
    )
    fig.update_yaxes(type="category", autorange="reversed", ticksuffix=" ")
    fig.update_xaxes(title=dict(text="probability"), range=[0, 1.02])
    return theme(fig, present, height=560)


def cache_picture(gen, upto, present=False):  # -> go.Figure: what the KV cache holds after step upto
    """One row per layer's keys and one per its values, one column per position; each cell is n_kv_head × d_head
    floats. Grey: stored earlier; orange: added at this step; blank: not yet generated."""
    n_layer, _, n_kv, d_head = gen.shape
    n_prompt, n_total = len(gen.prompt_ids), len(gen.prompt_ids) + len(gen.steps) - 1
    n_seq = n_prompt + upto
    z = np.full((2 * n_layer, n_total), np.nan)
    z[:, :n_seq] = 0.0
    z[:, 0 if upto == 0 else n_seq - 1 : n_seq] = 1.0  # step 0 stores the whole prompt at once
    rows = [f"L{i} {kv}" for i in range(n_layer) for kv in ("K", "V")]
    labels = token_labels(gen.tokens[:n_total])
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=rows, colorscale=[[0, "#c9ced6"], [1, CHOSEN]], zmin=0, zmax=1,
                               showscale=False, xgap=1, ygap=1,
                               hovertemplate=f"%{{y}} of %{{x}}: {n_kv} × {d_head} floats<extra></extra>"))  # fmt: skip
    size = gen.steps[upto].cache_bytes
    fig.update_layout(title=dict(text=f"KV cache at step {upto}: 2 × {n_layer} layers × {n_kv} KV heads × {n_seq} "
                                      f"tokens × {d_head} × 4 bytes = {size:,} bytes"))  # fmt: skip
    fig.update_xaxes(type="category", tickangle=-45, range=[-0.5, n_total - 0.5], **ticks(labels))
    fig.update_yaxes(type="category", autorange="reversed", **ticks(rows, 24))
    return theme(fig, present, height=max(220, 12 * len(rows) + 160))


def heads_at_step(gen, layer, upto, present=False):  # -> go.Figure: every head's row at this step, one line each
    """Small multiples: each head of the layer as one row of the heatmap, the newest token's weights over all
    tokens before it (each row sums to 1)."""
    step = gen.steps[upto]
    weights = step.attention[layer]  # [n_head, n_seq]
    labels = token_labels(gen.tokens[: weights.shape[1]])
    heads = [f"head {h}" for h in range(weights.shape[0])]
    fig = go.Figure(go.Heatmap(z=weights, x=labels, y=heads, colorscale=WEIGHTS_SCALE, zmin=0, zmax=1, xgap=1,
                               ygap=2, colorbar=dict(title=dict(text="weight"), thickness=12),
                               hovertemplate="%{y}, key %{x}: %{z:.3f}<extra></extra>"))  # fmt: skip
    newest = token_labels(gen.tokens[: weights.shape[1]])[-1]
    fig.update_layout(title=dict(text=f"Every head of layer {layer} at step {upto}: where “{newest}” looks"))
    fig.update_xaxes(type="category", tickangle=-45, **ticks(labels))
    fig.update_yaxes(type="category", autorange="reversed")
    return theme(fig, present, height=max(240, 26 * len(heads) + 170))
