"""Heads: every head of a layer side by side, what each one looks at, and one head in detail."""

import streamlit as st

from attention.figures.heads import MAX_DETAIL, head_grid, layer_head_grid, summary_table
from attention.figures.heatmaps import attention_heatmap, block_size
from attention.internals import sink_heads
from ui import cache, internals, page, sidebar

settings = sidebar.current()
page.header(
    "Heads: several ways of looking at once",
    "Each head has its own W_q, W_k, W_v, so each can look for a different relation: "
    "the next word, the same word, the word a pronoun points to.",
)
run = page.load(settings)
page.notices(run, settings)
layer, labels = settings.layer, page.labels(run)


def head_descriptions():  # -> list[str] | None: what each lecture-preset head was built to do
    if run.model != "lecture":
        return None
    try:
        from attention.presets import head_descriptions as describe

        return list(describe(settings.preset, run.n_head))
    except (ImportError, ValueError):
        return None


names = [f"head {h}" for h in range(run.n_head)]
grouped = run.kv_heads is not None and run.n_kv_head < run.n_head  # GQA: mark each head with its KV group
titles = [f"head {h} · KV {g}" for h, g in enumerate(run.kv_heads)] if grouped else names
described = head_descriptions()
if run.n_head == 1:
    st.info("This model has a single head. Pick n_head = 4 and the *designed* weights in the sidebar to see "
            "heads that look for different things.", icon="💡")  # fmt: skip
st.subheader(f"All {run.n_head} heads of layer {layer}" if run.n_head > 1 else f"The one head of layer {layer}")
if grouped:
    st.caption(page.md_escape(internals.gqa_line(run, settings.head)))
page.chart(head_grid(run.weights[layer], run.tokens, titles=titles,
                     present=settings.present, selected=settings.head), f"heads-L{layer}")  # fmt: skip
table = summary_table(run.weights[layer], run.tokens, list(range(run.n_head)))  # 0, 1, …: never wraps
if described:
    table["built to"] = described
st.caption(
    "What each head looks at, averaged over the query tokens (shares of attention; each row of weights sums to 1)."
)
st.table(table.style.format(precision=3))  # static: no data grid to load, and presentation mode enlarges it
sinks = sink_heads(table["on the first token"].to_numpy()) if run.n_seq > 1 else []
if sinks:
    named = ", ".join(f"head {h} ({share:.0%})" for h, share in sinks)
    st.markdown(f"**Attention sinks in layer {layer}:** {named} put most of their weight on the first token. "
                "A head with nothing to look for parks its attention there: the softmax must give its weight somewhere.")  # fmt: skip
elif run.model != "lecture" and run.n_seq > 1:
    st.caption(f"No head of layer {layer} puts most of its weight on the first token: no attention sinks here.")
page.csv_download(table, f"heads-summary-L{layer}")

if run.n_layer > 1 or run.n_head > 1:
    entropy = cache.get_mean_entropy(settings)
    page.chart(layer_head_grid(entropy, present=settings.present, selected=(layer, settings.head)),
               "heads-entropy-overview")  # fmt: skip
    st.caption("Low entropy: the head looks at one or two words. High (up to log₂ n_seq bits): it spreads evenly.")
    page.csv_download(entropy, "heads-entropy", rows=[f"layer {i}" for i in range(run.n_layer)],
                      cols=[f"head {h}" for h in range(run.n_head)])  # fmt: skip


def pick_head():  # the page's head picker drives the sidebar's head
    st.session_state["sb_head"] = st.session_state["heads_pick"]


st.session_state["heads_pick"] = settings.head
st.subheader("One head in detail")
st.segmented_control(
    "Head", list(range(run.n_head)), key="heads_pick", on_change=pick_head, format_func=names.__getitem__
)
weights = run.weights[layer, settings.head]
page.chart(attention_heatmap(weights, run.tokens, title=f"Head {settings.head} · layer {layer}",
                             present=settings.present, max_side=MAX_DETAIL), f"head-L{layer}-H{settings.head}")  # fmt: skip
if run.n_seq > MAX_DETAIL:
    size = block_size(run.n_seq, MAX_DETAIL)
    st.caption(f"{run.n_seq} tokens: each cell is the mean of {size} × {size} tokens, so a cell is still a few pixels "
               "wide. The Scores page draws every cell, and the CSV below holds every weight.")  # fmt: skip
page.csv_download(weights, f"weights-L{layer}-H{settings.head}", rows=labels, cols=labels)
page.formula(
    r"\text{MultiHead}(X) = \text{Concat}(\text{head}_1, \dots, \text{head}_h)\,W_o,\quad"
    r"\text{head}_i = \operatorname{softmax}\!\left(\frac{X W_q^{(i)} (X W_k^{(i)})^\top}{\sqrt{d_{head}}}\right) X W_v^{(i)}",
    caption=f"Entropy of a row = −Σ w log₂ w. Here n_head = {run.n_head}, d_head = {run.d_head}, d_model = {run.d_model}.",
)
page.state_downloads(run, "attention-run")
