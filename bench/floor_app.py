"""The floor: the least a Streamlit app can do for our kind of view. One plotly heatmap, one slider.

    streamlit run bench/floor_app.py        (open /?n=128 for a 128 x 128 heatmap; default 9)

The dashboard is timed against this app in the same benchmark run: a ratio near 1 means the dashboard
costs no more than Streamlit and plotly themselves.

Two parameters add, one at a time, what a dashboard page has and the floor has not (bench/anatomy.py times them):
  ?controls=sidebar   the dashboard's sidebar for the lecture model: the same widget kinds, in the same number
                      and order (ui/sidebar.py; tests/test_bench_smoke.py checks it), none of them wired to anything;
  ?charts=K           K heatmaps instead of one (at most 8), each its own chart, as a page with K charts draws them.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

try:
    n_seq = min(max(int(st.query_params.get("n", "9")), 2), 512)
    n_charts = min(max(int(st.query_params.get("charts", "1")), 1), 8)
except ValueError:
    n_seq, n_charts = 9, 1

temperature = st.slider("Temperature", 0.1, 5.0, 1.0, step=0.1)
scores = np.random.default_rng(0).standard_normal((n_seq, n_seq)).astype(np.float32)  # [n_seq, n_seq]
e = np.exp((scores - scores.max(axis=-1, keepdims=True)) / temperature)
weights = e / e.sum(axis=-1, keepdims=True)
labels = np.array([f"t{i}" for i in range(n_seq)], dtype=object)
for i in range(n_charts):
    z = weights if i == 0 else np.roll(weights, i, axis=1)
    st.plotly_chart(go.Figure(go.Heatmap(z=z, x=labels, y=labels, colorscale="Viridis")), width="stretch")

if st.query_params.get("controls") == "sidebar":  # drawn after the chart, as the dashboard draws its sidebar
    with st.sidebar:
        st.selectbox("Example sentence", ["(your own)", "the cat saw the dog"])
        st.text_area("Sentence", "the cat saw the dog", max_chars=4000, height=90)
        st.selectbox("Model", ["lecture", "minilm"], help="the model")
        st.caption("the lecture model: 1 layer, 1 head, d_model 12")
        c1, c2 = st.columns(2)
        c1.selectbox("n_head", [1, 2, 3, 4], help="heads")
        c2.selectbox("Weights", ["meaning", "random"], help="how W_q, W_k, W_v are chosen")
        st.slider("α (pull strength)", 0.0, 1.0, 0.5, step=0.05)
        st.slider("Steps (layers)", 1, 6, 1)
        st.toggle("Causal mask (decoder)", help="each token sees only itself and earlier ones")
        st.slider("Temperature ", 0.1, 5.0, 1.0, step=0.1, help="softmax(scores / T)")  # a space: not the main one
        st.radio("Similarity", ["dot", "cosine"], horizontal=True)
        c1, c2 = st.columns(2)
        c1.selectbox("Layer", [0])
        c2.selectbox("Head", [0])
        st.toggle("Presentation mode", help="bigger fonts and figures; controls collapsed")
        st.expander("Share this view")  # the dashboard's opens lazily: nothing inside until opened
        st.segmented_control("Chart camera saves", ["png", "svg"], default="png", format_func=str.upper)
