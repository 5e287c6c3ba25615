"""The floor: the least a Streamlit app can do for our kind of view. One plotly heatmap, one slider.

    streamlit run bench/floor_app.py        (open /?n=128 for a 128 x 128 heatmap; default 9)

The dashboard is timed against this app in the same benchmark run: a ratio near 1 means the dashboard
costs no more than Streamlit and plotly themselves.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

try:
    n_seq = min(max(int(st.query_params.get("n", "9")), 2), 512)
except ValueError:
    n_seq = 9

temperature = st.slider("Temperature", 0.1, 5.0, 1.0, step=0.1)
scores = np.random.default_rng(0).standard_normal((n_seq, n_seq)).astype(np.float32)  # [n_seq, n_seq]
e = np.exp((scores - scores.max(axis=-1, keepdims=True)) / temperature)
weights = e / e.sum(axis=-1, keepdims=True)
labels = np.array([f"t{i}" for i in range(n_seq)], dtype=object)
st.plotly_chart(go.Figure(go.Heatmap(z=weights, x=labels, y=labels, colorscale="Viridis")), width="stretch")
