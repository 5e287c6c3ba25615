"""Geometry: one head's queries and keys in one picture, and one score taken apart dimension by dimension."""

import numpy as np
import streamlit as st

from attention.figures.geometry import neuron_figure, qk_plane
from attention.geometry import joint_pca, neuron_view, top_keys
from ui import page, sidebar

NORMALISE = {
    "both": "translate keys + equal norms",
    "translate": "translate keys",
    "scale": "equal norms",
    "none": "none",
}
TOP = 3

settings = sidebar.current()
page.header(
    "Geometry: queries meet keys",
    "Every query and every key of one head, in one plane: a query sits near the keys it scores highly. "
    "Then one score, taken apart dimension by dimension.",
)
run = page.load(settings)
page.notices(run, settings)
layer, head, labels = settings.layer, settings.head, page.labels(run)
q, k = run.queries[layer, head], run.keys[layer, head]  # [n_seq, d_head]: what the scores use
weights = run.weights[layer, head]

st.subheader(f"Queries and keys of layer {layer}, head {head}")
how = page.url_choice("Normalise", list(NORMALISE), key="normalise", default="both", widget=st.segmented_control,
                      format_func=NORMALISE.get)  # fmt: skip
st.markdown(
    "**Translate keys:** the keys are moved so that their mean is the queries' mean; q·(k − c) changes a query's "
    "whole row of scores by the same q·c, and softmax ignores a constant. "
    "**Equal norms:** queries are scaled by s and keys by 1/s so both have the same mean length; q·k is unchanged."
)
query = page.token_choice("Query token", run, key="query")
proj = joint_pca(q, k, translate=how in ("both", "translate"), equalize=how in ("both", "scale"))
best = top_keys(weights[query], TOP)
page.chart(qk_plane(proj.queries, proj.keys, run.tokens, query, best, weights[query], proj.explained_variance_ratio,
                    present=settings.present), f"geometry-L{layer}-H{head}")  # fmt: skip
if run.n_seq > 40:
    st.caption(f"{run.n_seq} tokens: only the chosen query and its top keys are labelled; hover names every point.")
st.caption(f"Top keys of “{page.md_escape(labels[query])}”: "
           + ", ".join(f"“{page.md_escape(labels[j])}” {weights[query, j]:.2f}" for j in best) + ".")  # fmt: skip

st.subheader("The neuron view: one score, dimension by dimension")
st.markdown("q_i · k_j is the sum of q_i ⊙ k_j over the head's dimensions; dividing by √d_head gives the scaled "
            "score that softmax sees (BertViz).")  # fmt: skip
key_default = labels[best[0]] if best else labels[0]
key_label = page.url_choice("Key token", labels, key="key", default=key_default)
key = labels.index(key_label)
n = neuron_view(q[query], k[key])
page.chart(neuron_figure(n, labels[query], labels[key], present=settings.present), f"neuron-{query}-{key}")
if run.rope is not None:
    st.caption("This model rotates q and k by their positions (RoPE) before the score: q_i and k_j here are after "
               "the rotation, so this sum is the model's own score.")  # fmt: skip
if run.kv_heads is not None and len(set(run.kv_heads.tolist())) < run.n_head:
    shared = [h for h in range(run.n_head) if run.kv_heads[h] == run.kv_heads[head]]
    st.caption(f"Grouped-query attention: heads {', '.join(map(str, shared))} read the same keys (KV head "
               f"{run.kv_heads[head]}); only their queries differ.")  # fmt: skip
if run.similarity == "cosine":
    st.caption("This run uses cosine similarity: its scores are q·k / (‖q‖‖k‖), not the plain sum shown here.")
if run.temperature != 1.0:
    st.caption(f"Softmax divides the scaled score by the temperature {run.temperature:g} as well.")
page.csv_download(np.stack([n.query, n.key, n.product]), f"neuron-{query}-{key}", rows=["q", "k", "q*k"],
                  cols=[f"d{d}" for d in range(run.d_head)])  # fmt: skip
page.formula(
    r"q_i \cdot (k_j - c) = q_i \cdot k_j - q_i \cdot c;\quad (s\,q_i) \cdot (k_j / s) = q_i \cdot k_j;\quad"
    r"\text{score}_{ij} = \frac{1}{\sqrt{d_{head}}} \sum_{d=1}^{d_{head}} q_{id}\, k_{jd}",
    caption=f"d_head = {run.d_head}. The PCA is one fit on all {2 * run.n_seq} points (queries and keys together).",
)
