"""Page parts for what a model predicts and what modern decoders add (RoPE, grouped-query attention, RMSNorm,
SwiGLU): shared by Overview, Scores, Steps and Heads, so each page stays a recipe."""

import numpy as np
import streamlit as st

from attention.figures.predictions import SHOWN, prediction_bars, prediction_rows, shift_figure
from attention.figures.steps import CLIPPED_NOTE, Panel, is_clipped, stage_grid
from attention.internals import before_rope, kv_groups, shifted_scores
from ui import cache, page

MASK_HINT = "Type [MASK] (BERT, DistilBERT) or <mask> (RoBERTa) into the sentence: the bars show what the model would put there."  # fmt: skip
SHIFTS = np.arange(0, 33, 4)  # positions the RoPE shift test moves the pair by


def prediction_panel(run, position, present=False, k=SHOWN, name="predictions"):
    """The top-k predictions at `position` as bars (decoders: the next token; MLM: the fill of a [MASK]), or why
    there are none."""
    pred = run.predictions
    if pred is None:
        st.info(page.md_escape(run.predictions_note or "This model has no output head: it predicts nothing."))
        return
    if pred.kind == "mask":
        masks = [int(p) for p in pred.mask_positions]
        if not masks:
            st.info(MASK_HINT, icon="🎭")
            return
        if position not in masks:
            st.caption(f"“{page.md_escape(page.labels(run)[position])}” is not a mask; the bars show the first mask's fills.")  # fmt: skip
            position = masks[0]
    page.chart(prediction_bars(pred, position, run.tokens, k=k, present=present), f"{name}-{position}")
    page.csv_download(prediction_rows(pred, position, k=20), f"{name}-{position}")


def last_prediction(run, present=False):
    """Overview: what a decoder predicts after the whole sentence (or an MLM's first [MASK]), in words and bars."""
    pred = run.predictions
    if pred is None or (pred.kind == "mask" and not len(pred.mask_positions)):
        return
    position = run.n_seq - 1 if pred.kind == "next" else int(pred.mask_positions[0])
    top = ", ".join(f"**{page.md_escape(t)}** ({p:.0%})" for t, p in zip(pred.top_tokens[position][:3],
                                                                       pred.top_probs[position, :3], strict=True))  # fmt: skip
    where = "after the whole sentence" if pred.kind == "next" else "in place of the mask"
    st.markdown(f"What the model predicts {where}: {top}. Change a word in the sentence and watch it change.")
    page.chart(prediction_bars(pred, position, run.tokens, k=5, present=present), "overview-prediction")


def gqa_line(run, head):  # -> str | None: which query heads share the chosen head's keys and values
    if run.kv_heads is None or run.n_kv_head == run.n_head:
        return None
    groups = kv_groups(run.kv_heads, run.n_head)
    g = int(run.kv_heads[head])
    shares = "; ".join(f"KV head {i}: query heads {', '.join(map(str, hs))}" for i, hs in enumerate(groups))
    return (f"Grouped-query attention: {run.n_head} query heads share {run.n_kv_head} key/value heads ({shares}). "
            f"Head {head} reads KV head {g}, so its keys and values are the same as those of heads "
            f"{', '.join(map(str, groups[g]))}; only its queries are its own.")  # fmt: skip


