"""Flow: value-weighted attention, rollout through the layers, and what switching one head off changes."""

import numpy as np
import pandas as pd
import streamlit as st

from attention.figures.flow import effect_grid, rollout_figure, value_pair
from attention.flow import small_value_tokens
from ui import flow_cache, page, sidebar

AUTO_GRID = 6 * 12 * 32  # n_layer · n_head · n_seq up to which the ablation grid is computed without a click
VIEWS = {"head": "this head", "layer": "all heads of the layer"}

settings = sidebar.current()
page.header(
    "Flow: beyond the raw weights",
    "A weight on a word whose value vector is tiny moves almost nothing, and information also flows through the "
    "layers. Here: attention weighted by the size of what it moves, where a word's information comes from after "
    "all layers, and how much each head matters.",
)
run = page.load(flow_cache.full_settings(settings))
page.notices(run, settings)
if settings.hide_special:
    st.info("Special tokens are kept on this page: value norms, rollout and ablation describe what the model "
            "computed with them.", icon="ℹ️")  # fmt: skip
layer, head, labels = settings.layer, settings.head, page.labels(run)

# ---------------------------------------------------------------- value-weighted attention
st.subheader("Raw weights and value-weighted attention")
st.markdown(
    "Each key j sends f(x_j) = (x_j W_v + b_v) W_o through a head. The right map shows ‖α_ij f(x_j)‖: the weight "
    "times the length of what it carries (Kobayashi et al. 2020)."
)
view = page.url_choice("Show", list(VIEWS), key="flow_view", default="head", widget=st.segmented_control,
                       format_func=VIEWS.get)  # fmt: skip
with st.spinner("Computing value norms…"):
    per_head, per_layer, sizes = flow_cache.layer_flow(settings, layer)
if view == "head":
    raw, weighted, where = run.weights[layer, head], per_head[head], f"layer {layer}, head {head}"
    sent = sizes[head]
else:  # the layer: raw = the heads' mean weight, value-weighted = ‖Σ_h α f‖
    raw, weighted, where = run.weights[layer].mean(axis=0), per_layer, f"layer {layer}, all {run.n_head} heads"
    sent = sizes.mean(axis=0)
page.chart(value_pair(raw, weighted, run.tokens, title=where, present=settings.present), f"flow-values-L{layer}")
small = small_value_tokens(sent, labels)
if small:
    shown = ", ".join(f"“{page.md_escape(t)}” ({r:.2f}×)" for t, r in small[:12]) + (" …" if len(small) > 12 else "")
    st.markdown(f"Small values here (‖f(x_j)‖ below half the median): {shown}. Attention on them moves little.")
else:
    st.markdown("No token's ‖f(x_j)‖ is below half the median here: the weights tell most of the story.")
page.csv_download(weighted, f"value-norms-L{layer}-{view}", rows=labels, cols=labels)

# ---------------------------------------------------------------- rollout
st.subheader("Rollout: where a token's information comes from")
st.markdown(
    "Rollout (Abnar & Zuidema 2020) averages each layer's heads, adds the residual stream as ½·I, and multiplies "
    "the layers: row l shows which input tokens have reached the chosen token after layer l (each row sums to 1)."
)
token = page.token_choice("Token", run, key="token")
with st.spinner("Rolling out…"):
    rolled = flow_cache.rollout(settings)
page.chart(rollout_figure(rolled, run.tokens, token, present=settings.present), f"rollout-{token}")
last = rolled[-1, token]
top = np.argsort(-last, kind="stable")[:3]
st.caption("After the last layer: " + ", ".join(f"“{page.md_escape(labels[j])}” {last[j]:.2f}" for j in top) + ".")
page.csv_download(rolled[:, token], f"rollout-{token}", rows=[f"after layer {i}" for i in range(run.n_layer)],
                  cols=labels)  # fmt: skip

# ---------------------------------------------------------------- ablation
st.subheader("Switching a head off")
ablation = flow_cache.ablation(*flow_cache.key(settings), token)
nexts = run.predictions is not None and run.predictions.kind == "next"  # decoders; MLM encoders predict each token
said = page.md_escape(labels[token])
what = {"kl": f"the next-token prediction after “{said}”" if nexts else f"the model's prediction at “{said}”",
        "cosine": "the sentence embedding (mean of all tokens' final states)", "pull": f"the pull on “{said}”"
        }[ablation.kind]  # fmt: skip
st.markdown(f"A head is switched off by zeroing its slice of the concatenation before W_o; the layers above are "
            f"recomputed. The effect is measured on {what}: {ablation.label}.")  # fmt: skip
wanted = run.n_layer * run.n_head * run.n_seq <= AUTO_GRID
if not wanted:
    st.caption(f"At {run.n_seq} tokens the grid reruns the model {run.n_layer * run.n_head} times (up to a minute "
               "here), so it waits until you switch it on. One head at a time is below.")  # fmt: skip
    wanted = st.toggle("Compute the grid for long inputs", key="flow_grid")
if wanted:
    with st.spinner(f"Switching off each of {run.n_layer * run.n_head} heads in turn…"):
        effects = flow_cache.grid(settings, token)
    page.chart(effect_grid(effects, ablation.label, (layer, head), settings.present), "ablation-grid")
    page.csv_download(effects, "ablation-grid", rows=[f"layer {i}" for i in range(run.n_layer)],
                      cols=[f"head {h}" for h in range(run.n_head)])  # fmt: skip

heads = [f"layer {i} · head {h}" for i in range(run.n_layer) for h in range(run.n_head)]
off = page.url_choice("Head to switch off", heads, key="off", default=f"layer {layer} · head {head}")
off_layer, off_head = divmod(heads.index(off), run.n_head)
effect, before, after = flow_cache.one_head(settings, token, off_layer, off_head)
st.metric(f"{off} off: {ablation.label}", f"{effect:.4f}")
if before is not None:
    table = pd.DataFrame({"with the head": [f"{t} {p:.3f}" for t, p in before],
                          "without it": [f"{t} {p:.3f}" for t, p in after]})  # fmt: skip
    st.caption(f"The model's top next tokens after “{said}”, probability:" if nexts else
               f"The model's top tokens for the position of “{said}” (masked-LM head), probability:")  # fmt: skip
    st.table(table)

page.formula(
    r"\|\alpha^h_{ij} f^h(x_j)\|,\ f^h(x) = (x W_v^h + b_v^h)\,W_o^h;\quad"
    r"\tilde A_l = \operatorname{rownorm}\!\left(\tfrac12 \bar A_l + \tfrac12 I\right),\ R_l = \tilde A_l R_{l-1};\quad"
    r"\mathrm{KL}(p\,\|\,q) = \sum_v p_v \log \frac{p_v}{q_v}",
    caption="x_j is the input of the layer's projections (after any pre-norm); W_o^h are head h's rows of W_o; "
    "Ā_l is the mean of layer l's heads; ½·I stands for the residual stream.",
)
