"""Scores: one head's query × key matrix at each stage, from raw QKᵀ to softmax weights."""

import streamlit as st

from attention.figures.heatmaps import MAX_TICKS, STAGE_TITLES, row_bars, stage_heatmap
from attention.run import stages
from ui import internals, page, sidebar

VIEWS = {"raw": "raw QKᵀ", "scaled": "÷ √d_head", "masked": "masked", "weights": "softmax weights", "all": "all four"}
ALL_UP_TO = 128  # n_seq up to which the four stages are shown side by side unless the link says otherwise


@st.fragment
def query_row(run, weights, labels, settings):  # weights [n_seq, n_seq]: one query's row, with its token picker
    """Picking another query token reruns only this part (st.fragment): its bars and predictions, not the heatmaps."""
    with st.columns([2, 3])[0]:
        query = page.token_choice("Query token (the word that looks)", run, key="query")
    left, right = st.columns([3, 2], gap="medium")
    with left:
        page.chart(row_bars(weights[query], run.tokens, query, present=settings.present), f"row-{query}-weights")
        page.csv_download(page.table(weights[query], labels, ["weight"]), f"row-{query}-weights")
    with right:
        internals.prediction_panel(run, query, present=settings.present)
    internals.rope_section(run, settings.layer, settings.head, query, present=settings.present)
    sidebar.sync_url()  # a fragment's own rerun skips app.py, which otherwise writes the link


settings = sidebar.current()
page.header(
    "Scores: every query meets every key",
    "Each word asks a question (its query) and every word holds up a label (its key). "
    "The better they match, the higher the score, and softmax turns each row of scores into weights that add up to 1.",
)
run = page.load(settings)
labels = page.labels(run)
default = "all" if run.n_seq <= ALL_UP_TO else "weights"  # four n_seq² heatmaps are slow to draw past that
view = page.url_choice("Stage", list(VIEWS), key="stage", default=default, widget=st.segmented_control,
                       format_func=VIEWS.get)  # fmt: skip
notice_slot = st.container()  # filled at the end, once the query picker below has read the link too
head = stages(run, settings.layer, settings.head)  # raw, scaled, masked, weights for this one head
where = f"layer {settings.layer}, head {settings.head}"
if run.n_seq > ALL_UP_TO:
    st.caption(f"{run.n_seq} tokens: one stage at a time opens faster; “all four” draws four {run.n_seq} × "
               f"{run.n_seq} heatmaps. Axes name every {page.ordinal(-(-run.n_seq // MAX_TICKS))} token; hover names each one.")  # fmt: skip
if gqa := internals.gqa_line(run, settings.head):
    st.caption(gqa)
if run.mask is None and view in ("masked", "all"):
    st.caption("No mask is on, so masked = scaled. Turn on the causal mask in the sidebar to hide future tokens.")
if run.similarity == "cosine" and view in ("scaled", "all"):
    st.caption("Cosine scores already lie in [-1, 1], so they are not divided by √d_head (scale = 1).")

shown = list(STAGE_TITLES) if view == "all" else [view]
columns = st.columns(2) if view == "all" else [st.container()]
for i, stage in enumerate(shown):
    with columns[i % len(columns)]:
        fig = stage_heatmap(head, stage, run.tokens, present=settings.present,
                            title=f"{STAGE_TITLES[stage]} · {where}",
                            show_text=run.n_seq <= (10 if view == "all" else 16))  # fmt: skip
        page.chart(fig, f"scores-{stage}-L{settings.layer}-H{settings.head}")
        matrix = {"raw": head.scores, "scaled": head.scaled, "masked": head.masked, "weights": head.weights}[stage]
        page.csv_download(matrix[0], f"scores-{stage}-L{settings.layer}-H{settings.head}", rows=labels, cols=labels)

query_row(run, head.weights[0], labels, settings)
with notice_slot:
    page.notices(run, settings)
page.formula(
    r"\text{scores} = QK^\top,\quad \text{scaled} = \frac{QK^\top}{\sqrt{d_{head}}},\quad"
    r"\text{weights} = \operatorname{softmax}\!\left(\frac{\text{mask}(\text{scaled})}{T}\right)",
    caption=f"d_head = {run.d_head}, so √d_head = {run.d_head**0.5:.2f}; temperature T = {run.temperature:g}. "
    "The mask puts −∞ where a query may not look; softmax turns −∞ into a weight of exactly 0.",
)
page.state_downloads(run, "attention-run")