def rope_section(run, layer, head, query, present=False):
    """RoPE: this head's q and k before and after rotation, and the shift test (score depends on i − j only)."""
    if run.rope is None:
        return
    st.subheader("Rotary position embeddings (RoPE)")
    st.markdown(
        "This model adds no position vector to the embeddings. Instead each query and key is **rotated**: pair of "
        "features *p* turns by the angle position × θ_p. Turning q by iθ and k by jθ leaves q·k depending on the "
        "difference of the angles, (i − j)θ: the score sees how far apart two tokens are, not where they are."
    )
    labels = page.labels(run)
    q0, k0 = before_rope(run, layer, head)
    cols = [str(d) for d in range(run.d_head)]
    panels = [Panel("q before RoPE", q0, labels, cols, "[n_seq, d_head]"),
              Panel("q after RoPE", run.queries[layer, head], labels, cols, "[n_seq, d_head]"),
              Panel("k before RoPE", k0, labels, cols, "[n_seq, d_head]"),
              Panel("k after RoPE", run.keys[layer, head], labels, cols, "[n_seq, d_head]")]  # fmt: skip
    fig = stage_grid(panels, n_cols=2, present=present)
    page.chart(fig, f"rope-L{layer}-H{head}")
    clip_caption([fig])
    options = page.labels(run)  # the key starts a few tokens before the query: a distance to keep
    key = options.index(
        page.url_choice("Key token for the shift test", options, "rope_key", default=options[max(0, query - 3)])
    )
    i, j = int(run.positions[query]), int(run.positions[key])
    together, apart = shifted_scores(q0[query], k0[key], run.rope, i, j, SHIFTS)
    page.chart(shift_figure(SHIFTS, together, apart, i, j, present=present), f"rope-shift-L{layer}-H{head}")
    st.caption(
        f"“{page.md_escape(labels[query])}” (position {i}) and “{page.md_escape(labels[key])}” (position {j}): moved "
        f"together by up to {SHIFTS[-1]} positions, their score stays {together[0]:.4f} (spread "
        f"{np.ptp(together):.1e}); moving only the query changes it from {apart.min():.3f} to {apart.max():.3f}."
    )


TRACE_STEPS = {  # family -> (section title, [(trace key, panel name)])
    "rms": [("RMSNorm before attention: x / rms(x) · g", [("input", "x"), ("rms1", "rms(x) = √(mean x² + ε)"), ("normed1", "RMSNorm(x)")]),
            ("Residual and RMSNorm before the MLP", [("attn_out", "attention out"), ("mid", "x + attention"),
                                                     ("rms2", "rms"), ("normed2", "RMSNorm")]),
            ("SwiGLU MLP: down(silu(gate) · up)", [("gate", "gate"), ("up", "up"), ("act", "silu(gate)"),
                                                   ("product", "silu(gate) · up"), ("down", "down"), ("output", "output")])],
    "ln": [("LayerNorm and the residual", [("input", "x"), ("attn_out", "attention out"), ("mid", "after residual"),
                                           ("normed2", "LayerNorm")]),
           ("GELU MLP", [("ff_in", "up"), ("act", "GELU(up)"), ("ff_out", "down"), ("output", "output")])],
}  # fmt: skip


def clip_caption(figs):  # under stage grids: what a * after a panel's name means (its colours clipped), if any
    if any(is_clipped(fig) for fig in figs):
        st.caption(CLIPPED_NOTE)


def trace_sections(settings, run, layer, present=False):
    """/steps for a real model: the rest of the layer (norms, MLP) with its own numbers (models.layer_trace)."""
    try:
        trace, special = cache.get_trace(settings, layer)
    except ValueError as err:
        st.warning(page.md_escape(err), icon="✋")
        return
    keep = ~special if len(special) != run.n_seq else np.ones(run.n_seq, dtype=bool)
    rows = page.labels(run)
    st.subheader(f"Inside layer {layer}: the norms and the MLP around attention")
    st.caption("The model's own numbers at temperature 1 with dot-product scores (the trained settings). "
               "Each token goes through these steps alone: no token looks at another here.")  # fmt: skip
    figs = []  # every grid, for one line under them all on what a * after a name means
    for title, steps in TRACE_STEPS["rms" if "rms1" in trace else "ln"]:
        panels, strips = [], []  # strips: one number per token (the rms), drawn as a row under the matrices
        for key, name in steps:
            if key not in trace:
                continue
            m = trace[key][keep]
            if m.ndim == 1:
                strips.append(Panel(name, m[None], ["rms"], rows, "[1, n_seq]"))
            else:
                panels.append(Panel(name, m, rows, [str(d) for d in range(m.shape[1])], f"[n_seq, {m.shape[1]}]"))
        st.markdown(f"**{title}**")
        figs.append(stage_grid(panels, n_cols=min(3, len(panels)), present=present))
        page.chart(figs[-1], f"steps-trace-{key}")
        for strip in strips:
            figs.append(stage_grid([strip], present=present))
            page.chart(figs[-1], f"steps-trace-{strip.name}")
    clip_caption(figs)
